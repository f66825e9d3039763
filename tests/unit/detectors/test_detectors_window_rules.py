"""Windowed rules (9-12): per local day or sliding N minutes, state bounded by event time."""

from __future__ import annotations

import msgspec
import pytest
from detector_scenarios import MIN, SEC, local_ts

from posguard.detectors.cashier_voids import CashierVoids, CashierVoidsParams
from posguard.detectors.discount_card_overuse import (
    DiscountCardOveruse,
    DiscountCardOveruseParams,
)
from posguard.detectors.engine import DetectorEngine
from posguard.detectors.keyed_entry_rate import KeyedEntryRate, KeyedEntryRateParams
from posguard.detectors.localtime import Zones, format_day, local_day
from posguard.detectors.low_total_receipts import LowTotalReceipts, LowTotalReceiptsParams
from posguard.detectors.testing import START, ReceiptBuilder, pos_event, receipt, run_detector
from posguard.model.events import PosEvent
from posguard.model.incidents import incident_id

MSK = "Europe/Moscow"

# -- rule 9: voids per cashier ---------------------------------------------------------------


def _voids(cashier: str, terminals: list[str], n: int, *, at: int = START,
           gap_s: float = 60) -> list[PosEvent]:
    """n deletes by `cashier`, alternating over `terminals`, one receipt per delete."""
    evs: list[PosEvent] = []
    for i in range(n):
        b = receipt(terminals[i % len(terminals)], op_id=str(i), cashier=cashier,
                    at=at + int(i * gap_s * SEC), step_s=1)
        evs += b.item("Bread", 45_00).delete().close().events()
    return sorted(evs, key=lambda e: e.ts_in_receipt)


def test_cashier_voids_across_terminals_one_incident_per_day() -> None:
    d = CashierVoids("Voids001", CashierVoidsParams(max_count=10))
    evs = _voids("Petrov P", ["T1", "T2", "T3"], 12)
    [inc] = run_detector(d, evs)
    day = local_day(START, "UTC")
    assert inc.cashier_name == "Petrov P"
    assert inc.id == incident_id("Voids001", ["cashier=Petrov P", f"day={day}", "count"])
    assert len(inc.related_events) == 11  # the 11 voids that made the count
    assert inc.custom_columns["voids"] == "11"
    assert f"on {format_day(day)}" in inc.custom_columns["details"]


def test_cashier_voids_near_miss_and_other_cashiers_counted_apart() -> None:
    d = CashierVoids("Voids001", CashierVoidsParams(max_count=10))
    evs = sorted(_voids("A", ["T1"], 10) + _voids("B", ["T2"], 10, at=START + 30 * SEC),
                 key=lambda e: e.ts_in_receipt)
    assert run_detector(d, evs) == []


def test_cashier_voids_count_restarts_each_local_day() -> None:
    d = CashierVoids("Voids001", CashierVoidsParams(max_count=2),
                     zones=Zones(terminals={"T1": MSK}))
    late = local_ts(MSK, 2027, 1, 15, 23, 50)
    evs = _voids("A", ["T1"], 2, at=late) + _voids("A", ["T1"], 2, at=late + 20 * MIN)
    assert run_detector(d, evs) == []  # 2 + 2 on two local days
    more = _voids("A", ["T1"], 3, at=late + 30 * MIN)
    assert len(run_detector(d, evs + more)) == 1


def test_cashier_voids_sliding_window_and_quiet_period() -> None:
    d = CashierVoids("Voids002", CashierVoidsParams(max_count=2, window_minutes=10))
    spread = _voids("A", ["T1", "T2"], 6, gap_s=6 * 60)  # 2 per 10 min at most
    assert run_detector(d, spread) == []
    burst = _voids("A", ["T1", "T2"], 6, gap_s=60)
    incs = run_detector(d, burst)
    assert len(incs) == 1  # one burst, one incident; quiet for a window after it
    dels = [e for e in burst if e.type == "POS_POSITION_DELETE"]
    assert incs[0].related_events == [e.event_id for e in dels[:3]]
    assert incs[0].id == incident_id("Voids002", [e.event_id for e in dels[:3]])


def test_cashier_void_rate_needs_positions_and_counts_cancels() -> None:
    p = CashierVoidsParams(max_count=0, max_rate_percent=10, min_positions=10)
    d = CashierVoids("Voids003", p)
    assert "POS_POSITION_ADD_BY_SCANNER" in (d.types or ())
    b = receipt("T1", cashier="A")
    for n in range(10):
        b.item(f"x{n}", 10_00)
    evs = b.cancel().events()  # 1 cancel of 10 positions: 10 % is not above 10 %
    assert run_detector(d, evs) == []
    b2 = receipt("T1", op_id="2", cashier="A", at=b.now).item("y", 1).cancel()
    [inc] = run_detector(d, evs + b2.events())
    assert inc.custom_columns["reason"] == "rate"
    no_cancels = CashierVoids("Voids003", msgspec.structs.replace(p, count_cancels=False))
    assert run_detector(no_cancels, evs + b2.events()) == []


def test_cashier_scope_keys_by_cashier_and_skips_nameless_events() -> None:
    engine = DetectorEngine([CashierVoids("Voids001")])
    assert engine.scopes() == ("cashier",)
    dele = pos_event("T1", "POS_POSITION_DELETE", cashier_name="A")
    assert engine.key("cashier", dele) == "A"
    assert engine.key("cashier", pos_event("T1", "POS_POSITION_DELETE")) is None
    assert engine.key("cashier", pos_event("T1", "POS_POSITION_ADD", cashier_name="A")) is None
    assert engine.key("terminal", dele) is None


@pytest.mark.parametrize("bad", [{"max_count": -1}, {"min_positions": 0},
                                 {"count_deletes": False, "count_cancels": False},
                                 {"max_count": 0, "max_rate_percent": 0}])
def test_cashier_voids_refuses_bad_params(bad: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        CashierVoidsParams(**bad)  # type: ignore[arg-type]


# -- rule 10: discount card across the chain -------------------------------------------------


def _card_uses(card: str, where: list[tuple[str, int]]) -> list[PosEvent]:
    evs: list[PosEvent] = []
    for n, (term, at) in enumerate(where):
        evs += receipt(term, op_id=str(n), at=at).card(card).item("Tea", 99_00).close().events()
    return sorted(evs, key=lambda e: e.ts_in_receipt)


def test_card_used_in_more_than_n_receipts_fires_once_per_day() -> None:
    d = DiscountCardOveruse("CardOv01", DiscountCardOveruseParams(max_uses=3))
    uses = _card_uses("7777", [(f"T{n}", START + n * 10 * MIN) for n in range(6)])
    [inc] = run_detector(d, uses)
    day = local_day(START, "UTC")
    assert inc.id == incident_id("CardOv01", ["card=7777", f"day={day}"])
    assert inc.custom_columns["uses"] == "4"
    assert inc.custom_columns["terminals"] == "T0,T1,T2,T3"
    assert inc.terminal_guid == "T3"
    assert len(inc.related_events) == 4


def test_card_near_miss_and_repeated_scan_in_one_receipt() -> None:
    d = DiscountCardOveruse("CardOv01")
    three = _card_uses("7777", [(f"T{n}", START + n * MIN) for n in range(3)])
    assert run_detector(d, three) == []
    twice = receipt("T9", op_id="x", at=START + 10 * MIN).card("7777").card("7777").close()
    assert run_detector(d, three + twice.events())[0].custom_columns["uses"] == "4"
    same_receipt = receipt("T0", op_id="0", at=START + 10 * MIN).card("7777").close()
    assert run_detector(d, three + same_receipt.events()) == []  # T0's receipt 0 again


def test_card_day_is_the_local_day_of_each_use() -> None:
    zones = Zones(terminals={"T1": MSK, "T2": MSK})
    d = DiscountCardOveruse("CardOv01", DiscountCardOveruseParams(max_uses=1), zones=zones)
    before = local_ts(MSK, 2027, 1, 15, 23, 30)
    after = local_ts(MSK, 2027, 1, 16, 0, 30)  # same UTC day, next Moscow day
    assert run_detector(d, _card_uses("5", [("T1", before), ("T2", after)])) == []
    assert len(run_detector(d, _card_uses("5", [("T1", before), ("T2", before + MIN)]))) == 1


def test_card_scope_key_is_the_card_number() -> None:
    engine = DetectorEngine([DiscountCardOveruse("CardOv01")])
    assert engine.key("card", pos_event("T1", "POS_DISCOUNT_CARD", discount_card="12")) == "12"
    assert engine.key("card", pos_event("T1", "POS_DISCOUNT_CARD", text="34")) == "34"
    assert engine.key("card", pos_event("T1", "POS_DISCOUNT_CARD")) is None
    assert engine.key("card", pos_event("T1", "POS_POSITION_ADD", discount_card="12")) is None


# -- rule 11: low-total receipts -------------------------------------------------------------


def _low(totals: list[int], *, gap_s: float = 60, kind: str = "sale") -> list[PosEvent]:
    evs: list[PosEvent] = []
    at = START
    for n, total in enumerate(totals):
        b = receipt("T1", op_id=str(n), at=at, kind=kind).item("x", total).close()
        evs += b.events()
        at = b.now + int(gap_s * SEC)
    return evs


def test_repeated_low_receipts_fire_then_count_afresh() -> None:
    d = LowTotalReceipts("LowTot01")
    incs = run_detector(d, _low([0, 1_00, 50, 0, 0, 0]))
    assert len(incs) == 2
    assert len(incs[0].related_events) == 3


def test_low_receipts_near_misses() -> None:
    d = LowTotalReceipts("LowTot01")
    assert run_detector(d, _low([0, 0])) == []
    assert run_detector(d, _low([0, 1_01, 0])) == []
    assert run_detector(d, _low([0, 0, 0], gap_s=40 * 60)) == []  # not within 60 min
    assert run_detector(d, _low([0, 0, 0], kind="return")) == []


def test_empty_receipts_count_unless_excluded() -> None:
    empties: list[PosEvent] = []
    at = START
    for n in range(3):
        b = receipt("T1", op_id=str(n), at=at).close()
        empties += b.events()
        at = b.now
    assert len(run_detector(LowTotalReceipts("LowTot01"), empties)) == 1
    strict = LowTotalReceipts("LowTot01", LowTotalReceiptsParams(include_empty=False))
    assert run_detector(strict, empties) == []


# -- rule 12: keyed by hand ------------------------------------------------------------------


def _positions(b: ReceiptBuilder, pattern: str) -> ReceiptBuilder:
    for n, c in enumerate(pattern):
        b.item(f"Apple {n}", 10_00, scanned=c == "s")
    return b


def test_keyed_rate_fires_on_the_keyed_position_that_crosses() -> None:
    d = KeyedEntryRate("Keyed001", KeyedEntryRateParams(max_percent=30, min_positions=10))
    evs = _positions(receipt("T1"), "sssssssskk" + "k" * 5).close().events()
    [inc] = run_detector(d, evs)
    assert inc.related_events == [evs[12].event_id]  # 12 positions, 4 keyed = 33 %
    assert inc.custom_columns["percent"] == "33"


def test_keyed_rate_near_misses() -> None:
    d = KeyedEntryRate("Keyed001", KeyedEntryRateParams(max_percent=30, min_positions=10))
    assert run_detector(d, _positions(receipt("T1"), "sssssssk" * 3).events()) == []
    assert run_detector(d, _positions(receipt("T1"), "k" * 9).events()) == []
    spread = _positions(receipt("T1", step_s=10 * 60), "kkkkkkssss").events()
    assert run_detector(d, spread) == []  # never 10 positions within 60 minutes


def test_keyed_rate_window_state_is_bounded_by_minutes() -> None:
    d = KeyedEntryRate("Keyed001")
    evs: list[PosEvent] = []
    at = START
    for r in range(100):  # ~9 hours of receipts, 7 s apart
        b = _positions(receipt("T1", op_id=str(r), at=at, step_s=7), "kss" * 15).close()
        evs += b.events()
        at = b.now
    st = d.initial()
    sizes = []
    for n, ev in enumerate(evs):
        st, _ = d.step(st, ev, None)
        if n in (len(evs) // 2, len(evs) - 1):
            sizes.append(len(msgspec.msgpack.encode(st)))
    assert len(st.window.buckets) <= 60
    assert sizes[1] <= sizes[0] + 32


def test_card_incident_is_the_same_when_earlier_uses_arrive_swapped() -> None:
    d = DiscountCardOveruse("CardOv01")
    uses = _card_uses("7777", [("T1", START), ("T2", START + 1), ("T3", START + 2 * MIN),
                               ("T4", START + 3 * MIN)])
    swapped = uses[:]
    first_t1 = next(n for n, e in enumerate(uses) if e.type == "POS_DISCOUNT_CARD")
    first_t2 = next(n for n, e in enumerate(uses)
                    if e.type == "POS_DISCOUNT_CARD" and e.pos_terminal == "T2")
    swapped[first_t1], swapped[first_t2] = swapped[first_t2], swapped[first_t1]
    assert run_detector(d, swapped) == run_detector(d, uses)


def test_cashier_void_incident_relates_voids_in_time_order() -> None:
    d = CashierVoids("Voids002", CashierVoidsParams(max_count=2, window_minutes=10))
    dels = [pos_event(t, "POS_POSITION_DELETE", at=START + n * SEC, cashier_name="A")
            for n, t in enumerate(["T1", "T2", "T1"])]
    arrival = [dels[1], dels[0], dels[2]]  # T2's delete arrives first
    [live] = run_detector(d, arrival)
    [archive] = run_detector(d, dels)
    assert live == archive
    assert live.related_events == [e.event_id for e in dels]
