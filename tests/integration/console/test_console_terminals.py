"""The terminal registry over HTTP: list, add, remove in the node's config file, with the
CLI's validation, admin-only access and CSRF on cookie sessions."""

from __future__ import annotations

import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from console_testkit import Env, make_env

from posguard.ingest.files import load_registry

pytestmark = pytest.mark.integration

PREAMBLE = '# operator notes, kept\n[ingest]\nauto_register = false\n'


@pytest.fixture
def env(store: Any, tmp_path: Path) -> Iterator[Env]:
    e = make_env(store, tmp_path)
    (tmp_path / "posguard.toml").write_text(PREAMBLE, encoding="utf-8")
    yield e
    for c in e.clients.values():
        c.close()


def config(env: Env) -> Path:
    return env.state.settings.data / "posguard.toml"


def guids(env: Env) -> list[str]:
    return [t.guid for t in load_registry(config(env))]


def test_add_list_remove(env: Env) -> None:
    admin = env.client("admin")
    assert admin.get("/api/terminals").json() == []
    r = admin.post("/api/terminals", json={
        "guid": "T1RuoVF7", "name": "Till 1", "store": "S1", "port": 5001,
        "location": "cas_1", "associated_channel": "cam1", "timezone": "Europe/Moscow",
        "encoding": "cp1251", "date_format": "%Y-%m-%d"})
    assert r.status_code == 201, r.text
    assert r.json()["protocol"] == "dssl-xml" and r.json()["timezone"] == "Europe/Moscow"
    r = admin.post("/api/terminals", json={"guid": "H1", "protocol": "json",
                                           "transport": "http", "port": 8080})
    assert r.status_code == 201, r.text
    assert r.json()["port"] == 0  # as the CLI: an http terminal arrives on the API's port
    listed = admin.get("/api/terminals").json()
    assert [t["guid"] for t in listed] == ["T1RuoVF7", "H1"]
    assert listed[0] == {
        "guid": "T1RuoVF7", "name": "Till 1", "store": "S1", "protocol": "dssl-xml",
        "transport": "tcp", "port": 5001, "location": "cas_1", "associated_channel": "cam1",
        "timezone": "Europe/Moscow", "encoding": "cp1251", "date_format": "%Y-%m-%d",
        "decimal_separator": "auto", "raw_dump": False, "transaction_definition": "",
        "auto_registered": False}
    text = config(env).read_text(encoding="utf-8")
    assert text.startswith(PREAMBLE) and tomllib.loads(text)["ingest"] == {
        "auto_register": False}  # the rest of the file is untouched
    assert guids(env) == ["T1RuoVF7", "H1"]  # what a running ingest reloads
    assert admin.delete("/api/terminals/T1RuoVF7").status_code == 204
    assert [t["guid"] for t in admin.get("/api/terminals").json()] == ["H1"]
    assert guids(env) == ["H1"]
    assert not list(config(env).parent.glob("*.tmp"))  # atomic replace left nothing behind


def test_bearer_token_needs_no_csrf(env: Env) -> None:
    c = env.client("token")
    assert c.post("/api/terminals", json={"guid": "T1", "port": 5001}).status_code == 201
    assert c.delete("/api/terminals/T1").status_code == 204


def test_duplicate_guid_is_409_and_changes_nothing(env: Env) -> None:
    admin = env.client("admin")
    assert admin.post("/api/terminals", json={"guid": "T1", "port": 5001}).status_code == 201
    before = config(env).read_bytes()
    r = admin.post("/api/terminals", json={"guid": "T1", "port": 5002})
    assert r.status_code == 409 and "T1 exists" in r.json()["detail"]
    assert config(env).read_bytes() == before


@pytest.mark.parametrize(("fields", "reason"), [
    ({"guid": "bad guid!"}, "1-64 letters"),
    ({"guid": "x" * 65}, "1-64 letters"),
    ({"protocol": "soap"}, "protocol 'soap'"),
    ({"transport": "smtp"}, "transport 'smtp'"),
    ({"port": 0}, "port 0 not in 1..65535"),
    ({"port": 70000}, "not in 1..65535"),
    ({"transport": "http"}, "over http the protocol is json"),
    ({"protocol": "text"}, "needs transaction_definition"),
    ({"timezone": "Mars/Olympus_Mons"}, "Mars/Olympus_Mons"),
    ({"encoding": "no-such-codec"}, "unknown encoding"),
    ({"date_format": "dd.mm.yyyy"}, "has no %-codes"),
    ({"decimal_separator": ";"}, "decimal_separator"),
])
def test_invalid_fields_are_400_with_the_reason(env: Env, fields: dict[str, Any],
                                                 reason: str) -> None:
    body = {"guid": "T1", "port": 5001, **fields}
    r = env.client("admin").post("/api/terminals", json=body)
    assert r.status_code == 400, r.text
    assert reason in r.json()["detail"]
    assert guids(env) == []


def test_lone_surrogate_is_refused(env: Env) -> None:
    r = env.client("admin").post("/api/terminals", headers={"Content-Type": "application/json"},
                                 content=b'{"guid": "T1", "port": 5001, "name": "\\ud800"}')
    assert r.status_code in (400, 422), r.text
    assert guids(env) == []


def test_conflict_with_another_terminal_is_400(env: Env) -> None:
    admin = env.client("admin")
    assert admin.post("/api/terminals", json={"guid": "T1", "port": 5001}).status_code == 201
    r = admin.post("/api/terminals", json={"guid": "T2", "port": 5001})  # 2nd catch-all
    assert r.status_code == 400 and "without a location" in r.json()["detail"]
    r = admin.post("/api/terminals", json={"guid": "T3", "port": 5001, "protocol": "json",
                                           "location": "x"})
    assert r.status_code == 400 and "already speaks dssl-xml" in r.json()["detail"]


@pytest.mark.parametrize("body", [{"port": 5001}, {"guid": "T1", "port": "five"},
                                  {"guid": "T1", "port": 5001, "colour": "red"}, []])
def test_malformed_bodies_are_refused(env: Env, body: Any) -> None:
    r = env.client("admin").post("/api/terminals", json=body)
    assert r.status_code in (400, 422), r.text
    assert guids(env) == []


def test_remove_unknown_is_404(env: Env) -> None:
    r = env.client("admin").delete("/api/terminals/NOPE")
    assert r.status_code == 404 and "no terminal NOPE" in r.json()["detail"]


@pytest.mark.parametrize("role", ["viewer", "operator", "analyst"])
def test_only_admins(env: Env, role: str) -> None:
    env.client("token").post("/api/terminals", json={"guid": "T1", "port": 5001})
    c = env.client(role)
    assert c.get("/api/terminals").status_code == 403
    assert c.post("/api/terminals", json={"guid": "T2", "port": 5002}).status_code == 403
    assert c.delete("/api/terminals/T1").status_code == 403
    assert guids(env) == ["T1"]


def test_anonymous_is_401(env: Env) -> None:
    c = env.client("anonymous")
    assert c.get("/api/terminals").status_code == 401
    assert c.post("/api/terminals", json={"guid": "T2", "port": 5002}).status_code == 401
    assert c.delete("/api/terminals/T1").status_code == 401


def test_csrf_token_required_on_cookie_sessions(env: Env) -> None:
    admin = env.client("admin")
    assert admin.post("/api/terminals", json={"guid": "T1", "port": 5001}).status_code == 201
    token = admin.headers.pop("X-CSRF-Token")
    try:
        r = admin.post("/api/terminals", json={"guid": "T2", "port": 5002})
        assert r.status_code == 403 and "CSRF" in r.json()["detail"]
        assert admin.delete("/api/terminals/T1").status_code == 403
        r = admin.post("/api/terminals", json={"guid": "T2", "port": 5002},
                       headers={"X-CSRF-Token": "forged"})
        assert r.status_code == 403
        assert admin.get("/api/terminals").status_code == 200  # reads need none
    finally:
        admin.headers["X-CSRF-Token"] = token
    assert guids(env) == ["T1"]


HOSTILE = {
    "name": 'x"\n[[terminals]]\nguid = "EVIL"\nport = 1\n',
    "store": "'; DROP TABLE events; --",
    "location": "<script>alert(1)</script>\\u0041\\",
    "associated_channel": "\x00\x07\x1b[31m\u202eRTL\t\r\n",
    "transaction_definition": "]]\n[ingest]\nauto_register = true",
}


def test_hostile_strings_are_stored_literally(env: Env) -> None:
    admin = env.client("admin")
    r = admin.post("/api/terminals", json={"guid": "T1", "port": 5001, **HOSTILE})
    assert r.status_code == 201, r.text
    [listed] = admin.get("/api/terminals").json()
    assert {k: listed[k] for k in HOSTILE} == HOSTILE
    doc = tomllib.loads(config(env).read_text(encoding="utf-8"))
    assert [t["guid"] for t in doc["terminals"]] == ["T1"]  # no table was injected
    assert doc["ingest"] == {"auto_register": False}
    [t] = load_registry(config(env))
    assert t.name == HOSTILE["name"] and t.associated_channel == HOSTILE["associated_channel"]

