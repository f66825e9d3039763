"""Terminal registry: validation, look-ups, the TOML file round trip."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from posguard.ingest.config import ingest_config_from_dict
from posguard.ingest.errors import RegistryError
from posguard.ingest.files import load_ingest_config, load_registry, save_registry
from posguard.ingest.registry import Terminal, TerminalRegistry, auto_guid, terminal_from_dict
from posguard.ingest.registry_toml import registry_from_document, replace_terminal_tables

T1 = Terminal(guid="T1RuoVF7", name="Till 1", port=5001, location="cas_1",
              timezone="Europe/Moscow")
T2 = Terminal(guid="T2", port=5001, location="cas_2")
T3 = Terminal(guid="T3", port=5002)  # a port of its own: takes everything arriving there
J1 = Terminal(guid="J1", protocol="json", transport="http")


def reg() -> TerminalRegistry:
    return TerminalRegistry([T1, T2, T3, J1])


def test_find_by_guid_location_and_catch_all() -> None:
    r = reg()
    assert r.find("tcp", 5001, location="cas_1") is T1
    assert r.find("tcp", 5001, location="cas_2") is T2
    assert r.find("tcp", 5001, location="cas_9") is None  # shared port, nobody claims it
    assert r.find("tcp", 5002, location="anything") is T3
    assert r.find("tcp", 5002) is T3
    assert r.find("tcp", 5001, guid="T1RuoVF7") is T1
    assert r.find("http", 8700, guid="J1") is J1  # http ignores the port
    assert r.find("http", 0) is J1  # the one http terminal without a location


def test_an_explicit_guid_is_never_guessed_around() -> None:
    r = reg()
    assert r.find("tcp", 5002, guid="OTHER") is None  # not the port's catch-all
    assert r.find("tcp", 5002, guid="T1RuoVF7") is None  # registered, but on another port
    assert r.find("udp", 5001, guid="T1RuoVF7") is None
    assert r.find("http", 0, guid="NOPE") is None


@pytest.mark.parametrize(("bad", "msg"), [
    (T1, "registered twice"),
    (Terminal(guid="X", port=5001, location="cas_1"), "already T1RuoVF7"),
    (Terminal(guid="X", port=5002), "already has a terminal without a location"),
    (Terminal(guid="X", port=5002, protocol="json", location="a"), "already speaks dssl-xml"),
])
def test_conflicts_are_refused(bad: Terminal, msg: str) -> None:
    with pytest.raises(RegistryError, match=msg):
        reg().add(bad)


@pytest.mark.parametrize(("fields", "msg"), [
    ({"guid": "bad guid"}, "guid"),
    ({"guid": "X", "port": 0}, "port"),
    ({"guid": "X", "port": 70000}, "port"),
    ({"guid": "X", "port": 1, "protocol": "xml"}, "protocol"),
    ({"guid": "X", "transport": "http", "protocol": "dssl-xml"}, "http"),
    ({"guid": "X", "port": 1, "protocol": "text"}, "transaction_definition"),
    ({"guid": "X", "port": 1, "timezone": "Mars/Olympus"}, "timezone"),
    ({"guid": "X", "port": 1, "encoding": "klingon"}, "encoding"),
    ({"guid": "X", "port": 1, "decimal_separator": ";"}, "decimal_separator"),
    ({"guid": "X", "port": 1, "date_format": "dd/mm"}, "date_format"),
    ({"guid": "X", "port": 1, "prot": "json"}, "prot"),
    ({"guid": "X", "port": "5001"}, "port"),
])
def test_bad_terminal_tables(fields: dict[str, object], msg: str) -> None:
    with pytest.raises(RegistryError, match=msg):
        terminal_from_dict(fields)


def test_remove_and_replace() -> None:
    r = reg().remove("T2")
    assert "T2" not in r and len(r) == 3
    r2 = r.replace(Terminal(guid="T3", port=5003))
    assert r2.get("T3") is not None and r2.get("T3").port == 5003  # type: ignore[union-attr]
    with pytest.raises(RegistryError):
        r.remove("T2")


def test_ports() -> None:
    assert reg().ports() == {("tcp", 5001): "dssl-xml", ("tcp", 5002): "dssl-xml",
                             ("http", 0): "json"}


def test_auto_guid_is_stable_and_eight_alphanumerics() -> None:
    g = auto_guid("tcp", 5001, "cas_7")
    assert g == auto_guid("tcp", 5001, "cas_7") != auto_guid("tcp", 5001, "cas_8")
    assert len(g) == 8 and g.isalnum()


CONFIG = """# the node's file: settings, a comment, other tables
[posguard]
http = "127.0.0.1:8700"

[ingest]
auto_register = true
default_timezone = "Europe/Moscow"

[[ingest.listeners]]
transport = "udp"
port = 6001
protocol = "json"

[[terminals]]
guid = "OLD"
port = 4000

[kafka_config]
"linger.ms" = 10   # keep me
"""


def test_toml_round_trip_keeps_everything_else(tmp_path: Path) -> None:
    path = tmp_path / "posguard.toml"
    path.write_text(CONFIG, encoding="utf-8")
    assert [t.guid for t in load_registry(path)] == ["OLD"]
    weird = Terminal(guid="W1", name='Касса "№1"\n', port=5009, store="s\\1", raw_dump=True)
    save_registry(path, reg().add(weird))
    text = path.read_text(encoding="utf-8")
    assert "# keep me" in text and "# the node's file" in text
    doc = tomllib.loads(text)
    assert doc["kafka_config"] == {"linger.ms": 10}
    assert doc["posguard"] == {"http": "127.0.0.1:8700"}
    assert load_registry(path) == reg().add(weird)
    cfg = load_ingest_config(path)
    assert cfg.auto_register and cfg.default_timezone == "Europe/Moscow"
    assert cfg.listeners[0].port == 6001


def test_save_to_a_new_file_and_empty_registry(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "posguard.toml"
    save_registry(path, reg())
    assert load_registry(path) == reg()
    save_registry(path, TerminalRegistry())
    assert len(load_registry(path)) == 0
    assert load_registry(tmp_path / "missing.toml") == TerminalRegistry()


def test_replace_terminal_tables_is_pure_text() -> None:
    out = replace_terminal_tables(CONFIG, TerminalRegistry([T3]))
    assert 'guid = "OLD"' not in out and 'guid = "T3"' in out
    assert out.index("[kafka_config]") < out.index('guid = "T3"')
    assert registry_from_document(tomllib.loads(out)) == TerminalRegistry([T3])


def test_bad_config_file(tmp_path: Path) -> None:
    path = tmp_path / "posguard.toml"
    path.write_text("[[terminals]]\nguid = 'X'\nport = 0\n")
    with pytest.raises(RegistryError, match="port"):
        load_registry(path)
    path.write_text("terminals = 3\n")
    with pytest.raises(RegistryError, match="array of tables"):
        load_registry(path)
    path.write_text("[[terminals]\n")
    with pytest.raises(RegistryError):
        load_registry(path)


@pytest.mark.parametrize(("table", "msg"), [
    ({"auto_registr": True}, "auto_registr"),
    ({"max_connections": 0}, "positive"),
    ({"default_timezone": "Nowhere/City"}, "default_timezone"),
    ({"listeners": [{"transport": "sctp", "port": 1}]}, "transport"),
])
def test_bad_ingest_table(table: dict[str, object], msg: str) -> None:
    with pytest.raises(RegistryError, match=msg):
        ingest_config_from_dict(table)
