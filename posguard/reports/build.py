"""Build a report: run its queries (ClickHouse), then write the ODS (odfpy), timing each."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from posguard.model.times import zone
from posguard.reports.document import ReportDoc
from posguard.reports.errors import ReportError
from posguard.reports.ods import write_ods
from posguard.reports.queries import REPORT_QUERIES, Period
from posguard.reports.types import REPORT_TITLES, ReportType, parse_report_type
from posguard.store.backends.base import Backend

__all__ = ["BuiltReport", "build_report", "generate_report", "report_doc", "Progress"]

_LAST_US = (253_402_300_799 - 2 * 86_400) * 1_000_000  # two days before 10000-01-01, any tz

Progress = Callable[[str, int, int], None]
"""progress(step, done, total): `step` names what starts now; done of total steps."""


@dataclass
class BuiltReport:
    """A finished report and how long its parts took.

    Attributes:
        data: the ODS file.
        doc: what was written (sections, rows, totals).
        query_seconds: time spent in ClickHouse queries (and fetching their rows).
        write_seconds: time spent writing the ODS.
        steps: seconds per query step, in order.
    """

    data: bytes
    doc: ReportDoc
    query_seconds: float
    write_seconds: float
    steps: list[tuple[str, float]] = field(default_factory=list)

    @property
    def seconds(self) -> float:
        return self.query_seconds + self.write_seconds


_STEPS = {  # query steps per report, for progress totals (one more step writes the file)
    "violations": 6, "cancelled-positions": 4, "discounts": 4, "average-receipt": 4,
    "cashier-activity": 1, "terminal-summary": 2,
}


def report_doc(backend: Backend, report_type: ReportType | str, t0_us: int, t1_us: int,
               store: str | None = None, tz: str = "UTC", progress: Progress | None = None,
               now: datetime | None = None,
               steps: list[tuple[str, float]] | None = None, *, tz_note: str = "") -> ReportDoc:
    """Run a report's queries and return its document (no file yet).

    Args:
        backend: the store.
        report_type: a ReportType or its name.
        t0_us: period start, microseconds, inclusive.
        t1_us: period end, microseconds, exclusive.
        store: limit to one store (None or "" = all).
        tz: IANA timezone for days, hours and the times shown.
        progress: called as each query starts.
        now: the "generated at" time (default: the current time).
        steps: when given, (step, seconds) of each query are appended.
        tz_note: why `tz` (`report_timezone(...).note`), shown in the title block.
    """
    rt = parse_report_type(report_type)
    zone(tz)  # an unknown timezone fails here, before any query
    if t1_us < t0_us:
        raise ReportError("the period ends before it starts")
    if t0_us < 0 or t1_us > _LAST_US:
        raise ReportError("the period must lie between 1970 and 9999")
    period = Period(t0_us, t1_us, store or "", tz)
    total = _STEPS[rt.value] + 1
    done = 0
    last: list[tuple[str, float]] = []

    def step(name: str) -> None:
        nonlocal done
        t = time.perf_counter()
        if last:
            prev, started = last[-1]
            last[-1] = (prev, t - started)
        last.append((name, t))
        if progress:
            progress(name, done, total)
        done += 1

    sections = REPORT_QUERIES[rt.value](backend, period, step)
    if last:
        prev, started = last[-1]
        last[-1] = (prev, time.perf_counter() - started)
    if steps is not None:
        steps.extend(last)
    return ReportDoc(title=REPORT_TITLES[rt], report_type=rt.name, t0_us=t0_us, t1_us=t1_us,
                     generated_at=now or datetime.now(UTC), tz=tz, tz_note=tz_note,
                     store=store or "", sections=sections)


def build_report(backend: Backend, report_type: ReportType | str, t0_us: int, t1_us: int,
                 store: str | None = None, tz: str = "UTC", progress: Progress | None = None,
                 now: datetime | None = None, *, tz_note: str = "") -> BuiltReport:
    """Run a report's queries and write it as ODS, with the time each part took."""
    rt = parse_report_type(report_type)
    steps: list[tuple[str, float]] = []
    t = time.perf_counter()
    doc = report_doc(backend, rt, t0_us, t1_us, store, tz, progress, now, steps,
                     tz_note=tz_note)
    t_query = time.perf_counter() - t
    total = _STEPS[rt.value] + 1
    if progress:
        progress("writing ODS", total - 1, total)
    t = time.perf_counter()
    data = write_ods(doc)
    t_write = time.perf_counter() - t
    if progress:
        progress("done", total, total)
    return BuiltReport(data=data, doc=doc, query_seconds=t_query, write_seconds=t_write,
                       steps=steps)


def generate_report(backend: Backend, report_type: ReportType | str, t0_us: int, t1_us: int,
                    store: str | None = None, tz: str = "UTC",
                    progress: Progress | None = None, *, tz_note: str = "") -> bytes:
    """The report as ODS bytes (what `generate_pos_report` hands scripts as zipped_report).

    `tz` is used as given; callers that should follow the terminal registry pick it with
    `posguard.reports.timezone.report_timezone` and pass its note as `tz_note`.

    Example:
        >>> # data = generate_report(backend, ReportType.VIOLATIONS_REPORT, t0, t1, tz="Europe/Moscow")
    """
    return build_report(backend, report_type, t0_us, t1_us, store, tz, progress,
                        tz_note=tz_note).data
