"""Attack cases the console and capability tests do not already cover (those are reused, not
repeated: role matrix of tests/integration/console/test_console_roles.py, session fixation and
CSRF basics of test_console_auth.py, parser fuzzing of tests/fuzz/test_fuzz_ingest.py).

Added here:
- role escalation on *every* API route, found by walking the app's routes and reading the role
  each one's `require_role` dependency asks for (a new route is covered without editing this);
- CSRF: every state-changing route refuses a logged-in cookie without the token;
- XML bombs and XXE through `PUT /api/detectors` (the configuration is left as it was);
- SQL-injection strings in every query field of search, receipts, incidents, events, reports;
- path traversal in report file names and report types;
- oversized uploads (detector import);
- hostile bytes on every kind of listener of a real `posguard ingest` process (seeded and
  bounded), after which each listener still takes a good event.
"""

from __future__ import annotations

import random
import socket
import time
import uuid
import warnings
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest
from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition
from console_testkit import ROLES, T0, Env, env_for, fill

from posguard.console.auth import ROLES as AUTH_ROLES
from posguard.detectors.config import MAX_CONFIG_BYTES
from posguard.ingest.encoders import to_dssl_xml, to_ndjson
from posguard.model.events import PosEvent
from posguard.streams.broker import free_port
from tests.faults.harness import Stack, wait_port

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.routing import APIRoute
    from fastapi.testclient import TestClient

pytestmark = [pytest.mark.timeout(120)]


@pytest.fixture
def env(store: Any) -> Iterator[Env]:
    yield from env_for(store)


def required_role(route: APIRoute) -> str | None:
    """The role a route's `require_role(...)` dependency asks for (None: no login)."""
    stack = list(route.dependant.dependencies)
    while stack:
        d = stack.pop()
        call = d.call
        for cell in getattr(call, "__closure__", None) or ():
            if isinstance(cell.cell_contents, str) and cell.cell_contents in AUTH_ROLES:
                return str(cell.cell_contents)
        stack.extend(d.dependencies)
    return None


def _walk(routes: Any, prefix: str = "") -> Iterator[tuple[str, APIRoute]]:
    for r in routes:
        if isinstance(r, APIRoute):
            yield prefix, r
        elif hasattr(r, "original_router"):  # FastAPI >= 0.16x keeps included routers nested
            yield from _walk(r.original_router.routes, prefix + r.include_context.prefix)
        elif hasattr(r, "routes"):
            yield from _walk(r.routes, prefix + getattr(r, "path", ""))


def api_routes(app: Any) -> list[tuple[str, str, str]]:
    """(method, path with parameters filled in, role) of every API route that needs one."""
    out = []
    for prefix, r in _walk(app.routes):
        if not (prefix + r.path).startswith("/api/"):
            continue
        role = required_role(r)
        if role is None:
            continue
        path = prefix + r.path
        for name in r.param_convertors:
            path = path.replace("{" + name + "}", "x")
        for m in r.methods:
            if m != "HEAD":
                out.append((m, path, role))
    return out


def has(role: str, needed: str) -> bool:
    if role == "admin":
        return True
    if needed == "analyst":
        return role == "analyst"
    return ROLES.index(role) >= ROLES.index(needed)


def test_every_route_refuses_weaker_roles_and_anonymous(env: Env) -> None:
    routes = api_routes(env.app)
    assert len(routes) >= 25, routes  # the walk found the routes
    assert {r for _, _, r in routes} >= {"viewer", "operator", "analyst", "admin"}
    for role in ROLES:
        env.client(role)
    escalations = []
    for method, path, needed in routes:
        anon = TestClient(env.app).request(method, path, json={})
        if anon.status_code != 401:
            escalations.append(("anonymous", method, path, anon.status_code))
        for role in ROLES:
            if has(role, needed):
                continue
            r = env.client(role).request(method, path, json={})
            if r.status_code != 403:
                escalations.append((role, method, path, r.status_code))
    assert not escalations, escalations


def test_every_write_needs_the_csrf_token(env: Env) -> None:
    env.client("admin")
    c = TestClient(env.app)
    r = c.post("/api/auth/login", json={"username": "u_admin", "password": "correct horse battery"})
    assert r.status_code == 200
    missing = []
    for method, path, _ in api_routes(env.app):
        if method in ("GET", "OPTIONS"):
            continue
        resp = c.request(method, path, json={})
        if resp.status_code != 403:
            missing.append((method, path, resp.status_code))
    assert not missing, f"writes accepted without a CSRF token: {missing}"


BOMB = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
<!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">]>
<posguard_detectors version="1"><incident_types/><detectors>&lol4;</detectors>
</posguard_detectors>"""
XXE_FILE = b"""<?xml version="1.0"?>
<!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]>
<posguard_detectors version="1"><incident_types/><detectors/><!-- &x; -->
<x>&x;</x></posguard_detectors>"""
XXE_NET = b"""<?xml version="1.0"?>
<!DOCTYPE d SYSTEM "http://127.0.0.1:9/evil.dtd">
<posguard_detectors version="1"><incident_types/><detectors/></posguard_detectors>"""
XXE_PARAM = b"""<?xml version="1.0"?>
<!DOCTYPE d [<!ENTITY % p SYSTEM "file:///etc/hostname"> %p;]>
<posguard_detectors version="1"><incident_types/><detectors/></posguard_detectors>"""
QUADRATIC = (b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY a "' + b"A" * 50_000 + b'">]>'
             b"<posguard_detectors version=\"1\"><detectors>" + b"&a;" * 2_000
             + b"</detectors></posguard_detectors>")


@pytest.mark.parametrize("doc", [BOMB, XXE_FILE, XXE_NET, XXE_PARAM, QUADRATIC],
                         ids=["billion-laughs", "xxe-file", "xxe-dtd-network", "xxe-parameter",
                              "quadratic-blowup"])
def test_detector_import_refuses_xml_bombs_and_xxe(env: Env, doc: bytes) -> None:
    c = env.client("token")
    before = c.get("/api/detectors").content
    t0 = time.monotonic()
    r = c.put("/api/detectors", content=doc, headers={"content-type": "application/xml"})
    assert r.status_code == 400, r.text[:300]
    assert "root:" not in r.text and "lollol" not in r.text
    assert time.monotonic() - t0 < 10  # refused, not expanded
    assert c.get("/api/detectors").content == before


def test_oversized_detector_import_is_413(env: Env) -> None:
    c = env.client("token")
    big = b"<posguard_detectors>" + b" " * (MAX_CONFIG_BYTES + 1) + b"</posguard_detectors>"
    assert c.put("/api/detectors", content=big).status_code == 413


INJECTIONS = ["' OR 1=1 --", "'; DROP TABLE events; --", "\\' OR \\'1\\'=\\'1",
              "x') UNION ALL SELECT name FROM system.tables --", "{tid:String}", "%' --",
              "1; SELECT * FROM system.users", "\x00\x01'\"`", "') OR ('a'='a"]
SEARCH_ROUTES: list[tuple[str, list[str]]] = [
    ("/api/events/search", ["text", "terminal", "cashier", "op_id", "barcode", "article",
                            "type", "store", "text_mode"]),
    ("/api/events/count", ["text", "terminal", "cashier", "op_id"]),
    ("/api/receipts", ["terminal", "cashier", "op_id", "store", "contains", "not_contains",
                       "discount_card"]),
    ("/api/incidents", ["detector", "terminal", "cashier", "store", "status", "type", "expert"]),
    ("/api/receipts/events", ["terminal", "op_id", "ts"]),
    ("/api/live/terminals", ["store"]),
]


def test_sql_injection_strings_in_every_search_field(env: Env) -> None:
    fill(env.state.backend)
    db = env.state.backend.database
    before = env.state.backend.query(f"SELECT count() FROM {db}.events").scalar()
    c = env.client("admin")
    bad = []
    for path, fields in SEARCH_ROUTES:
        for f in fields:
            for s in INJECTIONS:
                r = c.get(path, params={f: s})
                if r.status_code >= 500:
                    bad.append((path, f, s, r.status_code, r.text[:200]))
                elif r.status_code == 200 and "system.users" in r.text:
                    bad.append((path, f, s, "leaked"))
    for s in INJECTIONS:  # reports: store and tz are free text; ids in the path
        for rt in [t["type"] for t in c.get("/api/reports").json()]:
            r = c.get(f"/api/reports/{rt}", params={"from": T0, "to": T0 + 10**9, "store": s})
            if r.status_code >= 500:
                bad.append(("report", rt, s, r.status_code, r.text[:200]))
        r = c.get("/api/incidents/" + quote(s, safe=""))
        if r.status_code >= 500:
            bad.append(("incident id", s, r.status_code))
    assert not bad, bad
    after = env.state.backend.query(f"SELECT count() FROM {db}.events").scalar()
    assert after == before  # nothing dropped or added


def test_report_file_names_cannot_traverse(env: Env) -> None:
    fill(env.state.backend)
    c = env.client("admin")
    types = [t["type"] for t in c.get("/api/reports").json()]
    assert types
    for store in ["../../etc/passwd", "..\\..\\windows\\system32", "/abs/path", "a/../../b",
                  "x\r\nSet-Cookie: pwned=1", "%2e%2e%2f"]:
        r = c.get(f"/api/reports/{types[0]}", params={"from": T0, "to": T0 + 10**9,
                                                      "store": store})
        assert r.status_code < 500, r.text[:300]
        if r.status_code == 200:
            cd = r.headers["content-disposition"]
            name = cd.split('filename="', 1)[1].split('"', 1)[0]
            assert "/" not in name and "\\" not in name and not name.startswith("."), cd
            assert "\n" not in cd and "pwned" not in r.headers.get("set-cookie", "")
    for rt in ["..%2F..%2Fetc%2Fpasswd", "../../etc/passwd", "%2e%2e"]:
        r = c.get(f"/api/reports/{rt}", params={"from": T0, "to": T0 + 10**9})
        assert r.status_code in (400, 404, 422), (rt, r.status_code)


# -- hostile bytes on every listener of a real `posguard ingest` process -----------------------

def _hostile(rng: random.Random, n: int) -> list[bytes]:
    fixed = [
        b"\x00" * 4096, b"\xff\xfe" * 2048, b"<" * 10_000, b"<transaction>" * 2000,
        BOMB, XXE_FILE, XXE_NET, b"<?xml version='1.0' encoding='utf-32'?><transaction/>",
        b"{" * 5000 + b"\n", b'{"type": "POS_X", "pos_terminal": "' + b"A" * 300_000 + b'"}\n',
        b'{"type": 1e999999}\n', b"[" * 100_000 + b"\n", "Ω≈ç√∫".encode("utf-16") + b"\n",
        b"\r\n" * 5000, b"\x1b@\x1bd\x05" * 500 + b"\n",
    ]
    return fixed + [rng.randbytes(rng.randint(1, 3000)) for _ in range(n)]


def test_hostile_bytes_on_every_listener(make_stack: Any) -> None:
    stack: Stack = make_stack("hostile")
    ports = {"dssl-xml": free_port(), "json": free_port(), "text": free_port()}
    udp = free_port()
    data = stack.tmp / "hostile"
    data.mkdir(parents=True, exist_ok=True)
    (data / "printer").mkdir(exist_ok=True)
    (data / "printer" / "p.toml").write_text(
        'name = "p"\ntimeout = 300\nescpos = true\n[[start]]\nregex = \'^RECEIPT (?P<op_id>\\d+)\'\n'
        'event = "POS_RECEIPT_OPEN"\n[[end]]\nexact = "BYE"\nevent = "POS_RECEIPT_CLOSE"\n')
    (data / "posguard.toml").write_text(
        '[ingest]\nbind = "127.0.0.1"\nprinter_definitions = ["printer/*.toml"]\n'
        'max_document_bytes = 65536\n\n'
        f'[[terminals]]\nguid = "HX1"\nprotocol = "dssl-xml"\nport = {ports["dssl-xml"]}\n\n'
        f'[[terminals]]\nguid = "HJ1"\nprotocol = "json"\nport = {ports["json"]}\n\n'
        f'[[terminals]]\nguid = "HU1"\nprotocol = "json"\ntransport = "udp"\nport = {udp}\n\n'
        f'[[terminals]]\nguid = "HT1"\nprotocol = "text"\nport = {ports["text"]}\n'
        'transaction_definition = "p"\n')
    from tests.faults.harness import Proc, cli

    proc = stack._add(Proc("hostile-ingest", cli(
        "ingest", "--kafka", stack.bootstrap, "--data", str(data), "--topic-prefix",
        stack.topics.prefix, "--log-level", "warning"), stack.tmp)).start()
    for p in ports.values():
        wait_port(p)
    rng = random.Random(20261203)
    payloads = _hostile(rng, 120)
    for port in ports.values():
        for chunk in payloads:
            try:
                with socket.create_connection(("127.0.0.1", port), 2) as s:
                    s.sendall(chunk)
            except OSError:
                pass  # the listener may close a connection that misbehaves: fine
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        for chunk in payloads:
            s.sendto(chunk[:60_000], ("127.0.0.1", udp))
    proc.check()
    # every listener still takes a good event
    mark = uuid.uuid4().hex[:8]
    digits = str(rng.randrange(10**8, 10**9))
    good = {g: PosEvent(type="POS_RECEIPT_OPEN", pos_terminal=g, ts_in_receipt=T0,
                        ts_received=0, op_id=f"{mark}{i}", event_id=f"{mark}-{g}")
            for i, g in enumerate(["HX1", "HJ1", "HU1"])}
    with socket.create_connection(("127.0.0.1", ports["dssl-xml"]), 2) as s:
        s.sendall(to_dssl_xml(good["HX1"], with_guid=True))
    with socket.create_connection(("127.0.0.1", ports["json"]), 2) as s:
        s.sendall(to_ndjson(good["HJ1"]))
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        for _ in range(3):  # UDP: a terminal repeats (the store keeps one per event id)
            time.sleep(1.0)
            s.sendto(to_ndjson(good["HU1"]), ("127.0.0.1", udp))
    with socket.create_connection(("127.0.0.1", ports["text"]), 2) as s:
        s.sendall(f"RECEIPT {digits}\nBYE\n".encode())
    got = _read_events(stack, timeout=30,
                       want=lambda vs: sum(mark in v or digits in v for v in vs) >= 5)
    proc.check()
    seen = [v for v in got if mark in v or digits in v]
    for g in ("HX1", "HJ1", "HU1", "HT1"):
        assert any(f'"{g}"' in v for v in seen), (g, seen, proc.log()[-2000:])


def _read_events(stack: Stack, timeout: float, want: Any) -> list[str]:
    c = Consumer({"bootstrap.servers": stack.bootstrap, "group.id": uuid.uuid4().hex})
    c.assign([TopicPartition(stack.topics.events, p, OFFSET_BEGINNING) for p in range(4)])
    out: list[str] = []
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline and not want(out):
            out += [m.value().decode(errors="replace") for m in c.consume(500, 0.5)
                    if m.error() is None]
    finally:
        c.close()
    return out

