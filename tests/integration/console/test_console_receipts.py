"""Receipt search over HTTP: each filter of the dialog, each range one-sided, contains / does
not contain events, paging and the CSV export."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Any

import pytest
from console_testkit import T0, Env, env_for, fill, receipt

from posguard.store.writer import insert_receipts

pytestmark = pytest.mark.integration


@pytest.fixture
def env(store: Any) -> Iterator[Env]:
    e = next(env_for_gen := env_for(store))
    fill(store)
    yield e
    env_for_gen.close()


def found(env: Env, **params: Any) -> list[str]:
    r = env.client("viewer").get("/api/receipts", params=params)
    assert r.status_code == 200, r.text
    return [x["receipt_id"] for x in r.json()["receipts"]]


def test_no_filter_newest_first(env: Env) -> None:
    assert found(env) == ["r3", "r2", "r1"]


def test_names_and_partial_matches(env: Env) -> None:
    assert found(env, terminals=["T1", "T3"]) == ["r3", "r1"]
    assert found(env, cashiers=["Petrova A"]) == ["r2"]
    assert found(env, stores=["S2"]) == ["r2"]
    assert found(env, receipt_number="30") == ["r3"]  # part of "A-300"
    assert found(env, receipt_number="a-3") == ["r3"]  # case ignored
    assert found(env, discount_card="8990") == ["r2"]
    assert found(env, discount_card="0000") == []
    assert found(env, payment_types=["POS_PAYMENT_CARD"]) == ["r3", "r2"]
    assert found(env, payment_types=["cash"]) == ["r3", "r1"]  # short names normalised


@pytest.mark.parametrize(("key", "lo", "hi", "only_lo", "only_hi", "both"), [
    # r1: total 5000, discount 0, change 0, positions 1, duration 5 s
    # r2: total 120000, discount 1500, change 500, positions 7, duration 61 s
    # r3: total 30000, discount 300, change 2000, positions 3, duration 30 s
    ("total", 10_000, 100_000, ["r3", "r2"], ["r3", "r1"], ["r3"]),
    ("discount", 300, 1000, ["r3", "r2"], ["r3", "r1"], ["r3"]),
    ("change", 500, 1000, ["r3", "r2"], ["r2", "r1"], ["r2"]),
    ("positions", 3, 5, ["r3", "r2"], ["r3", "r1"], ["r3"]),
    ("duration", 10, 60, ["r3", "r2"], ["r3", "r1"], ["r3"]),
])
def test_each_range_one_sided_and_both(env: Env, key: str, lo: int, hi: int, only_lo: list[str],
                                       only_hi: list[str], both: list[str]) -> None:
    assert found(env, **{f"{key}_min": lo}) == only_lo
    assert found(env, **{f"{key}_max": hi}) == only_hi
    assert found(env, **{f"{key}_min": lo, f"{key}_max": hi}) == both


def test_time_range(env: Env) -> None:
    assert found(env, **{"from": T0 + 10_000_000}) == ["r3", "r2"]
    assert found(env, to=str((T0 + 10_000_000) / 1e6)) == ["r1"]


def test_contains_and_not_contains_events(env: Env) -> None:
    assert found(env, contains_events=["POS_POSITION_DELETE"]) == ["r1"]
    assert found(env, contains_events=["POSITION_DELETE", "PAYMENT_CASH"]) == ["r1"]  # all
    assert found(env, contains_events=["POS_POSITION_DELETE", "POS_PAYMENT_CARD"]) == []
    assert found(env, contains_events=["POS_POSITION_DELETE", "POS_PAYMENT_CARD"],
                 contains_mode="any") == ["r2", "r1"]
    assert found(env, not_contains_events=["POS_POSITION_DELETE"]) == ["r3", "r2"]
    assert found(env, not_contains_events=["POS_POSITION_DELETE", "POS_DISCOUNT_CARD"]) == ["r3"]
    assert found(env, **{"from": T0}, contains_events=["POS_DISCOUNT_CARD"]) == ["r2"]


def test_paging_and_count(env: Env) -> None:
    insert_receipts(env.state.backend, [
        receipt(f"p{i:02d}", "T9", str(1000 + i), ts_close=T0 + 200_000_000 + i,
                payment_types=["POS_PAYMENT_CASH"])
        for i in range(12)])
    c = env.client("viewer")
    first = c.get("/api/receipts", params={"page_size": 5}).json()
    assert first["total"] == 15 and len(first["receipts"]) == 5
    pages = [c.get("/api/receipts", params={"page_size": 5, "page": p}).json()["receipts"]
             for p in (1, 2, 3, 4)]
    seen = [r["receipt_id"] for page in pages for r in page]
    assert len(seen) == 15 == len(set(seen)) and pages[3] == []
    assert c.get("/api/receipts", params={"page": 0}).status_code == 422


def test_csv_export_same_filter(env: Env) -> None:
    insert_receipts(env.state.backend, [receipt("evil", "T1", "=HYPERLINK(1)",
                                                cashier_name="@SUM(A1)", ts_close=T0 + 7,
                                                payment_types=["POS_PAYMENT_CASH"])])
    r = env.client("viewer").get("/api/receipts/export.csv", params={"terminals": ["T1"]})
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/csv")
    assert "attachment" in r.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert [x["receipt_id"] for x in rows] == ["r1", "evil"]
    assert rows[0]["total"] == "50.00" and rows[0]["payment_types"] == "POS_PAYMENT_CASH"
    assert rows[0]["duration_s"] == "5.000"
    # cells a spreadsheet would run as formulas are defused
    assert rows[1]["op_id"] == "'=HYPERLINK(1)" and rows[1]["cashier_name"] == "'@SUM(A1)"


def test_events_of_a_receipt(env: Env) -> None:
    r = env.client("viewer").get("/api/receipts/events",
                                 params={"terminal": "T1", "op_id": "100", "ts": T0})
    assert [e["type"] for e in r.json()][-1] == "POS_RECEIPT_CLOSE"
    assert len(r.json()) == 6
