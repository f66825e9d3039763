"""The live examples of the reference (events and incidents arriving from now on), run
verbatim under the host against the real broker and store."""

from __future__ import annotations

import shutil
import time

import pytest

from posguard.ingest.publisher import EventPublisher
from posguard.model.events import PosEvent
from posguard.model.filters import EventFilter
from posguard.store.search import search_events

pytestmark = pytest.mark.integration


def ev(n: int, type_: str = "POS_POSITION_ADD", text: str = "Milk", **kw) -> PosEvent:  # type: ignore[no-untyped-def]
    base = dict(pos_terminal="T1RuoVF7", pos_terminal_name="Till 1", op_id="1234567",
                cashier_name="Ivanov I", associated_channel="cam7", location="cas_1",
                ts_in_receipt=1_796_000_000_000_000 + n, ts_received=1_796_000_000_500_000 + n,
                event_id=f"e{n}", position=n, price=10398, price_per_unit=10398, quantity=1,
                weight=1250, article="A1", barcode="4600000000001", flags=3, store="S1")
    base.update(kw)
    return PosEvent(type=type_, text=text, **base)


def test_example_1_prints_every_field_of_each_new_event(make_host, kafka_bootstrap, topics,
                                                        notes, h) -> None:
    host = make_host()
    host.add(h.scripts / "ex1_activate_on_pos_events.py")
    assert host.wait_ready(60)
    pub = EventPublisher(kafka_bootstrap, topics)
    pub.publish(ev(1, text="Пиво Жигулёвское"))
    assert pub.flush(10) == 0
    assert notes.wait_for(lambda: len(notes.of("message")) >= 16)
    msgs = notes.of("message")
    assert msgs[:10] == [
        "Unique event number: 1234567", "Event type: POS_POSITION_ADD",
        "Terminal ID: T1RuoVF7", "Terminal name: Till 1", "Associated video channel: cam7",
        "Flags: 3", "Position number: 1", "Text: Пиво Жигулёвское", "Price per unit: 103.98",
        "Weight: 1.250"]
    assert msgs[10:14] == ["Quantity: 1", "Article: A1", "Barcode: 4600000000001",
                           "Location: cas_1"]
    # 1_796_000_000.5 s is 2026-11-30 00:53:20 UTC, 03:53:20 in Moscow (the host's zone).
    assert msgs[14] == "Time of arrival on server: 03:53:20 30.11.2026"
    assert msgs[15] == "Time indicated on receipt: 03:53:20 30.11.2026"
