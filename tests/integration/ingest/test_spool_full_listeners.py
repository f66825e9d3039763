"""The spool cap over real sockets: with Kafka down and the spool at its cap, a TCP sender
gets an error line and is closed (a new connection at once), HTTP gets 503, a UDP datagram is
counted as refused; when Kafka is back, every accepted event (and no refused one) arrives,
in order, and input is taken again."""

from __future__ import annotations

import logging
import select
import socket
from pathlib import Path

import msgspec
import pytest
from ingest_it import read_topic, wait_for

from posguard.ingest.config import IngestConfig
from posguard.ingest.encoders import to_dssl_xml
from posguard.ingest.listeners import SPOOL_FULL_LINE
from posguard.ingest.registry import Terminal, TerminalRegistry
from posguard.ingest.service import SPOOL_FULL_ERROR, IngestService
from posguard.model.events import PosEvent
from posguard.streams.broker import EmbeddedBroker, free_port
from posguard.streams.topics import Topics, ensure_topics

pytestmark = [pytest.mark.integration, pytest.mark.faults]
T0 = 1_796_000_000_000_000
CAP = 30_000


def send_until_refused(port: int, data: bytes, chunk: int = 1500) -> tuple[int, bytes]:
    """Send in chunks until the listener answers; (bytes sent, what it answered)."""
    answer = b""
    sent = 0
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        while sent < len(data):
            try:
                s.sendall(data[sent:sent + chunk])
            except (BrokenPipeError, ConnectionResetError):
                break
            sent += chunk
            if select.select([s], [], [], 0.01)[0]:
                break
        s.settimeout(10)
        while True:
            try:
                got = s.recv(4096)
            except (ConnectionResetError, TimeoutError):
                break
            if not got:
                break
            answer += got
    return sent, answer


def answer_of_new_connection(port: int) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        out = b""
        while got := s.recv(4096):
            out += got
        return out


def test_a_full_spool_refuses_new_input_and_loses_nothing_accepted(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.CRITICAL, "posguard.ingest.kafka")
    broker = EmbeddedBroker(port=free_port()).start()
    topics = Topics("cap.")
    tcp, udp = free_port(), free_port()
    reg = TerminalRegistry([Terminal(guid="CAPTCP01", port=tcp),
                            Terminal(guid="CAPUDP01", transport="udp", port=udp),
                            Terminal(guid="CAPHTTP1", transport="http", protocol="json")])
    svc = IngestService(broker.bootstrap, topics, tmp_path, registry=reg,
                        config=IngestConfig(bind="127.0.0.1", message_timeout=5.0,
                                            spool_max_bytes=CAP))
    try:
        ensure_topics(broker.bootstrap, topics, partitions=2)
        svc.start_thread()
        pub = svc.publisher
        assert pub is not None
        broker.stop()
        wait_for(lambda: pub.mode == "spooling", what="spooling once Kafka is gone")

        events = [PosEvent(type="POS_POSITION_ADD", pos_terminal="CAPTCP01",
                           ts_in_receipt=T0 + i, ts_received=0, op_id=f"{i:06d}",
                           text="milk " * 10) for i in range(2000)]
        sent, answer = send_until_refused(tcp, b"".join(to_dssl_xml(e) for e in events))
        assert answer == SPOOL_FULL_LINE
        assert sent < len(b"".join(to_dssl_xml(e) for e in events))
        wait_for(lambda: svc.counters.refused["CAPTCP01"] > 0, what="refusal counted")
        accepted = svc.counters.accepted.total()
        assert 0 < accepted < 2000 and pub.full
        assert pub.spool.records == accepted  # everything accepted is in the spool

        assert answer_of_new_connection(tcp) == SPOOL_FULL_LINE
        assert svc.counters.connections_refused_spool_full == 1
        body = msgspec.json.encode([{"type": "POS_RECEIPT_OPEN", "pos_terminal": "CAPHTTP1",
                                     "op_id": "h1"}])
        status, reply = svc.ingest_http_threadsafe(body).result(10)
        assert (status, reply) == (503, {"error": SPOOL_FULL_ERROR})
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.sendto(to_dssl_xml(events[0]).replace(b"CAPTCP01", b"CAPUDP01"),
                     ("127.0.0.1", udp))
        wait_for(lambda: svc.counters.refused["CAPUDP01"] == 1, what="datagram refused")
        snap = svc.metrics()
        assert snap["publisher_spool_full"] == 1 and snap["http_refused"] == 1
        assert snap["accepted"] == accepted and snap["refused"] >= 2

        broker.start()
        ensure_topics(broker.bootstrap, topics, partitions=2)
        wait_for(lambda: pub.flush(0.1) == 0, timeout=60, what="spool replayed")
        assert not pub.full
        status, reply = svc.ingest_http_threadsafe(body).result(10)
        assert (status, reply) == (200, {"accepted": 1})

        got = read_topic(broker.bootstrap, topics.events, accepted + 1, timeout=60,
                         settle=1.0)
        tcp_ops = [v["op_id"] for k, v in got if k == b"CAPTCP01"]
        assert tcp_ops == [e.op_id for e in events[:accepted]]  # the accepted ones, in order
        assert len(got) == accepted + 1
    finally:
        svc.stop_thread()
        broker.stop()
