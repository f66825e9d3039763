"""GapReader against the real broker: it reads exactly the asked stretches, in order, and
comes back short (not hanging) for offsets the partition does not have."""

from __future__ import annotations

import time
import uuid

import pytest
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic

from posguard.streams.gap_reader import GapReader

pytestmark = pytest.mark.integration


@pytest.fixture
def topic(kafka_bootstrap: str) -> str:
    name = f"gap.{uuid.uuid4().hex[:10]}"
    admin = AdminClient({"bootstrap.servers": kafka_bootstrap})
    for fut in admin.create_topics([NewTopic(name, 2, 1)]).values():
        fut.result(15)
    p = Producer({"bootstrap.servers": kafka_bootstrap, "linger.ms": 5})
    for part in (0, 1):
        for i in range(50):
            p.produce(name, f"{part}:{i}".encode(), f"k{i % 3}".encode(), part)
    assert p.flush(15) == 0
    return name


def test_reads_the_stretches_asked_for(kafka_bootstrap: str, topic: str) -> None:
    reader = GapReader(kafka_bootstrap)
    try:
        got = reader.read(topic, {0: (10, 20), 1: (45, 50)})
        assert [(r.partition, r.offset) for r in got] == (
            [(0, o) for o in range(10, 20)] + [(1, o) for o in range(45, 50)])
        assert got[0].value == b"0:10" and got[0].key == b"k1"
        again = reader.read(topic, {1: (0, 3)})  # the same reader, another stretch
        assert [r.value for r in again] == [b"1:0", b"1:1", b"1:2"]
    finally:
        reader.close()


def test_offsets_the_partition_does_not_have_come_back_short(kafka_bootstrap: str,
                                                              topic: str) -> None:
    reader = GapReader(kafka_bootstrap)
    try:
        t0 = time.monotonic()
        got = reader.read(topic, {0: (48, 60)}, timeout=5.0)
        assert [r.offset for r in got] == [48, 49]
        assert time.monotonic() - t0 < 5.0, "the end of the partition ends the read"
    finally:
        reader.close()
