"""Errors of the script host.

    PosguardError
    └── ScriptingError
        ├── ScriptLoadError     a script file cannot be read or compiled
        └── ScriptApiError      a script called the API wrongly (also a TypeError, so
                                scripts that catch TypeError keep working)
"""

from __future__ import annotations

from posguard.errors import PosguardError

__all__ = ["ScriptingError", "ScriptLoadError", "ScriptApiError"]


class ScriptingError(PosguardError):
    """Base class of the script host's errors."""


class ScriptLoadError(ScriptingError):
    """A script file cannot be read or compiled."""


class ScriptApiError(ScriptingError, TypeError):
    """A script called an API function with arguments it cannot use."""
