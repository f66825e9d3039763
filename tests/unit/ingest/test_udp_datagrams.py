"""DSSL XML over UDP: one sender's datagrams are one stream, so a document split across
datagrams is put back together; several documents in one datagram all count; a lost piece
costs only the document it cut; an unfinished document is rejected as truncated when its
sender stays silent. JSON stays datagram by datagram. The listener's `received` is called
directly (no socket) and hands its results to a publisher that keeps them in lists."""

from __future__ import annotations

from collections.abc import Iterable

from hypothesis import given, settings
from hypothesis import strategies as st
from ingest_helpers import counter_ids

from posguard.ingest.config import IngestConfig
from posguard.ingest.counters import IngestCounters
from posguard.ingest.directory import TerminalDirectory
from posguard.ingest.encoders import to_dssl_xml, to_ndjson
from posguard.ingest.intake import Intake
from posguard.ingest.listeners import Shell, UdpListener
from posguard.ingest.registry import Terminal, TerminalRegistry
from posguard.ingest.rejects import Rejected
from posguard.model.events import PosEvent

PORT = 5500
TS = 1_796_000_000_000_000
A, B = ("10.0.0.1", 4001), ("10.0.0.2", 4002)


class ListPublisher:
    """A Publisher that keeps what it is given (the shell's side of the listener)."""

    full = False

    def __init__(self) -> None:
        self.events: list[PosEvent] = []
        self.rejects: list[Rejected] = []

    def publish(self, ev: PosEvent) -> None:
        self.events.append(ev)

    def publish_raw(self, terminal: str, value: bytes) -> None:
        raise AssertionError("not used by the listeners")

    def publish_many(self, events: Iterable[PosEvent]) -> int:
        before = len(self.events)
        self.events += events
        return len(self.events) - before

    def publish_deadletter(self, r: Rejected) -> None:
        self.rejects.append(r)

    def flush(self, timeout: float = 30.0) -> int:
        return 0


def listener(protocol: str = "dssl-xml", **kw: object) -> tuple[UdpListener, ListPublisher]:
    config = IngestConfig(**kw)  # type: ignore[arg-type]
    reg = TerminalRegistry([Terminal(guid="UDPX0001", transport="udp", port=PORT,
                                     protocol=protocol)])
    pub = ListPublisher()
    counters = IngestCounters()
    shell = Shell(config, TerminalDirectory(reg, config, {}, counter_ids()),
                  Intake(pub, counters), counters, clock=lambda: 1)
    return UdpListener(shell, PORT, protocol), pub


def doc(i: int) -> bytes:
    return to_dssl_xml(PosEvent(type="POS_POSITION_ADD", pos_terminal="UDPX0001",
                                ts_in_receipt=TS, ts_received=TS, op_id=f"{i:04d}"))


def ops(pub: ListPublisher) -> list[str]:
    return [e.op_id for e in pub.events]


def test_a_document_split_across_datagrams_at_every_point_is_put_back_together() -> None:
    d = doc(1)
    whole = len(d.rstrip())  # the document ends with its root's end tag
    for cut in range(1, len(d)):
        udp, pub = listener()
        udp.received(d[:cut], A)
        assert ops(pub) == (["0001"] if cut >= whole else []) and pub.rejects == [], cut
        udp.received(d[cut:], A)
        assert ops(pub) == ["0001"] and pub.rejects == [], cut
        assert not udp._senders  # nothing held once the document is complete


def test_several_documents_in_one_datagram_and_one_in_three() -> None:
    udp, pub = listener()
    udp.received(doc(1) + doc(2), A)
    third = doc(3)
    for piece in (third[:5], third[5:100], third[100:]):  # cut inside the declaration
        udp.received(piece, A)
    assert ops(pub) == ["0001", "0002", "0003"] and pub.rejects == []


def test_senders_are_separate_streams() -> None:
    udp, pub = listener()
    a, b = doc(1), doc(2)
    udp.received(a[:60], A)
    udp.received(b[:70], B)
    udp.received(a[60:], A)
    udp.received(b[70:], B)
    assert ops(pub) == ["0001", "0002"] and pub.rejects == []


def test_a_lost_datagram_costs_only_the_document_it_cut() -> None:
    udp, pub = listener()
    cut = doc(1)
    udp.received(cut[:80], A)  # its second half never arrives
    udp.received(doc(2), A)
    assert ops(pub) == ["0002"]
    assert [(r.code, r.raw) for r in pub.rejects] == [("truncated", cut[:80])]
    udp.received(doc(3)[90:], A)  # a tail whose head was lost
    udp.received(doc(4), A)
    assert ops(pub) == ["0002", "0004"]
    assert [r.code for r in pub.rejects] == ["truncated", "garbage"]


def test_an_unfinished_document_is_rejected_when_its_sender_goes_silent() -> None:
    udp, pub = listener()
    udp.received(doc(1)[:100], A)
    assert udp.expire(silent_since=0.0) == 0  # not silent long enough yet
    assert udp.expire(silent_since=float("inf")) == 1
    assert [(r.code, r.terminal) for r in pub.rejects] == [("truncated", "UDPX0001")]
    udp.received(doc(1)[100:], A)  # the late rest starts nothing: garbage at once
    assert pub.events == [] and [r.code for r in pub.rejects] == ["truncated", "garbage"]
    assert not udp._senders


def test_half_way_senders_are_capped() -> None:
    udp, pub = listener(max_connections=3)
    for i in range(5):
        udp.received(doc(i)[:50], (f"10.0.1.{i}", 4000))
    assert len(udp._senders) == 3
    assert [r.code for r in pub.rejects] == ["truncated", "truncated"]  # the two oldest


def test_json_stays_datagram_by_datagram() -> None:
    udp, pub = listener("json")
    line = to_ndjson(PosEvent(type="POS_RECEIPT_OPEN", pos_terminal="UDPX0001",
                              ts_in_receipt=TS, ts_received=TS, op_id="7"))
    udp.received(line.rstrip(b"\n"), A)  # a last line without its newline ends there
    udp.received(line[:10], A)
    assert ops(pub) == ["7"] and [r.code for r in pub.rejects] == ["malformed"]
    assert not udp._senders


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(0, 2000), max_size=12), st.integers(1, 6))
def test_any_datagram_boundaries_give_the_events_of_one_datagram(cuts: list[int],
                                                                  n: int) -> None:
    stream = b"".join(doc(i) for i in range(n))
    points = sorted({min(c, len(stream)) for c in cuts} | {0, len(stream)})
    udp, pub = listener()
    for a, b in zip(points, points[1:], strict=False):
        udp.received(stream[a:b], A)
    udp.expire(float("inf"))
    assert ops(pub) == [f"{i:04d}" for i in range(n)] and pub.rejects == []
