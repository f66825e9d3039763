"""Shared scenario material for the detector tests: times, sensitive configs, event streams."""

from __future__ import annotations

import random
from datetime import datetime
from typing import Any

import msgspec

from posguard.detectors.base import IncidentType
from posguard.detectors.config import DetectorConfig, DetectorSpec
from posguard.detectors.engine import DetectorEngine
from posguard.detectors.localtime import Zones
from posguard.detectors.registry import STANDARD_DETECTORS
from posguard.detectors.spec import plain_params
from posguard.detectors.testing import START, pos_event, receipt
from posguard.model.events import PosEvent
from posguard.model.times import datetime_to_micros, zone

MIN = 60_000_000
SEC = 1_000_000


def local_ts(tz: str, y: int, mo: int, d: int, h: int, mi: int = 0) -> int:
    """Microseconds of a local wall-clock time in zone `tz`."""
    return datetime_to_micros(datetime(y, mo, d, h, mi, tzinfo=zone(tz)))


# Sensitive parameters: every rule fires on short streams.
SENSITIVE: dict[str, dict[str, Any]] = {
    "events_filter": {"events": ["POS_FRAUD", "POS_GIFT"]},
    "delete_without_admin": {},
    "receipt_cancelled": {},
    "suspicious_refund": {"min_amount": 200_00, "recent_sale_minutes": 30, "max_remembered": 4},
    "large_discount": {"max_percent": 20, "max_amount": 300_00},
    "price_override": {"min_drop_percent": 20, "learn": True, "learn_hours": 2,
                       "max_learned": 5},
    "drawer_outside_receipt": {"max_per_day": 1, "grace_seconds": 10},
    "restricted_goods_hours": {"start": "20:00", "end": "09:00", "articles": ["A13"]},
    "cashier_voids": {"max_count": 2, "window_minutes": 0, "max_rate_percent": 20,
                      "min_positions": 5},
    "discount_card_overuse": {"max_uses": 1},
    "low_total_receipts": {"max_total": 100, "min_count": 2, "window_minutes": 120},
    "keyed_entry_rate": {"max_percent": 30, "min_positions": 4, "window_minutes": 30},
    "receipt_open_too_long": {"max_minutes": 5},
}


def config_with(params: dict[str, dict[str, Any]], *, sliding_voids: bool = False
                ) -> DetectorConfig:
    """All standard detectors with the given params (a second CashierVoids if asked)."""
    types, specs = [], []
    for n, (name, cls) in enumerate(STANDARD_DETECTORS.items(), start=1):
        it = IncidentType(guid=f"TSI{n:05d}", name=cls.title, folder="Test")
        types.append(it)
        specs.append(DetectorSpec(guid=f"TSD{n:05d}", type=name, incident_type=it.guid,
                                  params=params.get(name, {})))
    if sliding_voids:
        specs.append(DetectorSpec(guid="TSD00099", type="cashier_voids",
                                  incident_type="TSI00009",
                                  params={"max_count": 2, "window_minutes": 15}))
    return DetectorConfig(incident_types=tuple(types), detectors=tuple(specs))


ZONES = Zones(terminals={"T1": "Europe/Moscow", "T2": "Asia/Novosibirsk", "T3": "UTC"},
              default="Europe/Kaliningrad")


def sensitive_engine(**kw: Any) -> DetectorEngine:
    """All 13 detectors (plus a sliding-window CashierVoids), sensitive, mixed timezones."""
    return DetectorEngine.from_config(config_with(SENSITIVE, sliding_voids=True), zones=ZONES,
                                      **kw)


def default_params(type_name: str) -> dict[str, Any]:
    """The defaults of a detector type as plain values."""
    return plain_params(STANDARD_DETECTORS[type_name].params_type())


def everything_stream() -> list[PosEvent]:
    """A scripted day on three terminals in which every sensitive rule fires at least once.

    Events are in global time order (strictly increasing ts), as archive_order gives them.
    """
    evs: list[PosEvent] = []
    t = START  # 08:00 UTC = 11:00 Moscow, 15:00 Novosibirsk
    b = receipt("T1", op_id="1", at=t, cashier="Anna")
    b.item("Milk", 89_90, article="A1").item("Vodka", 999_00, article="A2", scanned=False)
    b.delete().item("Tea", 150_00, article="A3", barcode="B3", scanned=False)
    b.item("Cheese", 20_00, article="A6", scanned=False)
    b.discount(60_00, position=1).discount(400_00).card("C1").pay().close()
    evs += b.events()
    b = receipt("T2", op_id="1", at=b.now, cashier="Anna")  # same cashier, another till
    b.item("Bread", 45_00, article="A4", scanned=False).delete().item("Tea", 150_00,
                                                                      article="A3")
    b.card("C1").event("POS_FRAUD", text="script alarm").cancel()
    evs += b.events()
    b = receipt("T1", op_id="2", at=b.now, cashier="Anna", kind="return")
    b.item("Tea", 150_00, barcode="B3").item("TV", 500_00, barcode="B9").close()
    evs += b.events()
    now = b.now
    evs.append(pos_event("T1", "POS_DRAWER_OPEN", at=now + MIN, cashier_name="Anna"))
    evs.append(pos_event("T1", "POS_DRAWER_OPEN", at=now + 2 * MIN, cashier_name="Anna"))
    now += 3 * MIN
    for n in range(3):
        b = receipt("T3", op_id=f"z{n}", at=now, cashier="Boris").item("Bag", 0).close()
        evs += b.events()
        now = b.now
    b = receipt("T3", op_id="p1", at=now, cashier="Boris").item("Tea", 150_00, article="A3")
    b.item("Tea", 100_00, article="A3").price_change(2, 50_00).close()
    evs += b.events()
    b = receipt("T3", op_id="long", at=b.now, cashier="Boris", step_s=200)
    b.item("Slow", 10_00).item("Slower", 10_00).close()
    evs += b.events()
    b = receipt("T2", op_id="torn", at=b.now, cashier="Vera").item("Lost", 10_00)
    evs += b.events()
    # 20:30 Moscow: alcohol out of hours; the torn receipt on T2 is never closed.
    late = local_ts("Europe/Moscow", 2027, 1, 15, 20, 30)
    b = receipt("T1", op_id="3", at=late, cashier="Anna").item("Beer", 89_90).item(
        "Gift", 1_00, article="A13").position_return("TV", 500_00).close()
    evs += b.events()
    b = receipt("T2", op_id="after", at=b.now, cashier="Vera").item("Water", 49_00).close()
    evs += b.events()
    for e1, e2 in zip(evs, evs[1:], strict=False):
        assert e1.ts_in_receipt < e2.ts_in_receipt, (e1, e2)
    return evs


_ITEMS = [("Milk", 89_90, "A1", "B1"), ("Beer", 99_90, "A2", "B2"), ("Tea", 150_00, "A3", ""),
          ("TV", 900_00, "", "B9"), ("Bag", 0, "A5", "B5"), ("Gift", 1_00, "A13", "")]
_ACTIONS = ["open", "item", "item", "item", "keyed", "delete", "discount_pos", "discount_rec",
            "card", "admin_in", "admin_out", "pay", "close", "close", "cancel", "annul",
            "drawer", "return_open", "position_return", "price_change", "shift", "fraud",
            "incomplete", "login", "wait"]


def random_stream(seed: int | random.Random, n: int, *, terminals: int = 3) -> list[PosEvent]:
    """A random but plausible stream, in reception order (ts_received strictly increasing).

    Each terminal's clock is off by its own skew (up to minutes), so ts_in_receipt is in
    order per terminal but not across them: as in a real chain.

    Args:
        seed: a seed, or a Random (hypothesis's `st.randoms()` to let it shrink).
        n: how many actions to draw (a few are pauses, not events).
        terminals: how many terminals share the cashiers and cards.
    """
    rng = seed if isinstance(seed, random.Random) else random.Random(seed)
    evs: list[PosEvent] = []
    ts = START + rng.randrange(0, 86_400) * SEC
    skew = {t: rng.choice([0, 0, -90, 45, 240]) * SEC for t in range(terminals)}
    ops = dict.fromkeys(range(terminals), 0)
    pos = dict.fromkeys(range(terminals), 0)
    cashier = {t: f"C{t}" for t in range(terminals)}
    for i in range(n):
        t = rng.randrange(terminals)
        term = f"T{t + 1}"
        a = rng.choice(_ACTIONS)
        ts += rng.choice([1, 2, 5, 30, 60, 400, 3600]) * SEC
        if a == "wait":
            ts += rng.randrange(3600, 30_000) * SEC
            continue
        f: dict[str, Any] = {"op_id": str(ops[t]), "cashier_name": cashier[t], "store": "S"}
        typ: str
        if a in ("open", "return_open"):
            ops[t] += 1
            pos[t] = 0
            f["op_id"] = str(ops[t])
            typ = "POS_RECEIPT_OPEN" if a == "open" else "POS_RECEIPT_RETURN"
        elif a in ("item", "keyed", "position_return"):
            text, price, art, bc = rng.choice(_ITEMS)
            price = price * rng.choice([1, 1, 1, 2]) // rng.choice([1, 1, 2])
            pos[t] += 1
            f.update(text=text, price=price, price_per_unit=price, quantity=1, article=art,
                     barcode=bc, position=pos[t])
            typ = {"item": "POS_POSITION_ADD_BY_SCANNER", "keyed": "POS_POSITION_ADD",
                   "position_return": "POS_POSITION_RETURN"}[a]
        elif a == "delete":
            typ = "POS_POSITION_DELETE"
            f.update(position=max(pos[t], 1), price=rng.choice([0, 50_00]))
        elif a == "discount_pos":
            typ = "POS_DISCOUNT_POSITION"
            f.update(position=max(pos[t], 1), discount=rng.choice([5_00, 40_00, 400_00]))
        elif a == "discount_rec":
            typ = "POS_DISCOUNT_RECEIPT"
            f.update(discount=rng.choice([5_00, 40_00, 400_00]))
        elif a == "card":
            typ = "POS_DISCOUNT_CARD"
            f.update(discount_card=rng.choice(["K1", "K2", "K3"]))
        elif a == "price_change":
            typ = "POS_POSITION_PRICE_CHANGE"
            f.update(position=max(pos[t], 1), price=10_00, price_per_unit=10_00)
        elif a == "login":
            cashier[t] = rng.choice(["C0", "C1", "C2", "C3"])
            typ = "POS_CASHIER_LOGIN"
            f["cashier_name"] = cashier[t]
        else:
            typ = {"admin_in": "POS_ADMIN_LOGIN", "admin_out": "POS_ADMIN_LOGOUT",
                   "pay": "POS_PAYMENT_CASH", "close": "POS_RECEIPT_CLOSE",
                   "cancel": "POS_RECEIPT_CANCEL", "annul": "POS_RECEIPT_ANNULMENT",
                   "drawer": "POS_DRAWER_OPEN", "shift": "POS_SHIFT_START",
                   "fraud": "POS_FRAUD", "incomplete": "POS_RECEIPT_INCOMPLETE"}[a]
            if a in ("pay", "close"):
                f["price"] = rng.choice([0, 50, 100_00])
        if rng.random() < 0.05:
            f["cashier_name"] = ""  # some sources only name the cashier at sign-in
        if rng.random() < 0.03:
            f["event_id"] = ""  # ids fall back to terminal|time|type
        else:
            f["event_id"] = f"e{i}"
        evs.append(PosEvent(type=typ, pos_terminal=term, ts_in_receipt=ts + skew[t],
                            ts_received=ts + 100_000, **f))
    return evs


def canon(incidents: list[Any]) -> list[bytes]:
    """Incidents as sorted encoded bytes, to compare runs whatever their order."""
    return sorted(msgspec.json.encode(i) for i in incidents)
