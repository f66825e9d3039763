"""bench/search_data.py: generated events in a real chDB store look like a chain's."""

from __future__ import annotations

import pytest

from bench.bench_search import FILTERS, add_ts_minmax, former_order, has_ts_minmax, measure
from bench.search_data import Layout, generate_events, sample_values
from posguard.model.event_types import EVENT_TYPES
from posguard.store.backends.chdb_backend import ChdbBackend
from posguard.store.schema import EVENT_COLUMNS
from posguard.store.search import build_event_search, count_events, search_events

pytestmark = pytest.mark.integration

N = 30_000
LAYOUT = Layout(N, terminals=20, days=3)


@pytest.fixture
def generated(store: ChdbBackend) -> ChdbBackend:
    stats = generate_events(store, LAYOUT, block=12_000)
    assert stats.rows == N
    assert stats.bytes_on_disk > 0 and stats.parts >= 1
    return store


def test_every_column_is_filled_somewhere(generated: ChdbBackend) -> None:
    db = generated.database
    checks = ", ".join(f"countIf({c} != defaultValueOfArgumentType({c}))"
                       for c in EVENT_COLUMNS)
    filled = generated.query(f"SELECT {checks} FROM {db}.events").rows[0]
    empty = [c for c, k in zip(EVENT_COLUMNS, filled, strict=True)
             if k == 0 and c not in ("flags", "volume")]  # no fuel, no flags in a grocery
    assert empty == []


def test_shape_terminals_cashiers_receipts_types(generated: ChdbBackend) -> None:
    db = generated.database
    terms, cashiers, ids, t0, t1 = generated.query(
        f"SELECT uniqExact(pos_terminal), uniqExact(cashier_name), uniqExact(event_id), "
        f"min(ts_received), max(ts_received) FROM {db}.events").rows[0]
    assert terms == 20
    assert cashiers == 20 * 3  # three per terminal, rotating by day
    assert ids == N
    assert LAYOUT.t0 <= t0 and t1 < LAYOUT.t1
    sizes = generated.query(
        f"SELECT count() AS c, countIf(type IN ('POS_RECEIPT_OPEN', 'POS_RECEIPT_RETURN')) "
        f"FROM {db}.events GROUP BY pos_terminal, op_id").rows
    assert {c for c, _ in sizes} == {15} and {o for _, o in sizes} == {1}
    types = {r[0] for r in generated.query(f"SELECT DISTINCT type FROM {db}.events").rows}
    assert types <= EVENT_TYPES
    assert {"POS_POSITION_DELETE", "POS_DISCOUNT_CARD", "POS_RECEIPT_CLOSE"} <= types


def test_each_terminal_is_in_time_order(generated: ChdbBackend) -> None:
    db = generated.database
    unordered = generated.query(
        f"SELECT count() FROM (SELECT pos_terminal, "
        f"arraySort(x -> x.1, groupArray((kafka_offset, ts_in_receipt))) AS s "
        f"FROM {db}.events GROUP BY pos_terminal) "
        f"WHERE NOT arrayAll(i -> s[i].2 < s[i + 1].2, range(1, length(s)))").scalar()
    assert unordered == 0


def test_every_filter_finds_stored_events(generated: ChdbBackend) -> None:
    values = sample_values(generated, 5)
    assert len(values["op_id"]) == 5
    assert count_events(generated, LAYOUT.t0, LAYOUT.t1) == N
    for name, make in FILTERS.items():
        for i in range(5):
            f = make(values, i)
            found = search_events(generated, LAYOUT.t0, LAYOUT.t1, f)
            assert found, (name, f)
            if f.cashiers:
                assert {e.cashier_name for e in found} == set(f.cashiers)
            if f.receipt_number:
                assert {e.op_id for e in found} == set(f.receipt_number)
            if f.terminals:
                assert {e.pos_terminal for e in found} == set(f.terminals)
            if f.events:
                assert {e.type for e in found} <= set(f.events)


def test_former_order_and_index_return_the_same_events(generated: ChdbBackend) -> None:
    values = sample_values(generated, 3)
    db = generated.database
    queries = [build_event_search(db, LAYOUT.t0, LAYOUT.t1, make(values, i))
               for make in FILTERS.values() for i in range(3)]
    expected = [generated.query(q.sql, q.params).rows for q in queries]
    for q, rows in zip(queries, expected, strict=True):
        sql = former_order(q.sql)
        assert sql is not None
        assert rows and generated.query(sql, q.params).rows == rows
    assert not has_ts_minmax(generated)
    add_ts_minmax(generated)
    assert has_ts_minmax(generated)
    assert [generated.query(q.sql, q.params).rows for q in queries] == expected
    rows = measure(generated, LAYOUT, 3, comparisons=True)
    figures = [r["figure"] for r in rows]
    assert sum("former ORDER BY ts_received" in f for f in figures) == len(FILTERS)
    assert not any("proposed minmax" in f for f in figures)  # the index exists already
    assert all(r["value"] > 0 for r in rows)
