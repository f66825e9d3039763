"""Search order: by reception time (ties: terminal, event id), across hour buckets and parts.

The search SQL orders by the sort key's hour bucket first (so ClickHouse reads in key order
and stops at LIMIT); these tests pin that the rows still come in plain reception-time order.
"""

from __future__ import annotations

import random

import pytest

from posguard.model.events import PosEvent
from posguard.model.filters import EventFilter
from posguard.store.search import build_event_search, search_events
from posguard.store.writer import insert_events

pytestmark = pytest.mark.integration

T0 = 1_796_000_000_000_000 - 1_800_000_000  # half an hour before an hour boundary
HOUR = 3_600_000_000
TERMINALS = ("T3", "T1", "T2")


def spanning_events() -> list[PosEvent]:
    """~5 hours of events on three terminals, with reception-time ties across terminals and
    events on both sides of each hour boundary."""
    rng = random.Random(7)
    out = []
    for i in range(240):
        ts = T0 + i * 75_000_000 + rng.choice((0, 0, 1))  # ties: several events share a time
        for k, term in enumerate(TERMINALS):
            if rng.random() < 0.8:
                out.append(PosEvent(type=("POS_POSITION_ADD", "POS_RECEIPT_CLOSE")[i % 2],
                                    pos_terminal=term, ts_in_receipt=ts, ts_received=ts,
                                    event_id=f"e{rng.randrange(10**6):06d}-{i}-{k}"))
    for hour in range(1, 6):  # the last microsecond of an hour and the first of the next
        edge = (T0 // HOUR + hour) * HOUR
        for ts in (edge - 1, edge):
            out.append(PosEvent(type="POS_POSITION_ADD", pos_terminal="T2", ts_in_receipt=ts,
                                ts_received=ts, event_id=f"edge-{ts}"))
    return out


def _key(e: PosEvent) -> tuple[int, str, str]:
    return (e.ts_received, e.pos_terminal, e.event_id)


@pytest.fixture
def spanning(any_store):  # type: ignore[no-untyped-def]
    events = spanning_events()
    random.Random(3).shuffle(events)
    for part in range(4):  # several parts, none in time order
        chunk = events[part::4]
        insert_events(any_store, chunk, partition=part, offsets=list(range(len(chunk))))
    return any_store, events


def test_the_sort_key_starts_with_the_searched_hour_bucket(any_store) -> None:  # type: ignore[no-untyped-def]
    key = any_store.query(
        "SELECT sorting_key FROM system.tables WHERE database = {db:String} AND name = 'events'",
        {"db": any_store.database}).scalar()
    assert str(key).replace(" ", "").startswith("intDiv(ts_received,3600000000),")
    sql = build_event_search("db", 0, 1, EventFilter()).sql
    assert "ORDER BY intDiv(ts_received, 3600000000) ASC, ts_received ASC, pos_terminal, " \
        "event_id LIMIT" in sql


@pytest.mark.parametrize("newest_first", [False, True])
@pytest.mark.parametrize("limit", [-1, 7, 100])
def test_rows_come_in_reception_time_order_across_hours(spanning, newest_first: bool,  # type: ignore[no-untyped-def]
                                                        limit: int) -> None:
    backend, events = spanning
    assert len({e.ts_received // HOUR for e in events}) >= 5
    asc = sorted(events, key=_key)
    # newest first: reception time descending, ties still by terminal and event id ascending
    expected = sorted(asc, key=lambda e: -e.ts_received) if newest_first else asc
    if limit >= 0:
        expected = expected[:limit]
    got = search_events(backend, T0 - HOUR, T0 + 10 * HOUR, EventFilter(), limit,
                        newest_first=newest_first)
    assert [_key(e) for e in got] == [_key(e) for e in expected]


@pytest.mark.parametrize("newest_first", [False, True])
def test_same_rows_as_the_former_order_by_reception_time(spanning, newest_first: bool) -> None:  # type: ignore[no-untyped-def]
    backend, _ = spanning
    for f in (EventFilter(), EventFilter(terminals=("T2",)),
              EventFilter(events=("POS_RECEIPT_CLOSE",))):
        q = build_event_search(backend.database, T0 + HOUR // 2, T0 + 4 * HOUR, f, 50,
                               newest_first)
        order = "DESC" if newest_first else "ASC"
        former = q.sql.replace(f"ORDER BY intDiv(ts_received, 3600000000) {order}, ", "ORDER BY ")
        assert former != q.sql
        rows = backend.query(q.sql, q.params).rows
        assert len(rows) == 50
        assert rows == backend.query(former, q.params).rows
