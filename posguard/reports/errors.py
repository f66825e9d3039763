"""Errors of the reports package (see posguard.errors for the whole tree).

    ReportError
    ├── UnknownReportType   a report name that is not one of ReportType
    ├── ReportWriteError    the ODS file could not be produced or read back
    └── ReportOutputError   the file cannot be saved where asked (exists, bad path)
"""

from posguard.errors import PosguardError

__all__ = ["ReportError", "UnknownReportType", "ReportWriteError", "ReportOutputError"]


class ReportError(PosguardError):
    """Base of the reports package's errors."""


class UnknownReportType(ReportError):
    """A report name that is not one of ReportType."""


class ReportWriteError(ReportError):
    """The ODS document could not be written or read back."""


class ReportOutputError(ReportError):
    """The report cannot be saved where asked: the file exists, the folder is missing, ..."""
