"""bench/bench_memory.py helpers: RSS parsing, the open-receipt traffic, the worker loop."""

from __future__ import annotations

import pytest

from bench.bench_memory import Worker, child, open_receipt_events, rss_bytes, spawn
from posguard.ingest.simulator import ChainSimulator
from posguard.model.events import PosEvent


def test_rss_bytes_reads_vmrss_in_kib() -> None:
    status = "Name:\tpython\nVmPeak:\t  999 kB\nVmRSS:\t   2048 kB\nThreads:\t1\n"
    assert rss_bytes(status) == 2048 * 1024


def test_rss_bytes_without_vmrss_raises() -> None:
    with pytest.raises(RuntimeError):
        rss_bytes("Name:\tpython\n")


def test_rss_bytes_of_this_process_is_plausible() -> None:
    assert 5 * 1024 * 1024 < rss_bytes() < 64 * 1024 ** 3


def test_each_terminal_ends_with_an_open_receipt_of_three_positions() -> None:
    w = Worker()
    for i in range(50):
        w.process(open_receipt_events(i))
    assert w.keys() == {"receipts": 50, "terminal": 50, "cashier": 50, "card": 50}
    for st in w.receipts.values():
        assert st.receipt is not None
        assert sorted(st.receipt.positions) == [1, 3, 4]
        assert st.cashier_name.startswith("Cashier ")
        assert st.receipt.discount_card.startswith("7788")
    # the engine's own receipt context agrees with the receipt table
    ctx = next(iter(w.terminal.values())).ctx
    assert ctx is not None and ctx.receipt is not None and len(ctx.receipt.positions) == 3


def test_table_bytes_hold_one_value_per_key_and_clear_drops_states() -> None:
    w = Worker()
    for i in range(5):
        w.process(open_receipt_events(i))
    tables = w.table_bytes()
    assert {k: len(v) for k, v in tables.items()} == w.keys()
    assert all(len(b) > 20 for t in tables.values() for b in t.values())
    w.clear()
    assert set(w.keys().values()) == {0}


def test_worker_counts_events_receipts_and_incidents() -> None:
    sim = ChainSimulator(stores=3, terminals=2, seed=5, fraud_rate=0.3)
    events: list[PosEvent] = list(sim.events(3000, 1_796_000_000_000_000, 50_000))
    w = Worker()
    w.process(events)
    assert w.events == 3000
    assert w.finished > 50  # receipts of ~10 events
    assert w.incidents > 0  # a 30 % fraud rate raises some
    sizes = w.encoded_sizes()
    assert set(sizes) == {"receipts", "terminal", "cashier", "card"}
    for s in sizes.values():
        assert 0 < s["state_mean"] <= s["state_max"] <= s["value_max"]


def test_child_modes() -> None:
    assert child("idle", 0)["rss"] > 0
    res = child("open_tables", 30)
    assert res["keys"] == {"receipts": 30, "terminal": 30, "cashier": 30, "card": 30}
    assert all(v > 0 for v in res["table_bytes"].values())
    with pytest.raises(ValueError):
        child("nonsense", 1)


def test_spawned_child_reports_its_own_numbers() -> None:
    res = spawn("stream", 2000)
    samples = res["samples"]
    assert [s["events"] for s in samples] == [0] + [200 * k for k in range(1, 11)]
    assert all(s["rss"] > 0 for s in samples)
    assert res["receipts"] > 0
