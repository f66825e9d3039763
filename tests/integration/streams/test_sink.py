"""The ClickHouse sink against the real broker and chDB: exactly once, dead letters, retries."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient

from posguard.ingest.publisher import EventPublisher
from posguard.ingest.simulator import ChainSimulator
from posguard.model.codec import decode_json
from posguard.store.errors import StoreUnavailable
from posguard.store.search import count_distinct_events
from posguard.streams.sink import ClickHouseSink
from posguard.streams.topics import Topics, ensure_topics
from tests.conftest import TEST_SESSION_TIMEOUT_MS

pytestmark = pytest.mark.integration
T0 = 1_796_000_000_000_000


def publish(bootstrap: str, topics: Topics, n: int, seed: int = 1, start: int = T0) -> list:
    pub = EventPublisher(bootstrap, topics)
    evs = list(ChainSimulator(2, 3, seed=seed).events(n, start))
    pub.publish_many(evs)
    assert pub.flush(30) == 0
    return evs


@contextmanager
def running_sink(bootstrap: str, topics: Topics, backend, group: str | None = None,
                 ) -> Iterator[ClickHouseSink]:  # type: ignore[no-untyped-def]
    sink = ClickHouseSink(bootstrap, topics, backend, group=group or f"g{uuid.uuid4().hex}",
                          batch_size=1000, consumer_config={
                              "session.timeout.ms": TEST_SESSION_TIMEOUT_MS})
    t = threading.Thread(target=sink.run, daemon=True)
    t.start()
    try:
        yield sink
    finally:
        sink.stop()
        t.join(30)


def wait_for(pred, timeout: float = 60.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(0.2)
    return False


def counts(store) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    return count_distinct_events(store, 0, 2**62)


def test_each_event_stored_once_even_when_commits_are_lost(kafka_bootstrap, topics, store) -> None:  # type: ignore[no-untyped-def]
    publish(kafka_bootstrap, topics, 3000)
    with running_sink(kafka_bootstrap, topics, store) as sink:
        assert wait_for(lambda: counts(store)[0] >= 3000)
        assert sink.stats.events == 3000
    # A new group has no committed offsets: exactly the case of a crash between INSERT and
    # commit. The offsets stored with the rows must stop it from writing anything again.
    with running_sink(kafka_bootstrap, topics, store) as sink2:
        assert wait_for(lambda: sink2.stats.assigned > 0, 30)
        publish(kafka_bootstrap, topics, 500, seed=2, start=T0 + 10**9)
        assert wait_for(lambda: counts(store)[0] >= 3500)
        time.sleep(1)
    assert counts(store) == (3500, 3500)


def stored_then_topic_recreated(kafka_bootstrap: str, topics: Topics, store: Any,
                                group: str) -> list[Any]:
    """400 events stored by a sink of `group`, then pos.events deleted and created again,
    empty, as an in-memory broker that lost its log comes back. Returns the events."""
    ensure_topics(kafka_bootstrap, topics, 2)
    evs = publish(kafka_bootstrap, topics, 400)
    with running_sink(kafka_bootstrap, topics, store, group):
        assert wait_for(lambda: counts(store)[0] >= 400)
    admin = AdminClient({"bootstrap.servers": kafka_bootstrap})
    for f in admin.delete_topics([topics.events]).values():
        f.result(10)
    assert wait_for(lambda: topics.events not in admin.list_topics(timeout=5).topics, 10)
    ensure_topics(kafka_bootstrap, topics, 2)
    return evs


def test_recreated_topic_is_not_hidden_by_old_offsets(kafka_bootstrap, store) -> None:  # type: ignore[no-untyped-def]
    topics = Topics(prefix=f"r{uuid.uuid4().hex[:8]}.")
    group = f"g{uuid.uuid4().hex}"
    stored_then_topic_recreated(kafka_bootstrap, topics, store, group)
    publish(kafka_bootstrap, topics, 300, seed=9, start=T0 + 10**9)
    with running_sink(kafka_bootstrap, topics, store, group):
        assert wait_for(lambda: counts(store)[0] >= 700)
        time.sleep(1)
    assert counts(store) == (700, 700)


def test_bad_bytes_go_to_deadletter_and_good_ones_are_stored(kafka_bootstrap, topics, store) -> None:  # type: ignore[no-untyped-def]
    p = Producer({"bootstrap.servers": kafka_bootstrap})
    p.produce(topics.events, key=b"T1", value=b"\x00garbage{")
    p.flush(10)
    publish(kafka_bootstrap, topics, 100)
    with running_sink(kafka_bootstrap, topics, store) as sink:
        assert wait_for(lambda: counts(store)[0] >= 100 and sink.stats.rejected == 1)
    c = Consumer({"bootstrap.servers": kafka_bootstrap, "group.id": uuid.uuid4().hex,
                  "auto.offset.reset": "earliest",
                  "session.timeout.ms": TEST_SESSION_TIMEOUT_MS})
    c.subscribe([topics.deadletter])
    msgs = []
    deadline = time.monotonic() + 30
    while not msgs and time.monotonic() < deadline:
        msgs = [m for m in c.consume(10, 1.0) if not m.error()]
    c.close()
    doc = decode_json(msgs[0].value())
    assert "not a valid event" in doc["reason"] and doc["source"].startswith(topics.events)
    assert counts(store) == (100, 100)


class FailingInserts:
    """A real store whose first `n` inserts fail as if ClickHouse were down, and every insert
    until `until` (time.monotonic())."""

    def __init__(self, backend, n: int = 0, until: float = 0.0):  # type: ignore[no-untyped-def]
        self._b, self.left, self.until = backend, n, until
        self.database = backend.database

    def _fail_first(self) -> None:
        if time.monotonic() < self.until:
            raise StoreUnavailable("injected: store down")
        if self.left > 0:
            self.left -= 1
            raise StoreUnavailable("injected: store down")

    def insert(self, *a, **kw):  # type: ignore[no-untyped-def]
        self._fail_first()
        return self._b.insert(*a, **kw)

    def insert_json(self, *a, **kw):  # type: ignore[no-untyped-def]
        self._fail_first()
        return self._b.insert_json(*a, **kw)

    def __getattr__(self, name: str):  # type: ignore[no-untyped-def]
        return getattr(self._b, name)


def test_store_outage_is_retried_without_loss(kafka_bootstrap, topics, store) -> None:  # type: ignore[no-untyped-def]
    publish(kafka_bootstrap, topics, 1000)
    flaky = FailingInserts(store, 3)
    with running_sink(kafka_bootstrap, topics, flaky) as sink:
        assert wait_for(lambda: counts(store)[0] >= 1000, 90)
        assert sink.stats.retries == 3
    assert counts(store) == (1000, 1000)


def test_rebalance_during_a_store_outage_loses_and_doubles_nothing(kafka_bootstrap, topics, store) -> None:  # type: ignore[no-untyped-def]
    """A second sink joins the group while the first waits out a store outage with a batch
    in hand: the first writes that batch before it gives partitions up (else the newcomer,
    resuming from the offsets stored, writes them too), and neither skips a record."""
    publish(kafka_bootstrap, topics, 3000)
    group = f"g{uuid.uuid4().hex}"
    down = FailingInserts(store, until=time.monotonic() + 20)  # the rebalance takes seconds
    with running_sink(kafka_bootstrap, topics, down, group) as first:
        assert wait_for(lambda: first.stats.retries >= 1, 30)
        with running_sink(kafka_bootstrap, topics, store, group) as second:
            assert wait_for(lambda: second.stats.assigned > 0, 60)
            publish(kafka_bootstrap, topics, 1000, seed=2, start=T0 + 10**9)
            assert wait_for(lambda: counts(store)[0] >= 4000, 90)
            # the batch the first took before the rebalance has landed, whenever that was
            assert wait_for(lambda: first.stats.events > 0, 60)
            time.sleep(1)
            assert second.stats.events > 0
    assert counts(store) == (4000, 4000)


def test_events_republished_by_an_adapter_are_stored_once(kafka_bootstrap, topics, store) -> None:  # type: ignore[no-untyped-def]
    evs = publish(kafka_bootstrap, topics, 800)
    pub = EventPublisher(kafka_bootstrap, topics)
    pub.publish_many(evs[500:600])  # a spool replay: same events, new offsets
    assert pub.flush(30) == 0
    with running_sink(kafka_bootstrap, topics, store) as sink:
        assert wait_for(lambda: sink.stats.events + sink.stats.duplicates_dropped >= 900)
        assert sink.stats.duplicates_dropped == 100
    # A restarted sink remembers the stored ids of each partition's recent offsets.
    pub.publish_many(evs[700:800])
    assert pub.flush(30) == 0
    with running_sink(kafka_bootstrap, topics, store) as sink:
        assert wait_for(lambda: sink.stats.duplicates_dropped >= 100)
        assert sink.stats.events == 0
    assert counts(store) == (800, 800)


def test_resent_receipts_and_incidents_are_stored_once(kafka_bootstrap, topics, store) -> None:  # type: ignore[no-untyped-def]
    from posguard.model.codec import encode
    from posguard.model.incidents import Incident
    from posguard.model.receipts import Receipt

    p = Producer({"bootstrap.servers": kafka_bootstrap})
    receipts = [Receipt(receipt_id=f"r{i}", pos_terminal="T1", op_id=str(i), ts_open=T0 + i,
                        ts_close=T0 + i + 5, status="closed") for i in range(20)]
    incidents = [Incident(id=f"i{i}", detector="D", type_name="t", terminal_guid="T1",
                          ts_created=T0 + i, related_ts=[T0 + i]) for i in range(10)]
    for _ in range(2):  # a worker that resends everything after a crash
        for r in receipts:
            p.produce(topics.receipts, key=b"T1", value=encode(r))
        for inc in incidents:
            p.produce(topics.incidents, key=b"T1", value=encode(inc))
    p.flush(10)
    db = store.database
    with running_sink(kafka_bootstrap, topics, store) as sink:
        assert wait_for(lambda: sink.stats.receipts + sink.stats.incidents
                        + sink.stats.duplicates_dropped >= 60)
    assert store.query(f"SELECT count(), uniqExact(receipt_id) FROM {db}.receipts").rows == \
        [(20, 20)]
    assert store.query(f"SELECT count(), uniqExact(id) FROM {db}.incidents").rows == [(10, 10)]


def test_replayed_events_stored_under_an_older_topic_id_are_dropped(kafka_bootstrap, store) -> None:  # type: ignore[no-untyped-def]
    """A broker that lost its log gets its recent events again from the adapters' journal,
    marked with the replay header, under a new topic id: the sink drops those it stored
    before (raw rows: no FINAL, no merge), and stores the rest."""
    from posguard.model.codec import encode
    from posguard.streams.topics import REPLAY_HEADER

    topics = Topics(prefix=f"j{uuid.uuid4().hex[:8]}.")
    group = f"g{uuid.uuid4().hex}"
    evs = stored_then_topic_recreated(kafka_bootstrap, topics, store, group)
    lost = list(ChainSimulator(2, 3, seed=5).events(100, T0 + 10**9))  # never stored
    p = Producer({"bootstrap.servers": kafka_bootstrap})
    for ev in evs[250:] + lost:  # the journal's replay: partly stored already
        p.produce(topics.events, key=ev.pos_terminal.encode(), value=encode(ev),
                  headers=[(REPLAY_HEADER, b"1")])
    p.flush(10)
    publish(kafka_bootstrap, topics, 300, seed=9, start=T0 + 2 * 10**9)  # new traffic
    with running_sink(kafka_bootstrap, topics, store, group) as sink:
        assert wait_for(lambda: sink.stats.events + sink.stats.duplicates_dropped >= 550)
        time.sleep(1)
        assert (sink.stats.replays_dropped, sink.stats.events) == (150, 400)
    db = store.database
    assert store.query(f"SELECT count(), uniqExact(event_id) FROM {db}.events").rows == \
        [(800, 800)]
