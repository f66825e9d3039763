"""Rules that look inside one terminal's receipts: scenarios that fire and near-misses."""

from __future__ import annotations

import pytest
from detector_scenarios import MIN, SEC, local_ts

from posguard.detectors.base import event_key
from posguard.detectors.delete_without_admin import DeleteWithoutAdmin, DeleteWithoutAdminParams
from posguard.detectors.drawer_outside_receipt import (
    DrawerOutsideReceipt,
    DrawerOutsideReceiptParams,
)
from posguard.detectors.events_filter import EventsFilter, EventsFilterParams
from posguard.detectors.large_discount import LargeDiscount, LargeDiscountParams
from posguard.detectors.localtime import Zones
from posguard.detectors.price_override import PriceOverride, PriceOverrideParams
from posguard.detectors.receipt_cancelled import ReceiptCancelled, ReceiptCancelledParams
from posguard.detectors.receipt_open_too_long import (
    ReceiptOpenTooLong,
    ReceiptOpenTooLongParams,
)
from posguard.detectors.restricted_goods_hours import (
    RestrictedGoodsHours,
    RestrictedGoodsHoursParams,
)
from posguard.detectors.suspicious_refund import SuspiciousRefund, SuspiciousRefundParams
from posguard.detectors.testing import START, pos_event, receipt, run_detector
from posguard.model.incidents import incident_id

# -- rule 1: events filter -------------------------------------------------------------------


def test_events_filter_any_fires_on_each_listed_event() -> None:
    d = EventsFilter("EvFilt01", EventsFilterParams(events=("POS_FRAUD", "POS_GIFT")))
    evs = receipt("T1").item("Milk", 89_90).event("POS_FRAUD").event("POS_GIFT").close().events()
    incs = run_detector(d, evs)
    assert [i.related_events for i in incs] == [[evs[2].event_id], [evs[3].event_id]]
    assert incs[0].id == incident_id("EvFilt01", [evs[2].event_id])


def test_events_filter_any_ignores_other_types() -> None:
    d = EventsFilter("EvFilt01")
    evs = receipt("T1").item("Milk", 89_90).delete().cancel().events()
    assert run_detector(d, evs) == []


@pytest.mark.parametrize(
    ("text", "match", "case", "expected"),
    [
        ("beer", "contains", False, ["Dark Beer 0.5", "BEER light"]),
        ("beer", "contains", True, []),
        ("Dark", "starts_with", False, ["Dark Beer 0.5"]),
        ("0.5", "ends_with", False, ["Dark Beer 0.5"]),
        ("beer light", "exact", False, ["BEER light"]),
        ("4600", "starts_with", False, ["Milk"]),  # matches the barcode too
    ],
)
def test_events_filter_text_condition(text: str, match: str, case: bool,
                                      expected: list[str]) -> None:
    d = EventsFilter("EvFilt02", EventsFilterParams(
        events=("POS_POSITION_ADD_BY_SCANNER",), text=text, text_match=match,
        case_sensitive=case))
    evs = (receipt("T1").item("Dark Beer 0.5", 90_00).item("BEER light", 80_00)
           .item("Milk", 89_90, barcode="46001234").close().events())
    text_of = {e.event_id: e.text for e in evs}
    assert [text_of[i.related_events[0]] for i in run_detector(d, evs)] == expected


def test_events_filter_price_bounds() -> None:
    d = EventsFilter("EvFilt03", EventsFilterParams(
        events=("POS_POSITION_ADD_BY_SCANNER",), min_price=50_00, max_price=100_00))
    evs = receipt("T1").item("a", 49_99).item("b", 50_00).item("c", 100_00).item(
        "d", 100_01).events()
    assert [i.related_events[0] for i in run_detector(d, evs)] == [evs[2].event_id,
                                                                   evs[3].event_id]


def test_events_filter_all_fires_once_per_receipt_having_every_type() -> None:
    d = EventsFilter("EvFilt04", EventsFilterParams(
        events=("POS_POSITION_DELETE", "POS_DISCOUNT_CARD"), mode="all"))
    b = receipt("T1", op_id="1").item("Milk", 89_90).delete().card("77").item("Tea", 10_00)
    b.delete().close()
    evs = b.events()
    incs = run_detector(d, evs)
    assert len(incs) == 1
    assert incs[0].related_events == [evs[2].event_id, evs[3].event_id]
    assert incs[0].related_ts == [evs[2].ts_in_receipt, evs[3].ts_in_receipt]


def test_events_filter_all_near_miss_types_split_over_two_receipts() -> None:
    d = EventsFilter("EvFilt04", EventsFilterParams(
        events=("POS_POSITION_DELETE", "POS_DISCOUNT_CARD"), mode="all"))
    r1 = receipt("T1", op_id="1").item("Milk", 89_90).delete().close()
    r2 = receipt("T1", op_id="2", at=r1.now).card("77").item("Tea", 10_00).close()
    assert run_detector(d, r1.events() + r2.events()) == []


@pytest.mark.parametrize("bad", [
    {"events": ()}, {"events": ("POS_NOPE",)}, {"mode": "some"}, {"text_match": "regex"},
    {"min_price": -1},
])
def test_events_filter_refuses_bad_params(bad: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        EventsFilterParams(**bad)  # type: ignore[arg-type]


# -- rule 2: delete without admin ------------------------------------------------------------


def test_delete_without_admin_fires_with_fields_from_the_event() -> None:
    d = DeleteWithoutAdmin("DelAdm01")
    evs = receipt("T1", op_id="42", cashier="Ivanov I").item("Milk", 89_90).delete(1).close(
    ).events()
    [inc] = run_detector(d, evs)
    dele = evs[2]
    assert inc.id == incident_id("DelAdm01", [dele.event_id])
    assert inc.detector == "DelAdm01"
    assert inc.terminal_guid == "T1" and inc.terminal_name == "Till T1"
    assert inc.cashier_name == "Ivanov I" and inc.op_id == "42" and inc.store == "S1"
    assert inc.ts_created == dele.ts_received
    assert inc.related_ts == [dele.ts_in_receipt] and inc.related_events == [dele.event_id]
    assert inc.type_name == "Position deleted without an administrator"
    assert inc.custom_columns["amount"] == "8990"


def test_delete_with_admin_signed_in_is_fine() -> None:
    d = DeleteWithoutAdmin("DelAdm01")
    evs = receipt("T1").item("Milk", 89_90).admin_login().delete(1).close().events()
    assert run_detector(d, evs) == []


def test_delete_after_admin_signed_out_fires_unless_allowed_for_the_receipt() -> None:
    evs = receipt("T1").item("Milk", 89_90).admin_login().admin_logout().delete(1).events()
    assert len(run_detector(DeleteWithoutAdmin("DelAdm01"), evs)) == 1
    relaxed = DeleteWithoutAdmin("DelAdm01",
                                 DeleteWithoutAdminParams(admin_anytime_in_receipt=True))
    assert run_detector(relaxed, evs) == []


def test_delete_below_min_amount_is_fine() -> None:
    d = DeleteWithoutAdmin("DelAdm01", DeleteWithoutAdminParams(min_amount=100_00))
    evs = receipt("T1").item("Milk", 89_90).delete().item("TV", 100_00).delete().events()
    assert [i.custom_columns["amount"] for i in run_detector(d, evs)] == ["10000"]


def test_event_key_falls_back_when_event_id_is_empty() -> None:
    ev = pos_event("T9", "POS_POSITION_DELETE", at=123, event_id="")
    [inc] = run_detector(DeleteWithoutAdmin("DelAdm01"), [ev])
    assert event_key(ev) == "T9|123|POS_POSITION_DELETE"
    assert inc.id == incident_id("DelAdm01", ["T9|123|POS_POSITION_DELETE"])


# -- rule 3: receipt cancelled ---------------------------------------------------------------


@pytest.mark.parametrize("kind", ["POS_RECEIPT_CANCEL", "POS_RECEIPT_ANNULMENT",
                                  "POS_RECEIPT_CANCEL_WITH_WRITE_OFF"])
def test_cancel_after_positions_fires(kind: str) -> None:
    evs = receipt("T1").item("Vodka", 499_00).item("Tea", 1_00).cancel(kind).events()
    [inc] = run_detector(ReceiptCancelled("Cancel01"), evs)
    assert inc.custom_columns["amount"] == "50000"


def test_cancel_of_empty_receipt_is_fine_but_not_after_a_delete() -> None:
    assert run_detector(ReceiptCancelled("Cancel01"), receipt("T1").cancel().events()) == []
    evs = receipt("T1").item("Vodka", 499_00).delete().cancel().events()
    assert len(run_detector(ReceiptCancelled("Cancel01"), evs)) == 1


def test_cancel_min_amount_and_payment_condition() -> None:
    evs = receipt("T1").item("Tea", 99_00).cancel().events()
    assert run_detector(ReceiptCancelled("Cancel01", ReceiptCancelledParams(min_amount=100_00)),
                        evs) == []
    only_paid = ReceiptCancelled("Cancel01", ReceiptCancelledParams(after="payment"))
    assert run_detector(only_paid, evs) == []
    paid = receipt("T1").item("Tea", 99_00).pay().cancel().events()
    assert len(run_detector(only_paid, paid)) == 1


def test_cancel_outside_any_receipt_is_ignored() -> None:
    assert run_detector(ReceiptCancelled("Cancel01"),
                        [pos_event("T1", "POS_RECEIPT_CANCEL")]) == []


# -- rule 4: suspicious refund ---------------------------------------------------------------


def _sale_then_return(gap_s: float, **ret_items: int) -> list:
    sale = receipt("T1", op_id="1").item("Phone", 300_00, barcode="460001").close()
    back = receipt("T1", op_id="2", kind="return", at=sale.now + int(gap_s * SEC))
    for code, price in ret_items.items():
        back.item(code, price, barcode=code)
    return sale.events() + back.close().events()


def test_refund_of_item_sold_minutes_ago_fires_with_both_events() -> None:
    evs = _sale_then_return(20 * 60, **{"460001": 300_00})
    [inc] = run_detector(SuspiciousRefund("Refund01"), evs)
    sale_ev, ret_ev = evs[1], evs[4]
    assert inc.related_events == [sale_ev.event_id, ret_ev.event_id]
    assert inc.id == incident_id("Refund01", [sale_ev.event_id, ret_ev.event_id])
    assert inc.custom_columns["reason"] == "recent_sale"


def test_refund_after_the_window_or_of_another_item_is_fine() -> None:
    d = SuspiciousRefund("Refund01")
    assert run_detector(d, _sale_then_return(31 * 60, **{"460001": 300_00})) == []
    assert run_detector(d, _sale_then_return(60, **{"460002": 300_00})) == []


def test_refund_amount_threshold_on_return_receipt_and_position_return() -> None:
    d = SuspiciousRefund("Refund01", SuspiciousRefundParams(min_amount=500_00,
                                                            recent_sale_minutes=0))
    big = receipt("T1", kind="return").item("TV", 300_00).item("Radio", 200_00).close()
    small = receipt("T1", op_id="2", kind="return", at=big.now).item("TV", 499_99).close()
    pr = receipt("T1", op_id="3", at=small.now).position_return("TV", 500_00).close()
    incs = run_detector(d, big.events() + small.events() + pr.events())
    assert [i.custom_columns["amount"] for i in incs] == ["50000", "50000"]
    assert [i.op_id for i in incs] == ["1", "3"]


def test_refund_memory_is_bounded() -> None:
    d = SuspiciousRefund("Refund01", SuspiciousRefundParams(max_remembered=3))
    sale = receipt("T1", op_id="1")
    for n in range(5):
        sale.item(f"Item {n}", 10_00, barcode=f"B{n}")
    sale.close()
    back = receipt("T1", op_id="2", kind="return", at=sale.now).item("x", 10_00, barcode="B0")
    back.item("y", 10_00, barcode="B4").close()
    incs = run_detector(d, sale.events() + back.events())
    assert [i.custom_columns["item"] for i in incs] == ["B4"]


# -- rule 5: large discount ------------------------------------------------------------------


@pytest.mark.parametrize(("amount", "fires"), [(300_00, False), (300_01, True)])
def test_position_discount_percent_is_strictly_above(amount: int, fires: bool) -> None:
    d = LargeDiscount("Discnt01", LargeDiscountParams(max_percent=30, max_amount=0))
    evs = receipt("T1").item("Cheese", 1000_00).discount(amount, position=1).events()
    assert len(run_detector(d, evs)) == (1 if fires else 0)


def test_receipt_discount_against_the_receipt_and_amount_limit() -> None:
    d = LargeDiscount("Discnt01", LargeDiscountParams(max_percent=50, max_amount=200_00))
    evs = (receipt("T1").item("a", 100_00).item("b", 300_00).discount(190_00)  # 47 %: fine
           .discount(201_00)  # above the amount limit
           .events())
    [inc] = run_detector(d, evs)
    assert inc.related_events == [evs[4].event_id]
    assert inc.custom_columns == {"amount": "20100", "percent": "50",
                                  "details": "discount 201.00 of 400.00 (50%)"}


def test_discount_limits_off() -> None:
    d = LargeDiscount("Discnt01", LargeDiscountParams(max_percent=0, max_amount=0))
    evs = receipt("T1").item("a", 100_00).discount(100_00, position=1).events()
    assert run_detector(d, evs) == []


# -- rule 6: price override ------------------------------------------------------------------


def test_price_learning_is_off_by_default_and_positions_are_not_even_seen() -> None:
    d = PriceOverride("PriceO01")
    assert d.types == {"POS_POSITION_PRICE_CHANGE"}
    r1 = receipt("T1", op_id="1").item("Tea", 100_00, article="A1").close()
    r2 = receipt("T1", op_id="2", at=r1.now).item("Tea", 10_00, article="A1").close()
    assert run_detector(d, r1.events() + r2.events()) == []


def test_price_set_by_hand_fires_unless_switched_off() -> None:
    evs = receipt("T1").item("Tea", 100_00).price_change(1, 10_00).close().events()
    assert len(run_detector(PriceOverride("PriceO01"), evs)) == 1
    quiet = PriceOverride("PriceO01", PriceOverrideParams(manual_change=False))
    assert run_detector(quiet, evs) == []


def test_price_below_reference_fires_at_the_drop() -> None:
    d = PriceOverride("PriceO01", PriceOverrideParams(reference_prices={"A1": 100_00},
                                                      learn=False))
    evs = receipt("T1").item("a", 80_00, article="A1").item("b", 80_01, article="A1").events()
    [inc] = run_detector(d, evs)
    assert inc.related_events == [evs[1].event_id]
    assert inc.custom_columns["usual"] == "10000"


def test_price_learnt_from_sales_then_forgotten_after_learn_hours() -> None:
    d = PriceOverride("PriceO01", PriceOverrideParams(learn=True, learn_hours=1))
    r1 = receipt("T1", op_id="1").item("Tea", 100_00, article="A1").close()
    r2 = receipt("T1", op_id="2", at=r1.now).item("Tea", 70_00, article="A1").item(
        "Tea", 95_00, article="A1").close()
    r3 = receipt("T1", op_id="3", at=r2.now + 2 * 3600 * SEC).item("Tea", 50_00,
                                                                   article="A1").close()
    incs = run_detector(d, r1.events() + r2.events() + r3.events())
    assert [i.custom_columns["price"] for i in incs] == ["7000"]


def test_price_learning_is_bounded() -> None:
    d = PriceOverride("PriceO01", PriceOverrideParams(learn=True, max_learned=2))
    b = receipt("T1")
    for n in range(3):
        b.item("x", 100_00, article=f"A{n}")
    b.item("x", 10_00, article="A0").item("x", 10_00, article="A2")
    incs = run_detector(d, b.events())
    assert [i.related_events[0] for i in incs] == [b.events()[5].event_id]


# -- rule 7: cash drawer outside a receipt ---------------------------------------------------


def test_drawer_outside_receipt_fires_inside_or_just_after_is_fine() -> None:
    d = DrawerOutsideReceipt("Drawer01")
    r = receipt("T1").item("Tea", 10_00).event("POS_DRAWER_OPEN").close()
    just_after = pos_event("T1", "POS_DRAWER_OPEN", at=r.now + 5 * SEC)
    later = pos_event("T1", "POS_DRAWER_OPEN", at=r.now + 60 * SEC)
    incs = run_detector(d, r.events() + [just_after, later])
    assert [i.related_events for i in incs] == [[later.event_id]]


def test_drawer_allowance_per_local_day_and_shift() -> None:
    d = DrawerOutsideReceipt("Drawer01", DrawerOutsideReceiptParams(max_per_day=1),
                             zones=Zones(terminals={"T1": "Europe/Moscow"}))
    day1 = local_ts("Europe/Moscow", 2027, 1, 15, 23, 0)
    evs = [
        pos_event("T1", "POS_DRAWER_OPEN", at=day1),
        pos_event("T1", "POS_DRAWER_OPEN", at=day1 + 30 * MIN),  # 2nd today: fires
        pos_event("T1", "POS_DRAWER_OPEN", at=day1 + 90 * MIN),  # 00:30 next day: 1st
        pos_event("T1", "POS_SHIFT_START", at=day1 + 100 * MIN),
        pos_event("T1", "POS_DRAWER_OPEN", at=day1 + 110 * MIN),  # 1st of the shift
        pos_event("T1", "POS_DRAWER_OPEN", at=day1 + 120 * MIN),  # fires
    ]
    incs = run_detector(d, evs)
    assert [i.related_events[0] for i in incs] == [evs[1].event_id, evs[5].event_id]


# -- rule 8: restricted goods in hours -------------------------------------------------------

MSK = Zones(terminals={"T1": "Europe/Moscow"})


@pytest.mark.parametrize(("hh", "mm", "fires"), [
    (22, 59, False), (23, 0, True), (2, 0, True), (7, 59, True), (8, 0, False), (15, 0, False),
])
def test_alcohol_window_in_store_local_time(hh: int, mm: int, fires: bool) -> None:
    at = local_ts("Europe/Moscow", 2027, 1, 15, hh, mm)
    evs = receipt("T1", at=at, step_s=1).item("Vodka Russkaya 0.5", 399_00).events()
    incs = run_detector(RestrictedGoodsHours("Alcohl01", zones=MSK), evs)
    assert len(incs) == (1 if fires else 0)
    if fires:
        assert incs[0].custom_columns["local_time"] == f"{hh:02d}:{mm:02d}"


def test_alcohol_window_uses_the_terminal_zone_not_utc() -> None:
    at = local_ts("Europe/Moscow", 2027, 1, 15, 23, 30)  # 20:30 UTC
    evs = receipt("T1", at=at).item("Beer", 99_00).events()
    assert len(run_detector(RestrictedGoodsHours("Alcohl01", zones=MSK), evs)) == 1
    assert run_detector(RestrictedGoodsHours("Alcohl01"), evs) == []  # UTC terminal
    utc = RestrictedGoodsHoursParams(timezone="UTC")
    assert run_detector(RestrictedGoodsHours("Alcohl01", utc, zones=MSK), evs) == []


def test_restricted_by_article_other_goods_and_returns_are_fine() -> None:
    at = local_ts("Europe/Moscow", 2027, 1, 15, 23, 30)
    p = RestrictedGoodsHoursParams(words=("пиво",), articles=("TOB1",))
    d = RestrictedGoodsHours("Alcohl01", p, zones=MSK)
    sale = receipt("T1", at=at).item("ПИВО Балтика", 99_00).item("Cigarettes", 200_00,
                                                                  article="TOB1")
    sale.item("Milk", 89_90).item("Vodka", 499_00).close()
    ret = receipt("T1", op_id="2", kind="return", at=sale.now).item("ПИВО", 99_00).close()
    incs = run_detector(d, sale.events() + ret.events())
    assert [i.custom_columns["matched"] for i in incs] == ["пиво", "TOB1"]


def test_restricted_window_not_wrapping_midnight() -> None:
    p = RestrictedGoodsHoursParams(start="14:00", end="16:00")
    d = RestrictedGoodsHours("Alcohl01", p, zones=MSK)
    inside = local_ts("Europe/Moscow", 2027, 1, 15, 15, 0)
    outside = local_ts("Europe/Moscow", 2027, 1, 15, 23, 30)
    evs = receipt("T1", at=inside).item("Wine", 1).close().events()
    evs += receipt("T1", op_id="2", at=outside).item("Wine", 1).close().events()
    assert [i.op_id for i in run_detector(d, evs)] == ["1"]


@pytest.mark.parametrize("bad", [{"start": "23:00", "end": "23:00"}, {"start": "24:00"},
                                 {"timezone": "Mars/Olympus"}, {"words": ("",)}])
def test_restricted_refuses_bad_params(bad: dict[str, str]) -> None:
    with pytest.raises(ValueError):
        RestrictedGoodsHoursParams(**bad)  # type: ignore[arg-type]


# -- rule 13: receipt open too long ----------------------------------------------------------


def test_receipt_open_too_long_fires_once_at_the_first_late_event() -> None:
    d = ReceiptOpenTooLong("TooLng01")
    evs = receipt("T1", step_s=6 * 60).item("a", 1).item("b", 1).item("c", 1).close().events()
    [inc] = run_detector(d, evs)
    assert inc.related_events == [evs[3].event_id]  # 18 min after the open
    assert inc.custom_columns["reason"] == "too_long"
    assert inc.id == incident_id("TooLng01", [f"receipt=T1|1|{START}"])


def test_receipt_closed_in_time_is_fine() -> None:
    evs = receipt("T1", step_s=60).item("a", 1).item("b", 1).close().events()
    assert run_detector(ReceiptOpenTooLong("TooLng01"), evs) == []


def test_receipt_never_closed_reported_with_its_own_op_id() -> None:
    torn = receipt("T1", op_id="7").item("a", 1)
    nxt = receipt("T1", op_id="8", at=torn.now).item("b", 1).close()
    evs = torn.events() + nxt.events()
    [inc] = run_detector(ReceiptOpenTooLong("TooLng01"), evs)
    assert inc.op_id == "7" and inc.custom_columns["reason"] == "never_closed"
    assert inc.related_events == [nxt.events()[0].event_id]
    off = ReceiptOpenTooLong("TooLng01", ReceiptOpenTooLongParams(never_closed=False))
    assert run_detector(off, evs) == []


def test_receipt_incomplete_event_counts_as_never_closed() -> None:
    evs = receipt("T1").item("a", 1).event("POS_RECEIPT_INCOMPLETE").events()
    [inc] = run_detector(ReceiptOpenTooLong("TooLng01"), evs)
    assert inc.custom_columns["reason"] == "never_closed"
