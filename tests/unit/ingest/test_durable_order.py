"""DurablePublisher spools failed deliveries in produce order, whatever order librdkafka
reports them in (queued messages time out before older in-flight ones; a purge reports
unsent requests, then sent ones, then the queue)."""

from __future__ import annotations

import random
from pathlib import Path

from confluent_kafka import KafkaError

from posguard.ingest.durable import DurablePublisher, _Batch
from posguard.ingest.spool import Spool
from posguard.streams.broker import free_port
from posguard.streams.topics import Topics


class Report:
    """What a delivery report hands the callback: topic, key, value."""

    def __init__(self, topic: str, key: bytes, value: bytes):
        self._t, self._k, self._v = topic, key, value

    def topic(self) -> str:
        return self._t

    def key(self) -> bytes:
        return self._k

    def value(self) -> bytes:
        return self._v


def test_failed_reports_reach_the_spool_in_produce_order(tmp_path: Path) -> None:
    topics = Topics("order.")
    # nothing listens on the port: the producer is created but never connects
    pub = DurablePublisher(f"127.0.0.1:{free_port()}", topics, Spool(tmp_path))
    try:
        reports = [(seq, Report(topics.events, b"T1", f"ev-{seq:03d}".encode()))
                   for seq in range(200)]
        random.Random(7).shuffle(reports)
        with pub._lock:
            for seq, msg in reports:
                pub._failed_live(seq, KafkaError(KafkaError._MSG_TIMED_OUT), msg)
            assert pub.spool.records == 0  # held back until the switch to spooling
            pub._degrade("test")
        assert pub.mode == "spooling"
        got = [r.value for _, r in pub.spool.read(pub.spool.cursor, 1 << 20)]
        assert got == [f"ev-{seq:03d}".encode() for seq in range(200)]
    finally:
        pub.close(timeout=0.1)


def test_a_batch_callback_places_shuffled_reports_of_identical_messages(tmp_path: Path) -> None:
    topics = Topics("order.")
    pub = DurablePublisher(f"127.0.0.1:{free_port()}", topics, Spool(tmp_path))
    try:
        first = [("events", b"T1", b"a"), ("events", b"T1", b"b"), ("events", b"T1", b"a"),
                 ("deadletter", b"", b"a"), ("events", b"T2", b"a"), ("events", b"T1", b"c")]
        second = [("events", b"T1", b"a"), ("events", b"T1", b"d")]
        batches = [_Batch(0, first, pub._failed_live, topics.deadletter),
                   _Batch(len(first), second, pub._failed_live, topics.deadletter)]
        topic = {"events": topics.events, "deadletter": topics.deadletter}
        reports = [(b, Report(topic[k], key, value)) for b, items in zip(batches, (first, second),
                                                                            strict=True)
                   for k, key, value in items]
        random.Random(3).shuffle(reports)
        with pub._lock:
            for batch, msg in reports:
                batch(KafkaError(KafkaError._MSG_TIMED_OUT), msg)
            pub._degrade("test")
        got = [(r.kind, r.key, r.value) for _, r in pub.spool.read(pub.spool.cursor, 1 << 20)]
        assert got == first + second
    finally:
        pub.close(timeout=0.1)


def test_messages_purged_from_a_producer_that_never_connected_are_spooled_in_order(
        tmp_path: Path) -> None:
    topics = Topics("order.")
    pub = DurablePublisher(f"127.0.0.1:{free_port()}", topics, Spool(tmp_path))
    try:
        items = [("events", f"T{i % 3}".encode(), f"ev-{i:03d}".encode()) for i in range(300)]
        items[7] = items[3]  # identical messages too
        assert pub._send(items[:150]) == 150 and pub._send(items[150:]) == 150
        assert pub.mode == "direct" and pub.stats.sent == 300
        with pub._lock:
            pub._degrade("test")  # purges the producer: every message is reported failed
        got = [(r.kind, r.key, r.value) for _, r in pub.spool.read(pub.spool.cursor, 1 << 20)]
        assert got == items
    finally:
        pub.close(timeout=0.1)
