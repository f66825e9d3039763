"""Reports: ClickHouse queries (queries.py) and the ODS writer (ods.py) behind one call,
`generate_report(backend, ReportType.X, t0_us, t1_us, store=None, tz="UTC") -> bytes`;
`report_timezone(...)` picks the timezone from the terminal registry."""

from posguard.reports.build import BuiltReport, build_report, generate_report, report_doc
from posguard.reports.errors import ReportError, ReportWriteError, UnknownReportType
from posguard.reports.ods import MEDIA_TYPE, read_ods
from posguard.reports.timezone import ReportZone, report_timezone
from posguard.reports.types import REPORT_TITLES, ReportType, parse_report_type

__all__ = [
    "ReportType",
    "REPORT_TITLES",
    "parse_report_type",
    "generate_report",
    "build_report",
    "report_doc",
    "BuiltReport",
    "ReportZone",
    "report_timezone",
    "read_ods",
    "MEDIA_TYPE",
    "ReportError",
    "ReportWriteError",
    "UnknownReportType",
]
