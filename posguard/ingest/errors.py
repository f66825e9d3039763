"""Errors of the ingest package (see posguard.errors for the whole tree).

    IngestError
    ├── FieldError          one field of an incoming event cannot be converted (internal:
    │                       parsers turn it into a Rejected, it never leaves a parser)
    ├── RegistryError       a bad terminal entry or a conflict in the terminal registry
    │   ├── TerminalExists  adding a terminal whose GUID is registered already
    │   └── UnknownTerminal no terminal with that GUID
    ├── DefinitionError     a printer transaction definition that cannot be used
    └── SpoolError          the local spool cannot be written or read
        └── SpoolFull       the spool reached its size limit: new input is refused
"""

from posguard.errors import PosguardError

__all__ = ["IngestError", "FieldError", "RegistryError", "TerminalExists", "UnknownTerminal",
           "DefinitionError", "SpoolError", "SpoolFull"]


class IngestError(PosguardError):
    """Base of the ingest package's errors."""


class FieldError(IngestError, ValueError):
    """A field value of an incoming event that cannot be converted.

    Args:
        message: what is wrong.
        code: the reject code the parser reports it under (see ingest.rejects).
    """

    def __init__(self, message: str, code: str = "bad_field"):
        super().__init__(message)
        self.code = code


class RegistryError(IngestError):
    """A bad terminal entry, or one that conflicts with the registry."""


class TerminalExists(RegistryError):
    """A terminal is added with the GUID of one already registered."""


class UnknownTerminal(RegistryError):
    """No terminal with that GUID is registered."""


class DefinitionError(IngestError):
    """A printer transaction definition that is malformed."""


class SpoolError(IngestError):
    """The local spool cannot be written or read."""


class SpoolFull(SpoolError):
    """The broker is away and the spool holds its configured maximum: new input is refused
    (nothing was taken from the call that raised it)."""
