"""The report types: `ReportType` (re-exported by pos_utils for scripts) and name parsing."""

from __future__ import annotations

from enum import StrEnum

from posguard.reports.errors import UnknownReportType

__all__ = ["ReportType", "parse_report_type", "REPORT_TITLES"]


class ReportType(StrEnum):
    """What a report is about. Scripts pass `ReportType.VIOLATIONS_REPORT`; the CLI and the
    API use the value (`violations`), and accept the member name too.

    Example:
        >>> parse_report_type("VIOLATIONS_REPORT") is parse_report_type("violations")
        True
    """

    VIOLATIONS_REPORT = "violations"
    CANCELLED_POSITIONS_REPORT = "cancelled-positions"
    DISCOUNTS_REPORT = "discounts"
    AVERAGE_RECEIPT_REPORT = "average-receipt"
    CASHIER_ACTIVITY_REPORT = "cashier-activity"
    TERMINAL_SUMMARY_REPORT = "terminal-summary"


REPORT_TITLES: dict[ReportType, str] = {
    ReportType.VIOLATIONS_REPORT: "Violations report",
    ReportType.CANCELLED_POSITIONS_REPORT: "Cancelled positions report",
    ReportType.DISCOUNTS_REPORT: "Discounts report",
    ReportType.AVERAGE_RECEIPT_REPORT: "Average receipt report",
    ReportType.CASHIER_ACTIVITY_REPORT: "Cashier activity report",
    ReportType.TERMINAL_SUMMARY_REPORT: "Terminal summary report",
}


def parse_report_type(name: str | ReportType) -> ReportType:
    """A ReportType from its value (`cashier-activity`), its member name
    (`CASHIER_ACTIVITY_REPORT`) or a short name (`cashier_activity`), any case.

    Raises:
        UnknownReportType: the name matches no report; the message lists the known ones.
    """
    if isinstance(name, ReportType):
        return name
    key = str(name).strip().lower().replace("_", "-")
    for rt in ReportType:
        if key in (rt.value, rt.name.lower().replace("_", "-"),
                   rt.name.lower().replace("_", "-").removesuffix("-report")):
            return rt
    known = ", ".join(rt.value for rt in ReportType)
    raise UnknownReportType(f"unknown report type {str(name)[:80]!r}; known: {known}")
