"""Terminal directory: auto-registration, decoders per protocol, printer timeouts."""

from __future__ import annotations

from pathlib import Path

from ingest_helpers import counter_ids

from posguard.ingest.config import IngestConfig
from posguard.ingest.directory import TerminalDirectory
from posguard.ingest.files import load_definitions, load_registry
from posguard.ingest.registry import Terminal, TerminalRegistry
from posguard.ingest.rejects import Rejected
from posguard.model.events import PosEvent

EXAMPLES = Path(__file__).resolve().parents[3] / "examples" / "printer"
DOC = (b"<transaction><event_type>POSNG_RECEIPT_OPEN</event_type><location>cas_9</location>"
       b"</transaction>")


def directory(auto: bool, path: Path | None = None,
              terminals: tuple[Terminal, ...] = ()) -> TerminalDirectory:
    return TerminalDirectory(TerminalRegistry(terminals),
                             IngestConfig(auto_register=auto, default_timezone="Asia/Tokyo"),
                             load_definitions(["*.toml"], EXAMPLES), counter_ids(), path)


def test_unknown_terminals_are_rejected_without_auto_registration() -> None:
    d = directory(False)
    out = d.decoder("tcp", 5001, "dssl-xml", "src").feed(DOC, 1)
    assert isinstance(out[0], Rejected) and out[0].code == "unknown_terminal"


def test_auto_registration_adds_and_saves(tmp_path: Path) -> None:
    path = tmp_path / "posguard.toml"
    path.write_text("[posguard]\nhttp = '127.0.0.1:1'\n")
    d = directory(True, path)
    changed: list[int] = []
    d.on_change = lambda: changed.append(1)
    [ev] = d.decoder("tcp", 5001, "dssl-xml", "src").feed(DOC, 1)
    assert isinstance(ev, PosEvent)
    t = d.registry.get(ev.pos_terminal)
    assert t is not None and t.auto_registered and t.location == "cas_9"
    assert t.timezone == "Asia/Tokyo" and (t.transport, t.port) == ("tcp", 5001)
    assert load_registry(path) == d.registry and changed == [1]
    # the same sender again finds the same terminal
    [again] = d.decoder("tcp", 5001, "dssl-xml", "src").feed(DOC, 2)
    assert isinstance(again, PosEvent) and again.pos_terminal == ev.pos_terminal
    assert len(d.registry) == 1
    # JSON naming its own GUID over HTTP is registered under that GUID
    j = d.find("http", 0, "json", "POS-77", "")
    assert j is not None and j.guid == "POS-77" and j.transport == "http"


def test_printer_ports_need_their_terminal_and_definition() -> None:
    p = Terminal(guid="P1", protocol="text", port=7001, transaction_definition="grocer-en")
    q = Terminal(guid="P2", protocol="text", port=7002, transaction_definition="nope")
    d = directory(True, None, (p, q))
    ok = d.decoder("tcp", 7001, "text", "s").feed(b"RECEIPT #1\n", 10)
    assert [e.type for e in ok if isinstance(e, PosEvent)] == ["POS_RECEIPT_OPEN"]
    for port in (7002, 7003):
        out = d.decoder("tcp", port, "text", "s").feed(b"RECEIPT #1\n", 10)
        assert isinstance(out[0], Rejected) and out[0].code == "unknown_terminal"
    # the receipt is the terminal's: a second connection continues it; then it times out
    more = d.decoder("tcp", 7001, "text", "s").feed(b"Milk   1 x 0.89   0.89\n", 20)
    assert [e.op_id for e in more if isinstance(e, PosEvent)] == ["1"]
    assert d.expire_printers(20 + 299_000_000) == []
    [inc] = d.expire_printers(20 + 300_000_000)
    assert (inc.type, inc.op_id, inc.pos_terminal) == ("POS_RECEIPT_INCOMPLETE", "1", "P1")
