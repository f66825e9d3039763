"""The live examples of the reference (events and incidents arriving from now on), run
verbatim under the host against the real broker and store."""

from __future__ import annotations

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


def test_example_3_alcohol_after_11pm_raises_frauds_only_for_alcohol_positions(
        make_host, kafka_bootstrap, topics, store, sink, notes, h) -> None:
    now = [h.local_ts(2026, 11, 30, 22, 59)]
    host = make_host(now=lambda: now[0])
    script = host.add(h.scripts / "ex3_pos_fraud_alcohol.py")
    assert host.wait_ready(60)
    pub = EventPublisher(kafka_bootstrap, topics)
    pub.publish(ev(1, text="Beer Baltika 7"))
    assert pub.flush(10) == 0
    assert h.wait_for(lambda: script.events_received == 1)
    assert host.wait_idle(10)
    assert notes.of("alert") == []  # 22:59 local: not yet

    now[0] = h.local_ts(2026, 11, 30, 23, 30)
    batch = [
        ev(2, text="Beer Baltika 7"),                                 # fraud
        ev(3, text="Milk 3.2%"),                                      # not alcohol
        ev(4, "POS_POSITION_DELETE", text="Vodka Russian Standard"),  # not an addition
        ev(5, text="red wine, dry"),                                  # fraud (upper-cased)
        ev(6, text="ПИВО светлое"),                                   # not in the word list
        ev(7, op_id="7654321", text="Cognac Ararat 5*"),              # fraud, another receipt
    ]
    for e in batch:
        pub.publish(e)
    assert pub.flush(10) == 0
    assert notes.wait_for(lambda: len(notes.of("alert")) >= 3)
    assert h.wait_for(lambda: script.events_received >= 10)  # 7 events + 3 POS_FRAUD
    assert host.wait_idle(10)
    assert sorted(notes.of("alert")) == [
        "Alcohol after 11pm (Till 1, receipt 1234567)",
        "Alcohol after 11pm (Till 1, receipt 1234567)",
        "Alcohol after 11pm (Till 1, receipt 7654321)",
    ]
    # Recorded on the receipts: POS_FRAUD events, stored and searchable like any event.
    frauds = EventFilter(events=("POS_FRAUD",))
    assert h.wait_for(lambda: len(search_events(store, 0, 2**62, frauds)) == 3)
    found = search_events(store, 0, 2**62, frauds)
    by_pos = {f.position: f for f in found}
    assert sorted(by_pos) == [2, 5, 7]
    for f in found:
        src = next(e for e in batch if e.position == f.position)
        assert (f.pos_terminal, f.op_id, f.cashier_name, f.text) == (
            src.pos_terminal, src.op_id, src.cashier_name, "Alcohol after 11pm")
        assert f.ts_received == src.ts_received and f.ts_in_receipt == src.ts_in_receipt
    # And one record each on pos.frauds, naming the script.
    records = h.read_topic(kafka_bootstrap, topics.frauds, 3)
    assert sorted((r["op_id"], r["script"], r["text"]) for r in records) == [
        ("1234567", "ex3_pos_fraud_alcohol", "Alcohol after 11pm")] * 2 + [
        ("7654321", "ex3_pos_fraud_alcohol", "Alcohol after 11pm")]
    assert sorted(r["event_id"] for r in records) == sorted(f.event_id for f in found)
    assert script.stats()["errors"] == 0


def test_a_restarted_script_gets_events_from_now_on_not_those_it_missed(
        make_host, kafka_bootstrap, topics, tmp_path, notes, h) -> None:
    path = tmp_path / "ops.py"
    path.write_text("activate_on_pos_events(lambda ev: message(ev.op_id))\n")
    pub = EventPublisher(kafka_bootstrap, topics)

    def send(op: str) -> None:
        pub.publish(ev(len(op), op_id=op, event_id=op))
        assert pub.flush(10) == 0  # one record per batch (see docs/scripting.md on Tansu)

    send("before-start")
    first = make_host()
    first.add(path)
    assert first.wait_ready(60)
    send("a1")
    send("a2")
    assert notes.wait_for(lambda: len(notes.of("message")) == 2)
    first.stop()
    send("missed-1")
    send("missed-2")
    second = make_host()
    script = second.add(path)  # the same consumer group, with committed offsets
    assert second.wait_ready(60)
    send("b1")
    assert notes.wait_for(lambda: len(notes.of("message")) == 3)
    assert second.wait_idle(10)
    assert notes.of("message") == ["a1", "a2", "b1"]
    assert script.feed is not None and script.feed.group.endswith("posguard.script.ops")
