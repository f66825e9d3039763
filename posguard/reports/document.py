"""What a report is before it becomes a file: sections of typed columns, rows and a totals row.

Pure data, no I/O: queries.py fills it from ClickHouse, ods.py writes it with odfpy. Money is
integer kopecks (or a float of kopecks for averages), percents are fractions (0.25 = 25 %),
timestamps are integer microseconds (written in the report's timezone), days are dates.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

__all__ = ["Kind", "Column", "Chart", "Section", "ReportDoc", "Label"]


class Kind(StrEnum):
    """How a column's values are typed in the spreadsheet."""

    TEXT = "text"
    INT = "int"  # a count
    NUMBER = "number"  # a float shown with 2 decimals (ratios, seconds)
    MONEY = "money"  # kopecks, shown as currency with 2 decimals
    PERCENT = "percent"  # a fraction, shown as a percentage
    DATE = "date"  # a local day (datetime.date or "YYYY-MM-DD")
    DATETIME = "datetime"  # integer microseconds since the epoch, shown in local time


class Label(str):
    """Text written as text whatever the column's kind (the "Total" of a totals row)."""

    __slots__ = ()


@dataclass(frozen=True)
class Column:
    """One column of a section.

    Attributes:
        title: the header text.
        kind: how values are typed.
        help: how the figure is computed (goes into docs and the report's notes).
    """

    title: str
    kind: Kind = Kind.TEXT
    help: str = ""


@dataclass(frozen=True)
class Chart:
    """A chart of one section's rows: categories from one column, one series per value column.

    Attributes:
        title: the chart's title.
        category: index of the category column (e.g. the day).
        series: indexes of the value columns.
        kind: ODF chart class without prefix: bar, line, area.
    """

    title: str
    category: int
    series: tuple[int, ...]
    kind: str = "bar"


@dataclass
class Section:
    """One sheet: a header, rows, and the totals row (computed by the query, or None).

    Attributes:
        name: the sheet name (at most 31 characters, no []*?:/\\).
        columns: the columns in order.
        rows: the data rows, one value per column (None = empty cell).
        totals: the totals row, or None when the section has none (detail lists).
        note: shown under the title (e.g. "first 10,000 of 12,345 rows").
        chart: a chart sheet to add for this section, if any.
        truncated: True when rows were capped.
    """

    name: str
    columns: list[Column]
    rows: list[tuple[Any, ...]] = field(default_factory=list)
    totals: tuple[Any, ...] | None = None
    note: str = ""
    chart: Chart | None = None
    truncated: bool = False

    def column(self, title: str) -> int:
        """Index of the column with this header."""
        for i, c in enumerate(self.columns):
            if c.title == title:
                return i
        raise KeyError(title)


@dataclass
class ReportDoc:
    """A whole report: what, when, where, and its sections.

    Attributes:
        title: e.g. "Violations report".
        report_type: the ReportType value.
        t0_us: period start (inclusive), microseconds.
        t1_us: period end (exclusive), microseconds.
        generated_at: when the report was produced (aware).
        tz: IANA timezone the report shows times in.
        tz_note: why that timezone (reports/timezone.py), shown under it; "" = no row.
        store: the store the report is limited to ("" = all stores).
        sections: the sheets in order.
        currency: ISO 4217 code of the money columns.
    """

    title: str
    report_type: str
    t0_us: int
    t1_us: int
    generated_at: datetime
    tz: str = "UTC"
    tz_note: str = ""
    store: str = ""
    sections: list[Section] = field(default_factory=list)
    currency: str = "RUB"
