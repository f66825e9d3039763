"""The default configuration fires on each pattern docs/detectors.md lists (for simulators)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from detector_scenarios import MIN, SEC, local_ts

from posguard.detectors.config import default_config
from posguard.detectors.engine import DetectorEngine, run_archive
from posguard.detectors.localtime import Zones
from posguard.detectors.testing import START, pos_event, receipt
from posguard.model.events import PosEvent

ENGINE = DetectorEngine.from_config(default_config(),
                                    zones=Zones(terminals={"T1": "Europe/Moscow"}))


def p1() -> list[PosEvent]:
    return receipt("T1").item("Milk", 89_90).event("POS_FRAUD", text="alarm").close().events()


def p2() -> list[PosEvent]:
    return receipt("T1").item("Milk", 89_90).delete().close().events()


def p3() -> list[PosEvent]:
    return receipt("T1").item("Milk", 89_90).cancel("POS_RECEIPT_ANNULMENT").events()


def p4() -> list[PosEvent]:
    return receipt("T1", kind="return").item("TV", 1000_00).close().events()


def p5() -> list[PosEvent]:
    return receipt("T1").item("Cheese", 100_00).discount(31_00, position=1).close().events()


def p6() -> list[PosEvent]:
    return receipt("T1").item("Tea", 100_00, article="A1").price_change(1, 50_00).close().events()


def p7() -> list[PosEvent]:
    r = receipt("T1").item("Tea", 10_00).close()
    return r.events() + [pos_event("T1", "POS_DRAWER_OPEN", at=r.now + 11 * SEC)]


def p8() -> list[PosEvent]:
    at = local_ts("Europe/Moscow", 2027, 1, 15, 23, 15)
    return receipt("T1", at=at).item("Пиво светлое", 99_00).close().events()


def p9() -> list[PosEvent]:
    b = receipt("T1", cashier="Sidorov S")
    for n in range(11):
        b.item(f"x{n}", 10_00).delete()
    return b.close().events()


def p10() -> list[PosEvent]:
    evs: list[PosEvent] = []
    at = START
    for n in range(4):
        b = receipt(f"T{n + 2}", op_id=str(n), at=at).card("4242").item("Tea", 9_00).close()
        evs += b.events()
        at = b.now
    return evs


def p11() -> list[PosEvent]:
    evs: list[PosEvent] = []
    at = START
    for n in range(3):
        b = receipt("T1", op_id=str(n), at=at).item("Bag", 1_00).close()
        evs += b.events()
        at = b.now + 10 * MIN
    return evs


def p12() -> list[PosEvent]:
    b = receipt("T1")
    for n in range(21):  # every third keyed; the 21st is keyed: 7 of 21 (33 %)
        b.item(f"Apple {n}", 10_00, scanned=n % 3 != 2)
    return b.close().events()


def p13() -> list[PosEvent]:
    return receipt("T1", step_s=8 * 60).item("a", 1_00).item("b", 1_00).close().events()


PATTERNS: dict[str, Callable[[], list[PosEvent]]] = {
    "PGD00001": p1, "PGD00002": p2, "PGD00003": p3, "PGD00004": p4, "PGD00005": p5,
    "PGD00006": p6, "PGD00007": p7, "PGD00008": p8, "PGD00009": p9, "PGD00010": p10,
    "PGD00011": p11, "PGD00012": p12, "PGD00013": p13,
}


@pytest.mark.parametrize("guid", list(PATTERNS))
def test_default_configuration_fires_on_the_documented_pattern(guid: str) -> None:
    incidents = run_archive(ENGINE, PATTERNS[guid]())
    assert guid in {i.detector for i in incidents}, [i.detector for i in incidents]
