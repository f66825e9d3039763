"""bench/bench_search.py and bench/search_data.py helpers that need no engine."""

from __future__ import annotations

import pytest

from bench.bench_search import FILTERS, former_order, percentile, time_pairs, time_queries
from bench.search_data import (
    BRANDS,
    EVENTS_PER_RECEIPT,
    PRODUCTS,
    SURNAMES,
    Layout,
    insert_sql,
)
from posguard.model.filters import SearchFlags
from posguard.store.schema import EVENT_COLUMNS


def test_percentile_nearest_rank() -> None:
    assert percentile([5.0, 1.0, 3.0, 2.0, 4.0], 50) == 3.0
    assert percentile(list(range(1, 21)), 95) == 19
    assert percentile(list(range(1, 21)), 100) == 20
    assert percentile([7.0], 95) == 7.0
    with pytest.raises(ValueError):
        percentile([], 50)


def test_time_queries_returns_one_time_and_result_per_call() -> None:
    times, results = time_queries(lambda i: i * 2, 4)
    assert results == [0, 2, 4, 6]
    assert len(times) == 4 and all(t >= 0 for t in times)


def test_time_pairs_alternates_which_runs_first() -> None:
    calls: list[tuple[str, int]] = []
    a, b = time_pairs(lambda i: calls.append(("a", i)) or 0,
                      lambda i: calls.append(("b", i)) or 0, 3)
    assert calls == [("a", 0), ("b", 0), ("b", 1), ("a", 1), ("a", 2), ("b", 2)]
    assert len(a) == len(b) == 3


@pytest.mark.parametrize("n", [1_000, 10_000_000, 100_000_000])
def test_layout_keeps_receipts_apart_and_inside_the_period(n: int) -> None:
    lay = Layout(n)
    assert lay.receipts_per_terminal * lay.terminals * EVENTS_PER_RECEIPT >= n
    # a receipt's events fit before the terminal's next receipt opens
    assert EVENTS_PER_RECEIPT * lay.event_gap_us < lay.receipt_gap_us
    last_open = lay.t0 + (lay.receipts_per_terminal - 1) * lay.receipt_gap_us
    assert last_open + lay.receipt_gap_us <= lay.t0 + lay.days * 86_400_000_000 < lay.t1


def test_insert_fills_every_column_of_the_schema_in_order() -> None:
    sql = insert_sql("benchdb")
    assert sql.startswith(f"INSERT INTO benchdb.events ({', '.join(EVENT_COLUMNS)})")
    assert "numbers_mt({start:UInt64}, {count:UInt64})" in sql


def test_vocabulary_sizes_give_three_thousand_cashier_names() -> None:
    # cashier c -> surname c % 60, initials (c // 60) % 26 and c // 1560: unique below 3,120
    assert len(SURNAMES) == 60 and len(set(SURNAMES)) == 60
    names = {(c % 60, (c // 60) % 26, (c // 1560) % 26) for c in range(3000)}
    assert len(names) == 3000
    assert len(PRODUCTS) == 100 and len(BRANDS) == 20  # g < 2,000: product g % 100, brand g // 100


def test_filters_build_the_documented_filter_kinds() -> None:
    values = {"op_id": ["0001234"], "cashier_name": ["Ivanov A.A."],
              "pos_terminal": ["ABCDEF12"], "text": ["Milk 3.2% 1l Selo"]}
    assert FILTERS["receipt number"](values, 0).receipt_number == ("0001234",)
    assert FILTERS["cashier"](values, 0).cashiers == ("Ivanov A.A.",)
    assert FILTERS["terminal"](values, 0).terminals == ("ABCDEF12",)
    text = FILTERS["text starts-with"](values, 0).text[0]
    assert (text.text, text.flags) == ("milk", SearchFlags.STARTS_WITH)
    assert all(t.startswith("POS_") for t in FILTERS["event types"](values, 3).events)


def test_former_order_drops_only_the_ascending_hour_bucket() -> None:
    from posguard.model.filters import EventFilter
    from posguard.store.search import build_event_search

    sql = build_event_search("db", 0, 1, EventFilter()).sql
    out = former_order(sql)
    assert out is not None and "intDiv" not in out
    assert "ORDER BY ts_received ASC, pos_terminal, event_id LIMIT" in out
    assert former_order(build_event_search("db", 0, 1, EventFilter(), newest_first=True).sql) \
        is None
    assert former_order("SELECT 1") is None
