"""Event search: the search_pos_events filter (Table 12) as parameterised ClickHouse SQL.

The only SQL for reading events lives here (reports/queries.py has the report SQL). Every user
value is a query parameter; identifiers come from fixed tables in this module.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from posguard.model.events import PosEvent
from posguard.model.filters import EventFilter, SearchFlags, StringFilter
from posguard.store.backends.base import Backend
from posguard.store.params import Params
from posguard.store.schema import EVENT_COLUMNS

__all__ = ["SearchQuery", "build_event_search", "search_events", "iter_events", "count_events",
           "DEFAULT_LIMIT", "count_distinct_events"]

DEFAULT_LIMIT = 500
# The events table's sort key starts with this hour bucket (store/schema.py). It grows with
# ts_received, so ordering by it first gives the same order as by ts_received alone, but as a
# prefix of the sort key: ClickHouse reads the parts in key order and stops after LIMIT rows
# instead of reading every row of the range (bench/README.md, "Search latency").
_HOUR_BUCKET = "intDiv(ts_received, 3600000000)"
_SELECT = ", ".join(EVENT_COLUMNS[:-3])
_TEXT_COLUMNS = ("text", "article", "barcode")


@dataclass
class SearchQuery:
    """SQL text with its parameters."""

    sql: str
    params: dict[str, Any] = field(default_factory=dict)


def _string_condition(col: str, sf: StringFilter, p: Params) -> str:
    flags = int(sf.flags)
    cs = bool(flags & SearchFlags.CASE_SENSITIVE)
    mode = flags & ~SearchFlags.CASE_SENSITIVE
    target = col if cs else f"lowerUTF8({col})"
    val = p.add(sf.text if cs else sf.text.lower(), "String")
    if mode == SearchFlags.EXACT:
        return f"{target} = {val}"
    if mode == SearchFlags.STARTS_WITH:
        return f"startsWith({target}, {val})"
    if mode == SearchFlags.ENDS_WITH:
        return f"endsWith({target}, {val})"
    return f"position({target}, {val}) > 0"


def _where(db: str, t0: int, t1: int, f: EventFilter, p: Params) -> str:
    conds = [f"ts_received >= {p.add(t0, 'Int64')}", f"ts_received <= {p.add(t1, 'Int64')}"]
    if f.terminals:
        conds.append(p.any_of("pos_terminal", f.terminals))
    if f.events:
        conds.append(p.any_of("type", f.events))
    if f.cashiers:
        conds.append(p.any_of("cashier_name", f.cashiers))
    if f.receipt_number:
        conds.append(p.any_of("op_id", f.receipt_number))
    if f.text:
        ors = [_string_condition(c, sf, p) for sf in f.text for c in _TEXT_COLUMNS]
        conds.append("(" + " OR ".join(ors) + ")")
    return " AND ".join(conds)


def build_event_search(db: str, t0: int, t1: int, f: EventFilter, limit: int = DEFAULT_LIMIT,
                       newest_first: bool = False) -> SearchQuery:
    """SQL for the events in [t0, t1] (microseconds, ts_received) that match `f`.

    Ordered by reception time (ties: terminal, event id), oldest first or newest first, with
    the sort key's hour bucket in front so that the order follows the table's sort key.

    Example:
        >>> q = build_event_search("posguard", 0, 10, EventFilter(cashiers=("O'Brien",)))
        >>> "O'Brien" in q.sql, q.params["p2"]
        (False, ['O\\'Brien'])
    """
    p = Params()
    where = _where(db, t0, t1, f, p)
    order = "DESC" if newest_first else "ASC"
    sql = (f"SELECT {_SELECT} FROM {db}.events WHERE {where} "
           f"ORDER BY {_HOUR_BUCKET} {order}, ts_received {order}, pos_terminal, event_id")
    if limit >= 0:
        sql += f" LIMIT {p.add(int(limit), 'UInt64')}"
    return SearchQuery(sql, p.values)


def _to_event(row: tuple[Any, ...]) -> PosEvent:
    return PosEvent(**dict(zip(EVENT_COLUMNS, row, strict=False)))


def search_events(backend: Backend, t0: int, t1: int, f: EventFilter,
                  limit: int = DEFAULT_LIMIT, newest_first: bool = False) -> list[PosEvent]:
    """Events in [t0, t1] (microseconds) matching `f`, oldest first, at most `limit`."""
    q = build_event_search(backend.database, t0, t1, f, limit, newest_first)
    return [_to_event(r) for r in backend.query(q.sql, q.params).rows]


def count_events(backend: Backend, t0: int, t1: int, f: EventFilter | None = None) -> int:
    """How many stored events match."""
    p = Params()
    where = _where(backend.database, t0, t1, f or EventFilter(), p)
    return int(backend.query(
        f"SELECT count() FROM {backend.database}.events WHERE {where}", p.values).scalar())


def count_distinct_events(backend: Backend, t0: int, t1: int) -> tuple[int, int]:
    """(rows, distinct event ids) received in [t0, t1]: equal when nothing is doubled."""
    row = backend.query(
        f"SELECT count(), uniqExact(event_id) FROM {backend.database}.events "
        "WHERE ts_received >= {t0:Int64} AND ts_received <= {t1:Int64}", {"t0": t0, "t1": t1}
    ).rows[0]
    return int(row[0]), int(row[1])


def iter_events(backend: Backend, t0: int, t1: int, terminals: tuple[str, ...] = (),
                page: int = 50_000) -> Iterator[PosEvent]:
    """Every event with ts_in_receipt in [t0, t1], in terminal order (terminal, time), paged.

    This is the archive read: detectors run over it exactly as over the live stream.
    """
    db = backend.database
    last: tuple[str, int, str] = ("", -1, "")
    while True:
        p = Params()
        conds = [f"ts_in_receipt >= {p.add(t0, 'Int64')}", f"ts_in_receipt <= {p.add(t1, 'Int64')}",
                 f"(pos_terminal, ts_in_receipt, event_id) > ({p.add(last[0], 'String')}, "
                 f"{p.add(last[1], 'Int64')}, {p.add(last[2], 'String')})"]
        if terminals:
            conds.append(p.any_of("pos_terminal", terminals))
        sql = (f"SELECT {_SELECT} FROM {db}.events FINAL WHERE {' AND '.join(conds)} "
               f"ORDER BY pos_terminal, ts_in_receipt, event_id LIMIT {p.add(page, 'UInt64')}")
        rows = backend.query(sql, p.values).rows
        for r in rows:
            yield _to_event(r)
        if len(rows) < page:
            return
        ev = _to_event(rows[-1])
        last = (ev.pos_terminal, ev.ts_in_receipt, ev.event_id)
