"""The spool's size cap: while spooling with the spool at its cap, new input is refused whole
(SpoolFull) and counted; what was accepted before, and failed deliveries of it, always reach
the spool. The publisher points at a port nobody listens on (no broker needed: spooling is
switched on by hand, as the broker's absence would)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from confluent_kafka import KafkaError
from test_durable_order import Report

from posguard.ingest.config import IngestConfig, ingest_config_from_dict
from posguard.ingest.counters import IngestCounters
from posguard.ingest.durable import DurablePublisher
from posguard.ingest.errors import RegistryError, SpoolFull
from posguard.ingest.intake import Intake
from posguard.ingest.rejects import Rejected
from posguard.ingest.spool import Spool
from posguard.model.events import PosEvent
from posguard.streams.broker import free_port
from posguard.streams.topics import Topics

CAP = 4000
TOPICS = Topics("cap.")


def events(n: int, start: int = 0, terminal: str = "T1") -> list[PosEvent]:
    return [PosEvent(type="POS_POSITION_ADD", pos_terminal=terminal, ts_in_receipt=1, ts_received=1,
                     op_id=f"{i:05d}", text="x" * 100, event_id=f"e{i}")
            for i in range(start, start + n)]


@pytest.fixture
def pub(tmp_path: Path) -> Iterator[DurablePublisher]:
    p = DurablePublisher(f"127.0.0.1:{free_port()}", TOPICS, Spool(tmp_path),
                         spool_max_bytes=CAP)
    try:
        yield p
    finally:
        p.close(timeout=0.1)


def spooling(p: DurablePublisher) -> None:
    with p._lock:
        p._degrade("test: the broker is away")
    assert p.mode == "spooling"


def test_direct_mode_never_refuses(pub: DurablePublisher) -> None:
    assert pub.mode == "direct" and not pub.full
    assert pub.publish_many(events(100)) == 100  # to the producer's queue, not the spool
    assert not pub.full


def test_a_full_spool_refuses_whole_calls_and_keeps_what_it_took(pub: DurablePublisher) -> None:
    spooling(pub)
    taken = 0
    with pytest.raises(SpoolFull, match="limit 4000"):
        while True:
            taken += pub.publish_many(events(5, start=taken))
    assert pub.full and pub.spool.records == taken and taken >= 5
    assert pub.spool.end >= CAP  # the last call taken started below the cap
    before = pub.spool.end
    with pytest.raises(SpoolFull):
        pub.publish_deadletter(Rejected(terminal="T1", code="garbage", reason="x", raw=b"x",
                                        size=1, ts=1, source="t"))
    assert pub.spool.end == before  # nothing of a refused call is written
    snap = pub.snapshot()
    assert snap["spool_full"] == 1 and snap["refused"] == 2 and snap["spool_records"] == taken
    got = [r.value for _, r in pub.spool.read(pub.spool.cursor, 1 << 20)]
    assert [e.op_id for e in events(taken)] == [v.split(b'"op_id":"')[1][:5].decode()
                                               for v in got]


def test_failed_deliveries_of_accepted_events_pass_the_cap(pub: DurablePublisher) -> None:
    spooling(pub)
    with pytest.raises(SpoolFull):
        while True:
            pub.publish_many(events(5))
    records = pub.spool.records
    with pub._lock:  # a late failure report of an event accepted while direct
        pub._failed_live(0, KafkaError(KafkaError._MSG_TIMED_OUT),
                         Report(TOPICS.events, b"T1", b"late"))
        pub._spool_failed()
    assert pub.spool.records == records + 1


def test_input_is_taken_again_once_the_spool_drained(pub: DurablePublisher) -> None:
    spooling(pub)
    with pytest.raises(SpoolFull):
        while True:
            pub.publish_many(events(5))
    with pub._lock:  # what a completed replay does
        pub.spool.commit(pub.spool.end, pub.spool.records)
    assert not pub.full and pub.publish_many(events(5)) == 5


def test_no_cap(tmp_path: Path) -> None:
    p = DurablePublisher(f"127.0.0.1:{free_port()}", TOPICS, Spool(tmp_path))
    try:
        spooling(p)
        for i in range(20):
            p.publish_many(events(10, start=10 * i))
        assert not p.full and p.spool.end > CAP
    finally:
        p.close(timeout=0.1)


def test_the_intake_counts_refusals_per_terminal_and_logs_once(
        pub: DurablePublisher, caplog: pytest.LogCaptureFixture) -> None:
    counters = IngestCounters()
    intake = Intake(pub, counters)
    spooling(pub)
    with caplog.at_level(logging.WARNING, "posguard.ingest.refused"):
        with pytest.raises(SpoolFull):
            while True:
                intake.take(events(4, terminal="T1") + events(1, terminal="T2"), "tcp:1")
        accepted = counters.accepted.total()
        assert intake.full and accepted == pub.spool.records
        bad = Rejected(terminal="", code="garbage", reason="x", raw=b"x", size=1, ts=1,
                       source="t")
        with pytest.raises(SpoolFull):
            intake.take([bad, *events(2, terminal="T2")], "tcp:1")
    assert counters.accepted.total() == accepted  # refused input is not accepted
    assert counters.refused == {"T1": 4, "T2": 3, "tcp:1": 1}
    assert counters.snapshot()["refused"] == 8
    assert counters.rejected[("tcp:1", "garbage")] == 1
    assert len([r for r in caplog.records if "spool full" in r.getMessage()]) == 1


def test_the_setting() -> None:
    assert IngestConfig().spool_max_bytes == 4 * 1024**3
    assert ingest_config_from_dict({"spool_max_bytes": 0}).spool_max_bytes == 0
    with pytest.raises(RegistryError, match="spool_max_bytes"):
        ingest_config_from_dict({"spool_max_bytes": -1})
