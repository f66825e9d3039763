"""Receipt search (the operator filter dialog) and the live view's reads, as parameterised SQL.

The dialog's keys: terminals, cashiers, receipt number and discount card (partial match, case
ignored), payment types (any of), from/to ranges with either side optional for total, discount,
change, number of positions and duration, and "contains events" / "does not contain events",
answered over the events table by (terminal, receipt number).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from posguard.model.events import PosEvent
from posguard.store.backends.base import Backend
from posguard.store.params import Params
from posguard.store.schema import EVENT_COLUMNS, RECEIPT_COLUMNS

__all__ = ["ReceiptQuery", "Range", "search_receipts", "count_receipts", "events_since",
           "live_terminals", "RECEIPT_FIELDS"]

Range = tuple[int | None, int | None]
"""A closed range; None on a side leaves that side open."""

RECEIPT_FIELDS = (*RECEIPT_COLUMNS, "duration")
_SELECT = ", ".join(RECEIPT_COLUMNS) + ", ts_close - ts_open AS duration"
_EVENT_SELECT = ", ".join(EVENT_COLUMNS[:-3])
# Events of a receipt are received around its close; terminal clocks drift, receipts stay
# open a while: the events sub-query looks this far (microseconds) beyond the receipt range.
EVENT_SLACK = 24 * 3600 * 1_000_000
_RANGE_SQL = {"total": "total", "discount": "discount", "change": "change",
              "positions": "positions", "duration": "(ts_close - ts_open)"}


@dataclass(frozen=True)
class ReceiptQuery:
    """What to look for; every key is optional and the keys are AND-ed.

    Attributes:
        t0, t1: the receipt's close time (ts_close, microseconds) range.
        terminals, cashiers, stores: exact names, any of.
        receipt_number, discount_card: a substring, case ignored.
        payment_types: event types of payments (POS_PAYMENT_CASH ...), any of.
        total, discount, change: ranges in kopecks.
        positions: range of the number of positions.
        duration: range of ts_close - ts_open, microseconds.
        contains_events: event types the receipt must contain (all of them, or any of them
            when `contains_any`).
        not_contains_events: event types the receipt must not contain (none of them).
    """

    t0: int | None = None
    t1: int | None = None
    terminals: tuple[str, ...] = ()
    cashiers: tuple[str, ...] = ()
    stores: tuple[str, ...] = ()
    receipt_number: str = ""
    discount_card: str = ""
    payment_types: tuple[str, ...] = ()
    total: Range = (None, None)
    discount: Range = (None, None)
    change: Range = (None, None)
    positions: Range = (None, None)
    duration: Range = (None, None)
    contains_events: tuple[str, ...] = ()
    contains_any: bool = False
    not_contains_events: tuple[str, ...] = ()


def _events_subquery(db: str, q: ReceiptQuery, types: tuple[str, ...], all_of: bool,
                     p: Params) -> str:
    conds = [p.any_of("type", types), "op_id != ''"]
    if q.t0 is not None:
        conds.append(f"ts_received >= {p.add(q.t0 - EVENT_SLACK, 'Int64')}")
    if q.t1 is not None:
        conds.append(f"ts_received <= {p.add(q.t1 + EVENT_SLACK, 'Int64')}")
    if q.terminals:
        conds.append(p.any_of("pos_terminal", q.terminals))
    having = f" HAVING uniqExact(type) = {p.add(len(set(types)), 'UInt64')}" if all_of else ""
    return (f"(pos_terminal, op_id) IN (SELECT pos_terminal, op_id FROM {db}.events "
            f"WHERE {' AND '.join(conds)} GROUP BY pos_terminal, op_id{having})")


def _where(db: str, q: ReceiptQuery, p: Params) -> str:
    conds = ["1"]
    if q.t0 is not None:
        conds.append(f"ts_close >= {p.add(q.t0, 'Int64')}")
    if q.t1 is not None:
        conds.append(f"ts_close <= {p.add(q.t1, 'Int64')}")
    for key, col in (("terminals", "pos_terminal"), ("cashiers", "cashier_name"),
                     ("stores", "store")):
        values = getattr(q, key)
        if values:
            conds.append(p.any_of(col, values))
    for key, col in (("receipt_number", "op_id"), ("discount_card", "discount_card")):
        text = getattr(q, key)
        if text:
            conds.append(f"positionCaseInsensitiveUTF8({col}, {p.add(text, 'String')}) > 0")
    if q.payment_types:
        conds.append(f"hasAny(payment_types, {p.strings(q.payment_types)})")
    for key, expr in _RANGE_SQL.items():
        lo, hi = getattr(q, key)
        if lo is not None:
            conds.append(f"{expr} >= {p.add(int(lo), 'Int64')}")
        if hi is not None:
            conds.append(f"{expr} <= {p.add(int(hi), 'Int64')}")
    if q.contains_events:
        conds.append(_events_subquery(db, q, q.contains_events, not q.contains_any, p))
    if q.not_contains_events:
        conds.append("NOT " + _events_subquery(db, q, q.not_contains_events, False, p))
    return " AND ".join(conds)


def search_receipts(backend: Backend, q: ReceiptQuery, limit: int = 100,
                    offset: int = 0) -> list[dict[str, Any]]:
    """Receipts matching `q`, newest close first, as dicts of RECEIPT_FIELDS."""
    p = Params()
    db = backend.database
    sql = (f"SELECT {_SELECT} FROM {db}.receipts FINAL WHERE {_where(db, q, p)} "
           f"ORDER BY ts_close DESC, receipt_id LIMIT {p.add(int(limit), 'UInt64')} "
           f"OFFSET {p.add(int(offset), 'UInt64')}")
    return backend.query(sql, p.values).dicts()


def count_receipts(backend: Backend, q: ReceiptQuery) -> int:
    """How many receipts match `q`."""
    p = Params()
    db = backend.database
    sql = f"SELECT count() FROM {db}.receipts FINAL WHERE {_where(db, q, p)}"
    return int(backend.query(sql, p.values).scalar() or 0)


def events_since(backend: Backend, since: int, stores: tuple[str, ...] = (),
                 limit: int = 5000) -> list[PosEvent]:
    """Events received at or after `since` (microseconds), oldest first: the live view's read.

    Args:
        since: lower bound of ts_received.
        stores: only these stores (empty = all).
        limit: most events per call; the caller advances `since` and calls again.
    """
    p = Params()
    conds = [f"ts_received >= {p.add(since, 'Int64')}"]
    if stores:
        conds.append(p.any_of("store", stores))
    sql = (f"SELECT {_EVENT_SELECT} FROM {backend.database}.events WHERE {' AND '.join(conds)} "
           f"ORDER BY ts_received, pos_terminal, event_id LIMIT {p.add(limit, 'UInt64')}")
    return [PosEvent(**dict(zip(EVENT_COLUMNS, r, strict=False)))
            for r in backend.query(sql, p.values).rows]


def live_terminals(backend: Backend, since: int) -> list[dict[str, Any]]:
    """Stores and their terminals that sent events since `since`, with the last event time."""
    rows = backend.query(
        f"SELECT store, pos_terminal, any(pos_terminal_name), any(associated_channel), "
        f"max(ts_received) FROM {backend.database}.events "
        "WHERE ts_received >= {since:Int64} GROUP BY store, pos_terminal "
        "ORDER BY store, pos_terminal", {"since": since}).rows
    return [{"store": s, "terminal": t, "terminal_name": n, "associated_channel": c,
             "last_ts": int(ts)} for s, t, n, c, ts in rows]
