"""pos_utils: the classes scripts use with the ActivePOS API.

    from pos_utils import *          # StringFilter, SearchFlags, ReportType, IncidentFlag

- StringFilter(text, flags): a text condition of search_pos_events' "text" key;
- SearchFlags: CONTAINS (default), STARTS_WITH, ENDS_WITH, EXACT, | CASE_SENSITIVE;
- ReportType: VIOLATIONS_REPORT, ... for generate_pos_report;
- IncidentFlag: FILTER_CONFIRMED, FILTER_DECLINED, FILTER_NEW, FILTER_NONEMPTY_ESTIMATE
  for search_pos_incidents' "flags" key, combinable with |.
"""

from posguard.model.filters import SearchFlags, StringFilter
from posguard.model.incident_filters import IncidentFlag
from posguard.reports.types import ReportType

__all__ = ["StringFilter", "SearchFlags", "ReportType", "IncidentFlag"]
