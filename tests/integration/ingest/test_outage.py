"""Broker outage: 1,000 events accepted while Kafka is down all reach pos.events once the
broker is back, in order per terminal, none doubled; once more with the adapter restarted
during the outage (the spool on disk carries them over)."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from ingest_it import read_topic, send_tcp, wait_for

from posguard.ingest.config import IngestConfig
from posguard.ingest.encoders import to_dssl_xml
from posguard.ingest.registry import Terminal, TerminalRegistry
from posguard.ingest.service import IngestService
from posguard.model.events import PosEvent
from posguard.streams.broker import EmbeddedBroker, free_port
from posguard.streams.topics import Topics, ensure_topics

pytestmark = [pytest.mark.integration, pytest.mark.faults]
T0 = 1_796_000_000_000_000
N = 1000
TERMINALS = ["OUT00001", "OUT00002", "OUT00003", "OUT00004"]


def stream(port: int) -> tuple[bytes, list[PosEvent]]:
    events = [PosEvent(type="POS_POSITION_ADD", pos_terminal=TERMINALS[i % 4],
                       location=f"cas_{i % 4}", ts_in_receipt=T0 + i * 1000, ts_received=0,
                       op_id=f"{i:06d}", position=i // 4 + 1, price=1000 + i) for i in range(N)]
    return b"".join(to_dssl_xml(e) for e in events), events


def start(bootstrap: str, topics: Topics, data: Path, port: int) -> IngestService:
    reg = TerminalRegistry(Terminal(guid=g, port=port, location=f"cas_{i}")
                           for i, g in enumerate(TERMINALS))
    svc = IngestService(bootstrap, topics, data, registry=reg,
                        config=IngestConfig(bind="127.0.0.1", message_timeout=5.0))
    svc.start_thread()
    return svc


@pytest.mark.parametrize("restart_adapter", [False, True], ids=["broker", "broker+adapter"])
def test_nothing_accepted_is_lost_across_an_outage(tmp_path: Path, restart_adapter: bool,
                                                   caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.CRITICAL, "posguard.ingest.kafka")
    broker = EmbeddedBroker(port=free_port()).start()  # a fixed port: restarted on the same
    topics = Topics("outage.")
    try:
        ensure_topics(broker.bootstrap, topics, partitions=4)
        port = free_port()
        svc = start(broker.bootstrap, topics, tmp_path, port)
        assert svc.publisher is not None and svc.publisher.mode == "direct"
        broker.stop()  # Tansu keeps its log in memory: what was in it is gone, as in a crash

        data, events = stream(port)
        send_tcp(port, data, chunk=1500)
        wait_for(lambda: svc.counters.accepted.total() == N, what="1,000 accepted")
        wait_for(lambda: svc.publisher is not None and svc.publisher.mode == "spooling",
                 what="spooling")
        if restart_adapter:
            svc.stop_thread()  # spool stays on disk
            assert (tmp_path / "spool" / "ingest" / "events.spool").stat().st_size > 0
        broker.start()
        ensure_topics(broker.bootstrap, topics, partitions=4)  # what the node does at start
        if restart_adapter:
            svc = start(broker.bootstrap, topics, tmp_path, port)
        wait_for(lambda: svc.publisher is not None and svc.publisher.flush(0.1) == 0,
                 timeout=60, what="spool replayed")
        snap = svc.metrics()
        svc.stop_thread()

        got = read_topic(broker.bootstrap, topics.events, N, timeout=60, settle=2.0)
        ids = [v["event_id"] for _, v in got]
        assert len(got) == N and len(set(ids)) == N  # every event, none doubled
        for g in TERMINALS:  # per terminal: in the order sent
            mine = [v["op_id"] for k, v in got if k == g.encode()]
            assert mine == [e.op_id for e in events if e.pos_terminal == g]
        assert snap["publisher_replayed"] == N or restart_adapter
        assert snap["publisher_spool_records"] == 0
        assert not (tmp_path / "spool" / "ingest" / "events.cursor").exists()
    finally:
        broker.stop()


def test_a_broker_that_hangs_mid_stream(tmp_path: Path,
                                        caplog: pytest.LogCaptureFixture) -> None:
    """The broker stops answering (SIGSTOP) while events are in the producer's queue and in
    flight: they time out, the queue is purged into the spool in order, and everything is
    replayed when it answers again. An event the broker took but never confirmed may arrive
    twice (at-least-once; the store deduplicates on event_id); none is lost, and the first
    copy of each keeps the terminal's order."""
    import os
    import signal
    import threading

    caplog.set_level(logging.CRITICAL, "posguard.ingest.kafka")
    broker = EmbeddedBroker(port=free_port()).start()
    topics = Topics("hang.")
    try:
        ensure_topics(broker.bootstrap, topics, partitions=4)
        port = free_port()
        svc = start(broker.bootstrap, topics, tmp_path, port)
        _, events = stream(port)
        first = b"".join(to_dssl_xml(e) for e in events[:N // 2])
        second = b"".join(to_dssl_xml(e) for e in events[N // 2:])
        send_tcp(port, first, chunk=1500)
        # accepted first: the second half comes on a new connection, and the adapter would
        # interleave it with the tail of the first one still being parsed
        wait_for(lambda: svc.counters.accepted.total() == N // 2, what="first half accepted")
        wait_for(lambda: svc.publisher is not None and svc.publisher.flush(0.1) == 0,
                 what="first half delivered")
        assert broker.pid is not None
        os.kill(broker.pid, signal.SIGSTOP)
        sender = threading.Thread(target=send_tcp, args=(port, second, 700, 0.002))
        sender.start()
        sender.join(60)
        wait_for(lambda: svc.counters.accepted.total() == N, what="1,000 accepted")
        wait_for(lambda: svc.publisher is not None and svc.publisher.mode == "spooling",
                 timeout=30, what="spooling after the message timeout")
        os.kill(broker.pid, signal.SIGCONT)
        wait_for(lambda: svc.publisher is not None and svc.publisher.flush(0.1) == 0,
                 timeout=60, what="spool replayed")
        svc.stop_thread()
        got = read_topic(broker.bootstrap, topics.events, N, timeout=60, settle=2.0)
        ids = [v["event_id"] for _, v in got]
        assert len(set(ids)) == N  # none lost
        for g in TERMINALS:
            seen: list[str] = []
            for k, v in got:
                if k == g.encode() and v["op_id"] not in seen:
                    seen.append(v["op_id"])
            assert seen == [e.op_id for e in events if e.pos_terminal == g]
    finally:
        if broker.pid is not None:
            os.kill(broker.pid, signal.SIGCONT)
        broker.stop()


@pytest.mark.parametrize("restart_adapter", [False, True], ids=["broker", "broker+adapter"])
def test_what_a_restarted_broker_forgot_is_replayed_from_the_journal(
        tmp_path: Path, restart_adapter: bool, caplog: pytest.LogCaptureFixture) -> None:
    """The broker acknowledged 500 events, then restarted empty (Tansu in memory): the
    adapter sees pos.events' topic id change and sends them again from its journal, before
    the events that come after, in order per terminal; once more with the adapter stopped
    and started while the broker was away (the journal on disk remembers the old id)."""
    caplog.set_level(logging.CRITICAL, "posguard.ingest.kafka")
    caplog.set_level(logging.WARNING, "posguard.ingest.durable")  # (the handler's level too)
    broker = EmbeddedBroker(port=free_port()).start()
    topics = Topics("loss.")
    try:
        ensure_topics(broker.bootstrap, topics, partitions=4)
        port = free_port()
        svc = start(broker.bootstrap, topics, tmp_path, port)
        _, events = stream(port)
        send_tcp(port, b"".join(to_dssl_xml(e) for e in events[:N // 2]), chunk=1500)
        wait_for(lambda: svc.counters.accepted.total() == N // 2, what="first half accepted")
        wait_for(lambda: svc.publisher is not None and svc.publisher.flush(0.1) == 0,
                 what="first half acknowledged by the broker")
        if restart_adapter:
            svc.stop_thread()
        broker.stop()  # what it acknowledged is gone with its memory
        broker.start()
        ensure_topics(broker.bootstrap, topics, partitions=4)  # new topic ids
        if restart_adapter:
            svc = start(broker.bootstrap, topics, tmp_path, port)
        wait_for(lambda: svc.publisher is not None
                 and svc.publisher.stats.log_losses_detected == 1
                 and svc.publisher.flush(0.1) == 0, timeout=60, what="journal replayed")
        send_tcp(port, b"".join(to_dssl_xml(e) for e in events[N // 2:]), chunk=1500)
        wait_for(lambda: svc.counters.accepted.total() == (N // 2 if restart_adapter else N),
                 what="second half accepted")
        wait_for(lambda: svc.publisher is not None and svc.publisher.flush(0.1) == 0,
                 timeout=60, what="second half delivered")
        snap = svc.metrics()
        svc.stop_thread()

        got = read_topic(broker.bootstrap, topics.events, N, timeout=60, settle=2.0)
        assert {v["op_id"] for _, v in got} == {e.op_id for e in events}  # none lost
        for g in TERMINALS:  # per terminal, first copies in the order sent
            seen: list[str] = []
            for k, v in got:
                if k == g.encode() and v["op_id"] not in seen:
                    seen.append(v["op_id"])
            assert seen == [e.op_id for e in events if e.pos_terminal == g]
        assert snap["publisher_log_losses_detected"] == 1
        assert snap["publisher_replayed_after_log_loss"] >= N // 2
        assert "topic id changed from" in caplog.text and "the broker lost its log" in caplog.text
    finally:
        broker.stop()
