"""The analyst views agree with a computation in Python from the raw events, before and after
a replay of the same events (the views read the deduplicated tables)."""

from __future__ import annotations

import random
from collections import defaultdict
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from posguard.ingest.simulator import ChainSimulator
from posguard.model.events import PosEvent
from posguard.model.incidents import Incident
from posguard.model.receipts import TerminalState, assemble
from posguard.store.views import set_terminal_timezones, terminal_timezones
from posguard.store.writer import insert_events, insert_incidents

pytestmark = pytest.mark.integration

# 2026-11-29 14:30 UTC = 23:30 in Tokyo: the Tokyo terminal's receipts cross local midnight.
T0 = int(datetime(2026, 11, 29, 14, 30, tzinfo=UTC).timestamp()) * 1_000_000
TOKYO = "Asia/Tokyo"
START = {"POS_RECEIPT_OPEN": "sale", "POS_RECEIPT_RETURN": "return",
         "POS_RECEIPT_EXCHANGE": "exchange", "POS_RECEIPT_PAYOUT": "payout"}
END = {"POS_RECEIPT_CLOSE", "POS_RECEIPT_SELL_CLOSE", "POS_RECEIPT_RETURN_CLOSE",
       "POS_RECEIPT_EXCHANGE_CLOSE", "POS_RECEIPT_PAYOUT_CLOSE", "POS_RECEIPT_CANCEL",
       "POS_RECEIPT_CANCEL_WITH_WRITE_OFF", "POS_RECEIPT_ANNULMENT", "POS_RECEIPT_INCOMPLETE"}
CANCEL = {"POS_RECEIPT_CANCEL", "POS_RECEIPT_CANCEL_WITH_WRITE_OFF", "POS_RECEIPT_ANNULMENT"}
ADD = {"POS_POSITION_ADD", "POS_POSITION_ADD_BY_SCANNER"}


def dataset() -> tuple[ChainSimulator, list[PosEvent]]:
    sim = ChainSimulator(stores=2, terminals=3, seed=11, fraud_rate=0.3)
    events = list(sim.events(3000, T0, 1_000_000))  # 50 minutes
    # A script's fraud mark on a receipt, and a quantity change, which the simulator lacks.
    first = next(e for e in events if e.type == "POS_POSITION_ADD_BY_SCANNER")
    extra = [
        PosEvent(type="POS_FRAUD", pos_terminal=first.pos_terminal, op_id=first.op_id,
                 store=first.store, text="beer after 23:00", ts_in_receipt=first.ts_in_receipt + 1,
                 ts_received=first.ts_received + 1, event_id="fraud-1"),
        PosEvent(type="POS_POSITION_QUANTITY_CHANGE", pos_terminal=first.pos_terminal,
                 op_id=first.op_id, store=first.store, position=first.position,
                 price=first.price * 3, ts_in_receipt=first.ts_in_receipt + 2,
                 ts_received=first.ts_received + 2, event_id="qty-1"),
    ]
    return sim, events + extra


def local(ts: int, tz: str) -> datetime:
    return datetime.fromtimestamp(ts / 1e6, UTC).astimezone(ZoneInfo(tz))


def expected_receipts(events: list[PosEvent], zones: dict[str, str]) -> dict[tuple[str, str],
                                                                             dict[str, Any]]:
    """Receipts computed from the raw events, without SQL."""
    by: dict[tuple[str, str], list[PosEvent]] = defaultdict(list)
    for e in events:
        if e.op_id:
            by[(e.pos_terminal, e.op_id)].append(e)
    out = {}
    for key, evs in by.items():
        evs.sort(key=lambda e: (e.ts_in_receipt, e.ts_received))
        starts = [e for e in evs if e.type in START]
        ends = [e for e in evs if e.type in END]
        end = ends[-1].type if ends else ""
        status = ("open" if not end else "cancelled" if end in CANCEL
                  else "incomplete" if end == "POS_RECEIPT_INCOMPLETE" else "closed")
        lines: dict[int, int] = {}
        for e in sorted(evs, key=lambda e: (e.ts_in_receipt, e.ts_received, e.type,
                                            e.position, e.price)):
            if e.type in ADD:
                lines[e.position] = e.price
            elif e.type == "POS_POSITION_DELETE":
                lines.pop(e.position, None)
                lines[e.position] = None  # type: ignore[assignment]
            elif e.type in ("POS_POSITION_QUANTITY_CHANGE", "POS_POSITION_PRICE_CHANGE"):
                if lines.get(e.position) is not None:
                    lines[e.position] = e.price
        live = [v for v in lines.values() if v is not None]
        closes = [e for e in evs if e.type == "POS_RECEIPT_CLOSE"]
        close_price = closes[-1].price if closes else 0
        ts_close = ends[-1].ts_in_receipt if ends else evs[-1].ts_in_receipt
        tz = zones.get(key[0], "UTC")
        cards = [e.discount_card or e.text for e in evs if e.type == "POS_DISCOUNT_CARD"]
        out[key] = {
            "store": evs[0].store,
            "cashier_name": next((e.cashier_name for e in evs if e.cashier_name), ""),
            "kind": START[starts[0].type] if starts else "sale",
            "status": status,
            "incomplete": int(status in ("open", "incomplete")),
            "ts_open": starts[0].ts_in_receipt if starts else evs[0].ts_in_receipt,
            "ts_close": ts_close,
            "local_day": local(ts_close, tz).date().isoformat(),
            "closed_local": local(ts_close, tz).strftime("%Y-%m-%d %H:%M:%S.%f"),
            "total": 0 if status == "cancelled" else (close_price or sum(live)),
            "positions": len(live),
            "discount": sum(e.discount or e.price for e in evs
                            if e.type in ("POS_DISCOUNT_POSITION", "POS_DISCOUNT_RECEIPT")),
            "deletes": sum(e.type == "POS_POSITION_DELETE" for e in evs),
            "change": sum(e.price for e in evs if e.type == "POS_CHANGE"),
            "discount_card": cards[-1] if cards else "",
            "payment_types": sorted({e.type for e in evs if e.type.startswith("POS_PAYMENT_")}),
            "frauds": sum(e.type == "POS_FRAUD" for e in evs),
            "events": len(evs),
        }
    return out


def view_receipts(store: Any) -> dict[tuple[str, str], dict[str, Any]]:
    rows = store.query(
        "SELECT pos_terminal, op_id, store, cashier_name, kind, status, toUInt8(incomplete), "
        "ts_open, ts_close, toString(local_day), toString(closed_local), total, positions, "
        "discount, deletes, change, discount_card, payment_types, frauds, events "
        f"FROM {store.database}.receipt_summary").rows
    names = ("store", "cashier_name", "kind", "status", "incomplete", "ts_open", "ts_close",
             "local_day", "closed_local", "total", "positions", "discount", "deletes", "change",
             "discount_card", "payment_types", "frauds", "events")
    return {(r[0], r[1]): dict(zip(names, r[2:], strict=True)) for r in rows}


def incidents(sim: ChainSimulator) -> list[Incident]:
    t = sim.terminals[0]
    return [Incident(id=f"i{k}", detector="D", type_name="Large discount", type_id="X",
                     terminal_guid=t.guid, cashier_name=t.cashier, store=t.store,
                     ts_created=T0 + k * 600_000_000) for k in range(4)]


def expected_cashier_day(receipts: dict[tuple[str, str], dict[str, Any]],
                         events: list[PosEvent], incs: list[Incident],
                         zones: dict[str, str]) -> dict[tuple[str, str, str], dict[str, Any]]:
    out: dict[tuple[str, str, str], dict[str, Any]] = defaultdict(lambda: defaultdict(int))
    for r in receipts.values():
        d = out[(r["store"], r["cashier_name"], r["local_day"])]
        closed = r["status"] == "closed"
        d["receipts"] += closed
        d["sales"] += r["total"] if closed and r["kind"] == "sale" else 0
        d["cancelled_receipts"] += r["status"] == "cancelled"
        d["voids"] += r["deletes"]
        d["positions"] += r["positions"]
        d["refunds"] += closed and r["kind"] == "return"
        d["discounts"] += r["discount"]
    for e in events:
        if e.type == "POS_DRAWER_OPEN":
            day = local(e.ts_in_receipt, zones.get(e.pos_terminal, "UTC")).date().isoformat()
            d = out[(e.store, e.cashier_name, day)]
            d["drawer_opens"] += 1
            d["no_sale_drawer_opens"] += e.op_id == ""
    for i in incs:
        day = local(i.ts_created, zones.get(i.terminal_guid, "UTC")).date().isoformat()
        out[(i.store, i.cashier_name, day)]["incidents"] += 1
    return {k: dict(v) for k, v in out.items()}


CASHIER_COLS = ("receipts", "sales", "cancelled_receipts", "voids", "positions", "refunds",
                "discounts", "drawer_opens", "no_sale_drawer_opens", "incidents")


def view_cashier_day(store: Any) -> dict[tuple[str, str, str], dict[str, Any]]:
    rows = store.query(f"SELECT store, cashier_name, toString(day), {', '.join(CASHIER_COLS)} "
                       f"FROM {store.database}.cashier_day").rows
    return {(r[0], r[1], r[2]): {c: v for c, v in zip(CASHIER_COLS, r[3:], strict=True) if v}
            for r in rows}


def expected_terminal_hour(events: list[PosEvent]) -> dict[tuple[str, int], dict[str, int]]:
    out: dict[tuple[str, int], dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for e in events:
        d = out[(e.pos_terminal, e.ts_received // 3_600_000_000)]
        d["events"] += 1
        d["receipts_opened"] += e.type in START
        d["receipts_closed"] += e.type in END and e.type not in CANCEL
        d["receipts_cancelled"] += e.type in CANCEL
        d["sales"] += e.price if e.type == "POS_RECEIPT_CLOSE" else 0
        d["positions"] += e.type in ADD
        d["deletes"] += e.type == "POS_POSITION_DELETE"
        d["drawer_opens"] += e.type == "POS_DRAWER_OPEN"
    return {k: {c: v for c, v in d.items() if v} for k, d in out.items()}


HOUR_COLS = ("events", "receipts_opened", "receipts_closed", "receipts_cancelled", "sales",
             "positions", "deletes", "drawer_opens")


def view_terminal_hour(store: Any) -> dict[tuple[str, int], dict[str, int]]:
    rows = store.query(f"SELECT pos_terminal, hour_bucket, {', '.join(HOUR_COLS)} "
                       f"FROM {store.database}.terminal_hour").rows
    return {(r[0], int(r[1])): {c: v for c, v in zip(HOUR_COLS, r[2:], strict=True) if v}
            for r in rows}


def check_all(store: Any, sim: ChainSimulator, events: list[PosEvent],
              zones: dict[str, str]) -> None:
    receipts = expected_receipts(events, zones)
    assert view_receipts(store) == receipts
    assert view_cashier_day(store) == {
        k: {c: v for c, v in d.items() if v}
        for k, d in expected_cashier_day(receipts, events, incidents(sim), zones).items()}
    assert view_terminal_hour(store) == expected_terminal_hour(events)


def test_views_agree_with_python_before_and_after_a_replay(store: Any) -> None:
    sim, events = dataset()
    zones = {sim.terminals[0].guid: TOKYO}
    set_terminal_timezones(store, zones, {sim.terminals[0].guid: sim.terminals[0].store})
    assert terminal_timezones(store) == zones
    insert_events(store, events)
    insert_incidents(store, incidents(sim))
    receipts = expected_receipts(events, zones)
    # The dataset exercises what the views compute.
    statuses = {r["status"] for r in receipts.values()}
    assert {"closed", "cancelled", "open"} <= statuses
    tokyo = sim.terminals[0].guid
    assert len({r["local_day"] for k, r in receipts.items() if k[0] == tokyo}) == 2
    assert any(r["deletes"] for r in receipts.values())
    assert any(r["frauds"] for r in receipts.values())
    check_all(store, sim, events, zones)

    # A replay: the same events again, in other blocks (so block-level insert dedup cannot
    # drop them), and the same incidents.
    # Merges stopped so the duplicates stay visible (a merge would collapse them at once).
    store.command(f"SYSTEM STOP MERGES {store.database}.events")
    shuffled = events[:]
    random.Random(5).shuffle(shuffled)
    for k in range(0, len(shuffled), 700):
        insert_events(store, shuffled[k:k + 700])
    insert_incidents(store, incidents(sim)[::-1])
    raw = store.query(f"SELECT count() FROM {store.database}.events").scalar()
    assert raw > len(events)  # the duplicates are stored (not yet merged away) ...
    check_all(store, sim, events, zones)  # ... and the views still count each event once
    store.command(f"SYSTEM START MERGES {store.database}.events")


def test_receipt_summary_between_reads_only_the_range(store: Any) -> None:
    sim, events = dataset()
    insert_events(store, events)
    t0, t1 = T0 + 600_000_000, T0 + 1_800_000_000
    inside = [e for e in events if t0 <= e.ts_received < t1]
    rows = store.query(
        "SELECT pos_terminal, op_id, total, positions, deletes, status, events "
        f"FROM {store.database}.receipt_summary_between(t0={t0}, t1={t1})").rows
    want = expected_receipts(inside, {})
    assert {(r[0], r[1]): r[2:] for r in rows} == {
        k: (v["total"], v["positions"], v["deletes"], v["status"], v["events"])
        for k, v in want.items()}
    assert 0 < len(rows) < len(view_receipts(store))


def test_receipt_summary_agrees_with_receipt_assembly(store: Any) -> None:
    """For receipts that closed, the view and model.receipts.assemble (which fills the
    `receipts` table) give the same figures."""
    sim, events = dataset()
    insert_events(store, events)
    states: dict[str, TerminalState] = defaultdict(TerminalState)
    assembled = {}
    for e in sorted(events, key=lambda e: e.ts_in_receipt):  # terminal order
        states[e.pos_terminal], done = assemble(states[e.pos_terminal], e)
        for r in done:
            assembled[(r.pos_terminal, r.op_id)] = r
    view = view_receipts(store)
    assert len(assembled) > 200
    for key, r in assembled.items():
        v = view[key]
        assert (v["status"], v["total"], v["positions"], v["deletes"], v["discount"],
                v["change"], v["discount_card"], v["ts_open"], v["ts_close"], v["kind"],
                v["cashier_name"], v["frauds"]) == (
            r.status, r.total, r.positions, r.deletes, r.discount, r.change, r.discount_card,
            r.ts_open, r.ts_close, r.kind, r.cashier_name, r.frauds), key
        assert v["payment_types"] == sorted(r.payment_types)


def test_incidents_current_shows_the_latest_version(store: Any) -> None:
    base = Incident(id="i1", detector="D", type_name="T", type_id="X", terminal_guid="T1",
                    ts_created=T0)
    insert_incidents(store, [base], version=0)
    insert_incidents(store, [base.__class__(**{**_fields(base), "status": 1,
                                                "expert": "ann"})], version=3)
    insert_incidents(store, [base], version=0)  # a replay of the first version
    rows = store.query(f"SELECT id, status, status_name, expert, version "
                       f"FROM {store.database}.incidents_current").rows
    assert rows == [("i1", 1, "confirmed", "ann", 3)]


def _fields(i: Incident) -> dict[str, Any]:
    import msgspec

    return msgspec.structs.asdict(i)


def test_unknown_terminal_timezone_is_refused(store: Any) -> None:
    from posguard.model.errors import TimeArgumentError

    with pytest.raises(TimeArgumentError):
        set_terminal_timezones(store, {"T1": "Mars/Olympus"})
