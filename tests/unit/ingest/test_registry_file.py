"""One-terminal edits of the config file (what `posguard terminals` and /api/terminals use)."""

from __future__ import annotations

from pathlib import Path

import pytest

from posguard.ingest.errors import RegistryError, TerminalExists, UnknownTerminal
from posguard.ingest.files import load_registry
from posguard.ingest.registry import Terminal, new_terminal
from posguard.ingest.registry_file import add_terminal, put_terminal, remove_terminal


def test_add_put_remove(tmp_path: Path) -> None:
    path = tmp_path / "posguard.toml"
    path.write_text("[ingest]\nauto_register = true\n")
    add_terminal(path, Terminal(guid="T1", port=5001))
    with pytest.raises(TerminalExists, match="T1 exists"):
        add_terminal(path, Terminal(guid="T1", port=5002))
    assert put_terminal(path, Terminal(guid="T1", port=5003)) is True
    assert put_terminal(path, Terminal(guid="T2", port=5004)) is False
    assert [(t.guid, t.port) for t in load_registry(path)] == [("T1", 5003), ("T2", 5004)]
    assert remove_terminal(path, "T1").port == 5003
    with pytest.raises(UnknownTerminal, match="no terminal T1"):
        remove_terminal(path, "T1")
    assert [t.guid for t in load_registry(path)] == ["T2"]
    assert path.read_text().startswith("[ingest]\nauto_register = true\n")


def test_new_terminal_validates_like_the_file() -> None:
    assert new_terminal({"guid": "H1", "protocol": "json", "transport": "http",
                         "port": 8080}).port == 0
    with pytest.raises(RegistryError, match="not in 1..65535"):
        new_terminal({"guid": "T1"})
    with pytest.raises(RegistryError, match="colour"):
        new_terminal({"guid": "T1", "port": 1, "colour": "red"})
    # a lone surrogate (undecodable bytes in argv) is refused, not a crash when writing UTF-8
    with pytest.raises(RegistryError, match="name is not valid Unicode"):
        new_terminal({"guid": "T1", "port": 1, "name": "till \udcff"})
