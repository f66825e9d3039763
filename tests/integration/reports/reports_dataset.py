"""A generated dataset for the report tests, and each report's figures computed independently
in plain Python from the raw events, receipts and incidents (no SQL, no posguard.reports code).

(A helper module rather than a conftest.py: test folders here have no __init__.py.)
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from fractions import Fraction
from typing import Any
from zoneinfo import ZoneInfo

from posguard.ingest.simulator import ChainSimulator
from posguard.model.events import PosEvent
from posguard.model.incidents import Incident
from posguard.model.receipts import Receipt, TerminalState, assemble

START = 1_796_000_000_000_000  # 2026-11-30 00:53:20 UTC
STEP = 45_000_000  # one event every 45 s: 3,000 events span ~37 hours
T0 = START + 2 * 3600 * 1_000_000  # the period leaves out the first two hours ...
T1 = START + 33 * 3600 * 1_000_000  # ... and the last ones
TZ = "Asia/Yekaterinburg"  # UTC+5: local days differ from UTC days
POSITIONS = ("POS_POSITION_ADD", "POS_POSITION_ADD_BY_SCANNER")
CANCELS = ("POS_RECEIPT_CANCEL", "POS_RECEIPT_CANCEL_WITH_WRITE_OFF", "POS_RECEIPT_ANNULMENT")
DISCOUNTS = ("POS_DISCOUNT_POSITION", "POS_DISCOUNT_RECEIPT")
STATUS = {0: "new", 1: "confirmed", 2: "rejected"}


@dataclass
class Dataset:
    events: list[PosEvent]
    receipts: list[Receipt]
    incidents: list[tuple[Incident, int]]  # (incident, version), every version stored

    def latest_incidents(self) -> list[Incident]:
        best: dict[str, tuple[int, Incident]] = {}
        for inc, v in self.incidents:
            if inc.id not in best or v > best[inc.id][0]:
                best[inc.id] = (v, inc)
        return [i for _, i in best.values()]


def _extra_events(t: int) -> list[PosEvent]:
    """What the simulator never sends: refunds, position discounts, other cancel kinds, a
    cashier with a quote in the name, a delete that names its item."""
    def ev(typ: str, dt: int, **kw: Any) -> PosEvent:
        base: dict[str, Any] = {"pos_terminal": "X1TERM01", "pos_terminal_name": "Kiosk 'X'",
                                "store": "store-3", "cashier_name": "O'Brien",
                                "event_id": f"x-{dt}-{typ}"}
        base.update(kw)
        return PosEvent(type=typ, ts_in_receipt=t + dt, ts_received=t + dt, **base)

    s = 1_000_000
    return [
        ev("POS_CASHIER_LOGIN", 0, text="O'Brien"),
        ev("POS_RECEIPT_RETURN", 1 * s, op_id="R1"),
        ev("POS_POSITION_RETURN", 2 * s, op_id="R1", position=1, price=12_990, text="Bananas"),
        ev("POS_POSITION_ADD", 3 * s, op_id="R1", position=1, price=12_990, text="Bananas"),
        ev("POS_RECEIPT_RETURN_CLOSE", 4 * s, op_id="R1", price=12_990),
        ev("POS_RECEIPT_OPEN", 10 * s, op_id="S1"),
        ev("POS_POSITION_ADD_BY_SCANNER", 11 * s, op_id="S1", position=1, price=70_000,
           text="Wine red dry 0.75l"),
        ev("POS_POSITION_ADD", 12 * s, op_id="S1", position=2, price=8_990, text="Beer"),
        ev("POS_DISCOUNT_POSITION", 13 * s, op_id="S1", position=1, discount=7_001, price=0),
        ev("POS_POSITION_DELETE", 14 * s, op_id="S1", position=2, price=8_990,
           text="Beer (deleted)"),
        ev("POS_DISCOUNT_CARD", 15 * s, op_id="S1", discount_card="CARD-X", text="CARD-X"),
        ev("POS_DISCOUNT_RECEIPT", 16 * s, op_id="S1", price=333),
        ev("POS_PAYMENT_CASH", 17 * s, op_id="S1", price=70_000),
        ev("POS_DRAWER_OPEN", 18 * s, op_id="S1"),
        ev("POS_RECEIPT_CLOSE", 19 * s, op_id="S1", price=62_666),
        ev("POS_RECEIPT_OPEN", 30 * s, op_id="C1"),
        ev("POS_POSITION_ADD_BY_SCANNER", 31 * s, op_id="C1", position=1, price=5_000),
        ev("POS_RECEIPT_CANCEL_WITH_WRITE_OFF", 32 * s, op_id="C1", price=5_000),
        ev("POS_RECEIPT_OPEN", 40 * s, op_id="A1"),
        ev("POS_POSITION_ADD_BY_SCANNER", 41 * s, op_id="A1", position=1, price=1_000),
        ev("POS_RECEIPT_ANNULMENT", 42 * s, op_id="A1", price=1_000),
        ev("POS_DRAWER_OPEN", 50 * s),
    ]


def make_dataset(n: int = 3000, seed: int = 11) -> Dataset:
    """Simulated chain traffic around the period, plus hand-made events, receipts assembled
    from them, and incidents with reviews (several versions, latest wins)."""
    sim = ChainSimulator(stores=2, terminals=3, seed=seed, fraud_rate=0.25)
    events = list(sim.events(n, START, STEP))
    events += _extra_events(T0 + 5 * 3600 * 1_000_000)
    events.sort(key=lambda e: (e.ts_in_receipt, e.event_id))
    states: dict[str, TerminalState] = {}
    receipts: list[Receipt] = []
    for e in events:
        st, done = assemble(states.setdefault(e.pos_terminal, TerminalState()), e)
        states[e.pos_terminal] = st
        receipts += done
    incidents: list[tuple[Incident, int]] = []
    kinds = {"POS_POSITION_DELETE": "Delete without admin", "POS_RECEIPT_CANCEL": "Cancel",
             "POS_RECEIPT_CANCEL_WITH_WRITE_OFF": "Cancel", "POS_DRAWER_OPEN": "Drawer"}
    k = 0
    for e in events:
        if e.type not in kinds or (e.type == "POS_DRAWER_OPEN" and e.op_id):
            continue
        k += 1
        inc = Incident(id=f"inc{k:04d}", detector="D" + str(k % 3), type_name=kinds[e.type],
                       terminal_guid=e.pos_terminal, terminal_name=e.pos_terminal_name,
                       cashier_name=e.cashier_name, store=e.store, op_id=e.op_id,
                       ts_created=e.ts_in_receipt + 500_000, related_ts=[e.ts_in_receipt],
                       related_events=[e.event_id])
        incidents.append((inc, 0))
        review = k % 5
        if review in (1, 2, 3):
            status = 1 if review in (1, 3) else 2
            reviewed = _replace(inc, status=status, expert=f"expert{k % 2}",
                                expert_estimate=(k * 137) % 50_000 if status == 1 else k % 7,
                                review_ts=inc.ts_created + 600_000_000,
                                review_duration=(k % 11 + 1) * 3_000_000, comment=f"c{k}")
            incidents.append((reviewed, 1))
        if review == 3:
            # reviewed again: confirmed first, then rejected; the report shows the latest
            incidents.append((_replace(inc, status=2, expert="lead", expert_estimate=0,
                                       review_ts=inc.ts_created + 900_000_000,
                                       review_duration=7_000_000, comment="undo"), 2))
    return Dataset(events, receipts, incidents)


def _replace(inc: Incident, **kw: Any) -> Incident:
    import msgspec

    return msgspec.structs.replace(inc, **kw)


# --------------------------------------------------------------------------- helpers
def local(ts: int) -> datetime:
    return datetime.fromtimestamp(ts / 1_000_000, ZoneInfo(TZ)).replace(tzinfo=None)


def local_day(ts: int) -> date:
    return local(ts).date()


def ratio(a: int | Fraction, b: int | Fraction) -> Fraction | None:
    return None if b == 0 else Fraction(a) / Fraction(b)


def in_period(ts: int) -> bool:
    return T0 <= ts < T1


def group(items: Iterable[Any], key: Callable[[Any], Any]) -> dict[Any, list[Any]]:
    out: dict[Any, list[Any]] = defaultdict(list)
    for it in items:
        out[key(it)].append(it)
    return dict(out)


def same(expected: Any, got: Any) -> bool:
    """Compare a figure computed here with a value read back from the ODS.

    int and Fraction are kopecks when the cell is currency (Decimal): the ODS holds them to
    the kopeck, rounded half up; otherwise exact (int) or within float error (Fraction).
    """
    if expected is None or got is None:
        return expected is None and got is None
    if isinstance(got, Decimal):
        if isinstance(expected, Fraction):
            expected = math.floor(expected * 1 + Fraction(1, 2))  # half up, to the kopeck
        return bool(got * 100 == Decimal(int(expected)))
    if isinstance(expected, Fraction | float):
        return isinstance(got, int | float) and math.isclose(float(expected), float(got),
                                                             rel_tol=1e-12, abs_tol=1e-12)
    return bool(expected == got) and type(expected) is type(got) or (
        isinstance(expected, int) and isinstance(got, int) and expected == got)


# --------------------------------------------------------------------------- reading the ODS
HEADER_ROW = 3  # 0-based index of the header row on a section sheet


def sheet_rows(sheets: dict[str, list[list[Any]]], name: str
               ) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """A section sheet's data rows and totals row as dicts keyed by header."""
    rows = sheets[name]
    header = rows[HEADER_ROW]
    data = []
    totals = None
    for r in rows[HEADER_ROW + 1:]:
        d = {h: (r[i] if i < len(r) else None) for i, h in enumerate(header)}
        if r and r[0] == "Total":
            totals = d
        else:
            data.append(d)
    return data, totals


def check(sheets: dict[str, list[list[Any]]], name: str, keys: tuple[str, ...],
          expected: dict[tuple[Any, ...], dict[str, Any]],
          totals: dict[str, Any] | None = None) -> None:
    """Every row of sheet `name` equals `expected` (keyed by the `keys` columns), every
    figure column is checked, and the totals row equals `totals`."""
    data, got_totals = sheet_rows(sheets, name)
    header = sheets[name][HEADER_ROW]
    got = {tuple(r[k] for k in keys): r for r in data}
    assert len(got) == len(data), f"{name}: duplicate keys"
    assert set(got) == set(expected), (
        f"{name}: rows differ: missing {set(expected) - set(got)}, extra {set(got) - set(expected)}")
    for key, exp in expected.items():
        assert set(exp) | set(keys) == set(header), (
            f"{name}: test does not cover {set(header) - set(exp) - set(keys)}")
        for col, v in exp.items():
            assert same(v, got[key][col]), f"{name} {key} {col}: expected {v!r}, got {got[key][col]!r}"
    if totals is not None:
        assert got_totals is not None, f"{name}: no totals row"
        # the first column reads "Total", other key columns are blank, every figure checked
        totals = {**{k: None for k in keys}, header[0]: "Total", **totals}
        assert set(totals) == set(header), f"{name} totals: not checked {set(header) - set(totals)}"
        for col, v in totals.items():
            assert same(v, got_totals[col]), (
                f"{name} totals {col}: expected {v!r}, got {got_totals[col]!r}")
