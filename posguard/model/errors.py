"""Errors of the functional core (see posguard.errors for the whole tree)."""

from posguard.errors import PosguardError


class ModelError(PosguardError):
    """Base of the model package's errors."""


class DecodeError(ModelError):
    """Bytes that do not decode into the expected structure."""


class TimeArgumentError(ModelError):
    """A time bound that is neither seconds nor microseconds since the epoch."""
