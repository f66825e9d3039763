"""Errors of the detectors package (see posguard.errors for the whole tree).

    PosguardError
    └── DetectorError
        ├── ConfigError      a detector configuration that is not valid (line and reason)
        └── StateError       bytes that are not a detector state of this engine
"""

from __future__ import annotations

from posguard.errors import PosguardError

__all__ = ["DetectorError", "ConfigError", "StateError"]


class DetectorError(PosguardError):
    """Base of the detectors package's errors."""


class ConfigError(DetectorError):
    """A detector configuration refused, with the line (when known) and the reason.

    Attributes:
        line: 1-based line of the XML document the problem is on, or None.
        reason: what is wrong, without the line prefix.
        param: the detector parameter concerned, when there is one.
    """

    def __init__(self, reason: str, line: int | None = None, *, param: str = "") -> None:
        self.line = line
        self.reason = reason
        self.param = param
        super().__init__(f"line {line}: {reason}" if line else reason)


class StateError(DetectorError):
    """Bytes that do not decode into a detector scope state."""
