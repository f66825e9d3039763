"""The listeners over real sockets with the real broker: a good terminal's events all
arrive while a hostile one sends garbage; UDP; HTTP; printer text; limits; raw dump; reload."""

from __future__ import annotations

import asyncio
import random
import socket
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
from ingest_it import read_topic, send_tcp, wait_for

from posguard.ingest.config import IngestConfig
from posguard.ingest.encoders import to_dssl_xml, to_ndjson
from posguard.ingest.files import save_registry
from posguard.ingest.registry import Terminal, TerminalRegistry
from posguard.ingest.service import IngestService
from posguard.model.events import PosEvent
from posguard.streams.broker import free_port
from posguard.streams.topics import Topics

pytestmark = pytest.mark.integration
EXAMPLES = Path(__file__).resolve().parents[3] / "examples" / "printer"
T0 = 1_796_000_000_000_000


def config(**kw: object) -> IngestConfig:
    base: dict[str, object] = {"bind": "127.0.0.1", "message_timeout": 10.0}
    base.update(kw)
    return IngestConfig(**base)  # type: ignore[arg-type]


def receipt_events(guid: str, n: int, location: str = "") -> list[PosEvent]:
    return [PosEvent(type="POS_POSITION_ADD", pos_terminal=guid, ts_in_receipt=T0 + i * 1000,
                     ts_received=0, op_id=f"{i:06d}", position=i + 1, price=100 + i,
                     text=f"item {i} «ё»", location=location) for i in range(n)]


def service(kafka_bootstrap: str, topics: Topics, tmp_path: Path, terminals: list[Terminal],
            **kw: object) -> IngestService:
    s = IngestService(kafka_bootstrap, topics, tmp_path, config=config(**kw),
                      registry=TerminalRegistry(terminals))
    s.start_thread()
    return s


def test_good_and_hostile_terminals_at_once(kafka_bootstrap: str, topics: Topics,
                                            tmp_path: Path) -> None:
    shared, own = free_port(), free_port()
    good = Terminal(guid="GOOD0001", port=shared, location="cas_1", timezone="Europe/Moscow",
                    encoding="windows-1251")
    rogue = Terminal(guid="ROGUE001", port=shared, location="cas_2")
    bad = Terminal(guid="BAD00001", port=own)
    svc = service(kafka_bootstrap, topics, tmp_path, [good, rogue, bad],
                  max_document_bytes=4096, rate_bytes_per_second=4 * 1024 * 1024)
    events = receipt_events("GOOD0001", 500, "cas_1")
    stream = b"".join(to_dssl_xml(e, good) for e in events)

    def good_sender() -> None:
        rng = random.Random(1)
        with socket.create_connection(("127.0.0.1", shared)) as s:
            i = 0
            while i < len(stream):
                n = rng.randint(1, 700)
                s.sendall(stream[i:i + n])
                i += n

    def hostile_sender(port: int, location: bytes) -> None:
        rng = random.Random(2)
        nasties = [
            b"\x00\xff" * 300,
            b"<transaction><event_type>POSNG_POSITION_ADD</event_type><price>1</pr",
            b"<?xml version='1.0'?><transaction>" + b"A" * 20000 + b"</transaction>",
            b"<transaction><event_type>POSNG_TELEPORT</event_type><location>" + location
            + b"</location></transaction>",
            b'<?xml version="1.0"?><!DOCTYPE t [<!ENTITY a "b">]><transaction>&a;'
            b"</transaction>",
            b"<transaction><event_type>POSNG_POSITION_ADD</event_type><location>" + location
            + b"</location><price>1.2.3</price></transaction>",
            bytes(rng.randrange(256) for _ in range(3000)),
        ]
        for _ in range(3):
            with socket.create_connection(("127.0.0.1", port)) as s:
                for blob in nasties:
                    s.sendall(blob)

    threads = [threading.Thread(target=good_sender),
               threading.Thread(target=hostile_sender, args=(shared, b"cas_2")),
               threading.Thread(target=hostile_sender, args=(own, b"x"))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    wait_for(lambda: svc.counters.accepted["GOOD0001"] == 500, what="500 good events")
    svc.stop_thread()

    got = read_topic(kafka_bootstrap, topics.events, 500)
    mine = [v for k, v in got if k == b"GOOD0001"]
    assert [v["op_id"] for v in mine] == [e.op_id for e in events]  # all, in order, once
    assert [v["text"] for v in mine[:2]] == ["item 0 «ё»", "item 1 «ё»"]
    assert all(v["pos_terminal"] == "GOOD0001" for _, v in got)  # nothing hostile got in
    assert svc.counters.per_terminal()["GOOD0001"]["rejected"] == 0

    dead = read_topic(kafka_bootstrap, topics.deadletter, 1, timeout=20)
    codes = {v["code"] for _, v in dead}
    assert {"garbage", "truncated", "oversized", "unknown_event_type", "forbidden",
            "bad_field"} <= codes
    assert {v["terminal"] for _, v in dead} <= {"", "ROGUE001", "BAD00001"}
    assert all(len(v["raw"]) <= 4 * 65536 // 3 + 4 for _, v in dead)  # base64 of <= 64 KiB


def test_udp_json_and_http(kafka_bootstrap: str, topics: Topics, tmp_path: Path) -> None:
    import warnings

    from fastapi import FastAPI

    from posguard.console.routes.ingest import router

    with warnings.catch_warnings():  # starlette 1.x asks for "httpx2"; httpx still works
        warnings.simplefilter("ignore")
        from fastapi.testclient import TestClient

    udp = free_port()
    u = Terminal(guid="UDP00001", protocol="json", transport="udp", port=udp)
    h = Terminal(guid="HTTP0001", protocol="json", transport="http")
    svc = service(kafka_bootstrap, topics, tmp_path, [u, h], http_max_body_bytes=10_000)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        for ev in receipt_events("UDP00001", 50):
            s.sendto(to_ndjson(ev), ("127.0.0.1", udp))
            time.sleep(0.002)
        s.sendto(b"\x00garbage", ("127.0.0.1", udp))

    app = FastAPI()
    app.include_router(router)
    app.state.node = SimpleNamespace(extras={"ingest": svc})
    client = TestClient(app)
    body = b"[" + b",".join(to_ndjson(e).strip() for e in receipt_events("HTTP0001", 20)) + b"]"
    r = client.post("/api/ingest", content=body)
    assert (r.status_code, r.json()) == (200, {"accepted": 20})
    r = client.post("/api/ingest", content=b'[{"type": "POS_X", "pos_terminal": "HTTP0001"}]')
    assert r.status_code == 400 and r.json()["rejected"][0]["code"] == "unknown_event_type"
    r = client.post("/api/ingest", content=b"[" + b" " * 20_000 + b"]")
    assert r.status_code == 413
    wait_for(lambda: svc.counters.accepted["UDP00001"] >= 45, what="udp events")
    svc.stop_thread()
    app.state.node = SimpleNamespace(extras={})
    assert client.post("/api/ingest", content=body).status_code == 503

    got = read_topic(kafka_bootstrap, topics.events, svc.counters.accepted["UDP00001"] + 20)
    by = {k: [v["op_id"] for kk, v in got if kk == k] for k in (b"UDP00001", b"HTTP0001")}
    assert by[b"HTTP0001"] == [f"{i:06d}" for i in range(20)]
    assert by[b"UDP00001"] == sorted(by[b"UDP00001"])  # UDP on loopback: in order, none lost
    dead = read_topic(kafka_bootstrap, topics.deadletter, 2, timeout=20)
    assert {v["code"] for _, v in dead} >= {"malformed", "unknown_event_type"}


def test_printer_text_over_tcp_with_timeout(kafka_bootstrap: str, topics: Topics,
                                            tmp_path: Path) -> None:
    port = free_port()
    (tmp_path / "quick.toml").write_text(
        (EXAMPLES / "grocer-en.toml").read_text().replace('name = "grocer-en"',
                                                          'name = "quick"')
        .replace("timeout = 300", "timeout = 1"))
    p = Terminal(guid="PRINT001", protocol="text", port=port, transaction_definition="quick",
                 timezone="Europe/London", raw_dump=True)
    svc = service(kafka_bootstrap, topics, tmp_path, [p],
                  printer_definitions=(str(tmp_path / "quick.toml"),))
    sample = (EXAMPLES / "grocer-en-sample.txt").read_bytes()
    send_tcp(port, sample, chunk=17)
    # the sample ends inside receipt 000124: a second later it is closed as incomplete
    wait_for(lambda: svc.counters.accepted["PRINT001"] == 16, what="16 printer events")
    svc.stop_thread()
    got = [v for _, v in read_topic(kafka_bootstrap, topics.events, 16)]
    assert [v["type"] for v in got][-3:] == ["POS_RECEIPT_OPEN", "POS_POSITION_ADD_BY_SCANNER",
                                             "POS_RECEIPT_INCOMPLETE"]
    assert got[-1]["op_id"] == "000124"
    dumped = list((tmp_path / "raw" / "PRINT001").glob("*.raw"))
    assert [d.read_bytes() for d in dumped] == [sample]


def test_connection_limits_and_idle_timeout(kafka_bootstrap: str, topics: Topics,
                                            tmp_path: Path) -> None:
    port = free_port()
    t = Terminal(guid="LIM00001", port=port)
    svc = service(kafka_bootstrap, topics, tmp_path, [t], max_connections=2, idle_timeout=0.5)
    a = socket.create_connection(("127.0.0.1", port))
    b = socket.create_connection(("127.0.0.1", port))
    wait_for(lambda: svc.counters.connections_open == 2, what="two open connections")
    c = socket.create_connection(("127.0.0.1", port))
    c.settimeout(10)
    assert c.recv(10) == b""  # refused: closed at once
    assert svc.counters.connections_refused == 1
    a.settimeout(10)
    assert a.recv(10) == b""  # idle for longer than idle_timeout: closed
    wait_for(lambda: svc.counters.connections_idle_closed == 2, what="idle closes")
    for s in (a, b, c):
        s.close()
    ev = receipt_events("LIM00001", 1)[0]
    send_tcp(port, to_dssl_xml(ev))  # the port still serves
    wait_for(lambda: svc.counters.accepted["LIM00001"] == 1, what="event after limits")
    svc.stop_thread()


def test_registry_reload_opens_new_ports(kafka_bootstrap: str, topics: Topics,
                                         tmp_path: Path) -> None:
    path = tmp_path / "posguard.toml"
    first, second = free_port(), free_port()
    path.write_text("[ingest]\nbind = '127.0.0.1'\n")
    save_registry(path, TerminalRegistry([Terminal(guid="R1", port=first)]))
    svc = IngestService(kafka_bootstrap, topics, tmp_path, path, reload_interval=0.2)
    svc.start_thread()
    assert svc.ports() == {("tcp", first): "dssl-xml"}
    save_registry(path, TerminalRegistry([Terminal(guid="R2", port=second, protocol="json")]))
    asyncio.run_coroutine_threadsafe(svc.reload(force=True), svc.loop).result(10)  # type: ignore[arg-type]
    assert svc.ports() == {("tcp", second): "json"}
    send_tcp(second, to_ndjson(receipt_events("R2", 1)[0]))
    wait_for(lambda: svc.counters.accepted["R2"] == 1, what="event on the new port")
    svc.stop_thread()
