"""DSSL XML over real UDP sockets: documents split across datagrams arrive whole, several in
one datagram all arrive, and a document whose rest never comes is dead-lettered (truncated,
with its bytes) once its sender has been silent for idle_timeout."""

from __future__ import annotations

import base64
import socket
from pathlib import Path

import pytest
from ingest_it import read_topic, wait_for

from posguard.ingest.config import IngestConfig
from posguard.ingest.encoders import to_dssl_xml
from posguard.ingest.registry import Terminal, TerminalRegistry
from posguard.ingest.service import IngestService
from posguard.model.events import PosEvent
from posguard.streams.broker import free_port
from posguard.streams.topics import Topics

pytestmark = pytest.mark.integration
T0 = 1_796_000_000_000_000


def doc(i: int, terminal: Terminal) -> bytes:
    return to_dssl_xml(PosEvent(type="POS_POSITION_ADD", pos_terminal=terminal.guid,
                                ts_in_receipt=T0 + i * 1_000_000, ts_received=0,
                                op_id=f"{i:04d}", text="кефир 1л", price=100 + i), terminal)


def test_split_and_merged_documents_over_udp(kafka_bootstrap: str, topics: Topics,
                                             tmp_path: Path) -> None:
    port = free_port()
    t = Terminal(guid="UDPDOC01", transport="udp", port=port, encoding="windows-1251")
    svc = IngestService(kafka_bootstrap, topics, tmp_path, registry=TerminalRegistry([t]),
                        config=IngestConfig(bind="127.0.0.1", idle_timeout=1.0))
    svc.start_thread()
    try:
        one, other = (socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(2))
        with one, other:
            dest = ("127.0.0.1", port)
            one.sendto(doc(0, t) + doc(1, t), dest)  # two in one datagram
            d2, d3 = doc(2, t), doc(3, t)
            one.sendto(d2[:7], dest)  # '<?xml v' | ... | ...
            other.sendto(d3[:150], dest)  # another sender, half-way at the same time
            one.sendto(d2[7:200], dest)
            other.sendto(d3[150:], dest)
            one.sendto(d2[200:], dest)
            cut = doc(4, t)[:120]
            one.sendto(cut, dest)  # its rest never comes
            wait_for(lambda: svc.counters.accepted["UDPDOC01"] == 4, what="4 events")
            wait_for(lambda: svc.counters.rejected[("UDPDOC01", "truncated")] == 1,
                     what="the unfinished document rejected after idle_timeout")
        got = read_topic(kafka_bootstrap, topics.events, 4, timeout=30, settle=0.5)
        assert sorted(v["op_id"] for _, v in got) == ["0000", "0001", "0002", "0003"]
        assert {v["text"] for _, v in got} == {"кефир 1л"}
        dead = read_topic(kafka_bootstrap, topics.deadletter, 1, timeout=30, settle=0.5)
        assert [(v["code"], base64.b64decode(v["raw"])) for _, v in dead] == [
            ("truncated", cut)]
    finally:
        svc.stop_thread()
