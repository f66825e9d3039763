"""Errors of the console shell (see posguard.errors for the whole tree)."""

from posguard.errors import PosguardError


class ConsoleError(PosguardError):
    """Base of the console package's errors."""


class SettingsError(ConsoleError):
    """A bad flag, environment variable or config file value."""


class ApiError(ConsoleError):
    """The node's HTTP API refused a request or cannot be reached."""
