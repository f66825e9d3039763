"""Printer text: the shipped definitions over their sample receipts, timeouts, ESC/POS."""

from __future__ import annotations

from pathlib import Path

import pytest
from ingest_helpers import counter_ids

from posguard.ingest.encoders import to_printer_text
from posguard.ingest.errors import DefinitionError
from posguard.ingest.escpos import EscPosStripper, strip_escpos
from posguard.ingest.files import load_definitions
from posguard.ingest.lines import LineSplitter
from posguard.ingest.printer_defs import definition_from_dict
from posguard.ingest.printer_text import INCOMPLETE, PrinterDecoder, PrinterState, expire
from posguard.ingest.registry import Terminal
from posguard.ingest.rejects import Rejected
from posguard.model.events import PosEvent

EXAMPLES = Path(__file__).resolve().parents[3] / "examples" / "printer"
DEFS = load_definitions(["*.toml"], EXAMPLES)
GROCER = Terminal(guid="P1", protocol="text", port=7001, transaction_definition="grocer-en",
                  timezone="Europe/London")
FISCAL = Terminal(guid="P2", protocol="text", port=7002, transaction_definition="fiscal-ru",
                  encoding="cp866", date_format="%d.%m.%y", decimal_separator=",",
                  timezone="Europe/Moscow")
TS = 1_700_000_000_000_000


def decode(t: Terminal, data: bytes, chunks: int | None = None,
           state: PrinterState | None = None) -> tuple[list[PosEvent | Rejected], PrinterState]:
    d = PrinterDecoder(DEFS[t.transaction_definition], t, state or PrinterState(),
                       counter_ids(), 4096, "tcp:7001 x")
    out: list[PosEvent | Rejected] = []
    step = chunks or len(data) or 1
    for i in range(0, len(data), step):
        out += d.feed(data[i:i + step], TS)
    out += d.close(TS)
    return out, d.state


def brief(out: list[PosEvent | Rejected]) -> list[tuple[object, ...]]:
    return [(e.type, e.op_id, e.position, e.text, e.price, e.quantity, e.weight, e.discount,
             e.discount_card, e.cashier_name) if isinstance(e, PosEvent) else (e.code,)
            for e in out]


def test_shipped_definitions_load() -> None:
    assert sorted(DEFS) == ["fiscal-ru", "grocer-en"]


def test_grocer_sample() -> None:
    out, state = decode(GROCER, (EXAMPLES / "grocer-en-sample.txt").read_bytes())
    iv = "Ivanov I"
    assert brief(out) == [
        ("POS_CASHIER_LOGIN", "", 0, "", 0, 0, 0, 0, "", iv),
        ("POS_RECEIPT_OPEN", "000123", 0, "", 0, 0, 0, 0, "", iv),
        ("POS_POSITION_ADD_BY_SCANNER", "000123", 1, "Milk 3.2% 1l", 178, 2, 0, 0, "", iv),
        ("POS_POSITION_ADD_BY_SCANNER", "000123", 2, "Bread rye 500g", 45, 1, 0, 0, "", iv),
        ("POS_POSITION_ADD", "000123", 3, "Bananas", 97, 0, 754, 0, "", iv),
        ("POS_POSITION_DELETE", "000123", 0, "Bread rye 500g", 45, 0, 0, 0, "", iv),
        ("POS_DISCOUNT_CARD", "000123", 0, "", 0, 0, 0, 0, "778800000012", iv),
        ("POS_DISCOUNT_RECEIPT", "000123", 0, "", 0, 0, 0, 10, "778800000012", iv),
        ("POS_SUBTOTAL", "000123", 0, "", 265, 0, 0, 0, "778800000012", iv),
        ("POS_PAYMENT_CASH", "000123", 0, "", 500, 0, 0, 0, "778800000012", iv),
        ("POS_CHANGE", "000123", 0, "", 235, 0, 0, 0, "778800000012", iv),
        ("POS_RECEIPT_CLOSE", "000123", 0, "", 0, 0, 0, 0, "778800000012", iv),
        ("POS_DRAWER_OPEN", "", 0, "", 0, 0, 0, 0, "", iv),
        ("POS_RECEIPT_OPEN", "000124", 0, "", 0, 0, 0, 0, "", iv),
        ("POS_POSITION_ADD_BY_SCANNER", "000124", 1, "Coffee beans 1kg", 1599, 1, 0, 0, "", iv),
    ]
    # The printed date sets the terminal's clock: events after it carry the receipt time.
    first_receipt = [e for e in out if isinstance(e, PosEvent) and e.op_id == "000123"]
    assert first_receipt[1].ts_in_receipt == 1484152815_000000  # 11/01/2017 16:40:15 GMT
    assert state.open  # receipt 000124 has no end line yet


def test_fiscal_sample_cp866_with_escpos() -> None:
    out, state = decode(FISCAL, (EXAMPLES / "fiscal-ru-sample.prn").read_bytes())
    pa = "Петрова А."
    card = "778800000012"
    assert brief(out) == [
        ("POS_SHIFT_START", "", 0, "", 0, 0, 0, 0, "", ""),
        ("POS_RECEIPT_OPEN", "42", 0, "", 0, 0, 0, 0, "", ""),
        ("POS_POSITION_ADD_BY_SCANNER", "42", 1, "Молоко 3,2% 1л", 17980, 2, 0, 0, "", pa),
        ("POS_POSITION_ADD", "42", 2, "Бананы", 9794, 0, 754, 0, "", pa),
        ("POS_POSITION_ADD_BY_SCANNER", "42", 3, "Хлеб ржаной", 4590, 1, 0, 0, "", pa),
        ("POS_POSITION_DELETE", "42", 3, "Хлеб ржаной", 4590, 0, 0, 0, "", pa),
        ("POS_DISCOUNT_CARD", "42", 0, "", 0, 0, 0, 0, card, pa),
        ("POS_DISCOUNT_RECEIPT", "42", 0, "", 0, 0, 0, 1388, card, pa),
        ("POS_SUBTOTAL", "42", 0, "", 26386, 0, 0, 0, card, pa),
        ("POS_PAYMENT_CASH", "42", 0, "", 30000, 0, 0, 0, card, pa),
        ("POS_CHANGE", "42", 0, "", 3614, 0, 0, 0, card, pa),
        ("POS_RECEIPT_CLOSE", "42", 0, "", 0, 0, 0, 0, card, pa),
        ("POS_RECEIPT_OPEN", "43", 0, "", 0, 0, 0, 0, "", pa),
        ("POS_POSITION_ADD_BY_SCANNER", "43", 1, "Кофе в зернах 1кг", 159900, 1, 0, 0, "", pa),
        ("POS_RECEIPT_CANCEL", "43", 0, "", 0, 0, 0, 0, "", pa),
        ("POS_DRAWER_OPEN", "", 0, "", 0, 0, 0, 0, "", pa),
    ]
    assert not state.open


@pytest.mark.parametrize("t", [GROCER, FISCAL], ids=["grocer", "fiscal"])
def test_same_events_whatever_the_chunking(t: Terminal) -> None:
    name = "grocer-en-sample.txt" if t is GROCER else "fiscal-ru-sample.prn"
    data = (EXAMPLES / name).read_bytes()
    whole = brief(decode(t, data)[0])
    for size in (1, 2, 3, 5, 13, 64):
        assert brief(decode(t, data, size)[0]) == whole, size


def test_timeout_closes_an_open_receipt_as_incomplete() -> None:
    d = DEFS["grocer-en"]
    out, state = decode(GROCER, b"RECEIPT #77\nMilk 1l   1 x 0.89   0.89\n")
    ids = counter_ids("x")
    state, none = expire(d, GROCER, state, TS + int(d.timeout * 1e6) - 1, ids)
    assert none == [] and state.open
    state, evs = expire(d, GROCER, state, TS + int(d.timeout * 1e6), ids)
    assert [(e.type, e.op_id) for e in evs] == [(INCOMPLETE, "77")]
    assert not state.open
    assert expire(d, GROCER, state, TS * 2, ids)[1] == []


def test_a_start_over_an_open_receipt_closes_it_incomplete() -> None:
    out, state = decode(GROCER, b"RECEIPT #1\nRECEIPT #2\nTHANK YOU FOR SHOPPING\n")
    assert [(e.type, e.op_id) for e in out if isinstance(e, PosEvent)] == [
        ("POS_RECEIPT_OPEN", "1"), (INCOMPLETE, "1"), ("POS_RECEIPT_OPEN", "2"),
        ("POS_RECEIPT_CLOSE", "2")]


def test_a_receipt_continues_across_connections() -> None:
    _, state = decode(GROCER, b"RECEIPT #5\nMilk 1l   1 x 0.89   0.89\n")
    out, state = decode(GROCER, b"TOTAL   0.89\nTHANK YOU FOR SHOPPING\n", state=state)
    assert [(e.type, e.op_id) for e in out if isinstance(e, PosEvent)] == [
        ("POS_SUBTOTAL", "5"), ("POS_RECEIPT_CLOSE", "5")]


def test_lines_between_receipts_count_only_when_outside() -> None:
    out, _ = decode(GROCER, b"Milk 1l   1 x 0.89   0.89\nNO SALE\n")
    assert [e.type for e in out if isinstance(e, PosEvent)] == ["POS_DRAWER_OPEN"]


def test_start_without_op_id_gets_one() -> None:
    d = definition_from_dict({"name": "x", "start": {"exact": "HELLO", "event": "RECEIPT_OPEN"},
                              "end": {"exact": "BYE", "event": "RECEIPT_CLOSE"}})
    dec = PrinterDecoder(d, GROCER, PrinterState(), counter_ids(), 100)
    out = dec.feed(b"HELLO\nBYE\n", TS)
    assert [e.op_id for e in out if isinstance(e, PosEvent)] == [f"P{TS}"] * 2


def test_bad_bytes_and_bad_fields_are_rejected_per_line() -> None:
    out, _ = decode(GROCER, b"RECEIPT #1\n\xff\xfe\nMilk   1 x 0.89   99999999999999999999999.99\n"
                    b"THANK YOU FOR SHOPPING\n")
    assert [getattr(e, "code", getattr(e, "type", "")) for e in out] == [
        "POS_RECEIPT_OPEN", "encoding", "bad_field", "POS_RECEIPT_CLOSE"]
    assert all(e.terminal == "P1" for e in out if isinstance(e, Rejected))


def test_encoder_round_trip_of_simulated_receipts() -> None:
    from posguard.ingest.simulator import ChainSimulator

    sim = ChainSimulator(1, 1, seed=11)
    events = list(sim.events(300, 1_796_000_000_000_000, 1_000_000))
    for t, layout in ((GROCER, "grocer-en"), (FISCAL, "fiscal-ru")):
        out, _ = decode(t, to_printer_text(events, layout, t))
        assert not [e for e in out if isinstance(e, Rejected)]
        got = [(e.type, e.op_id, e.price) for e in out if isinstance(e, PosEvent)
               and e.type.startswith("POS_POSITION_ADD")]
        sent = [(e.type, e.op_id, e.price) for e in events if e.type.startswith(
            "POS_POSITION_ADD")]
        assert [g[1:] for g in got] == [s[1:] for s in sent], layout


@pytest.mark.parametrize(("d", "msg"), [
    ({"name": "x", "start": {"regex": "("}, "end": {"exact": "E"}}, "regular expression"),
    ({"name": "x", "start": {"regex": "(?P<pirce>1)"}, "end": {"exact": "E"}}, "pirce"),
    ({"name": "x", "start": {"exact": "S", "regex": "S"}, "end": {"exact": "E"}}, "exactly one"),
    ({"name": "x", "start": {"exact": "S", "event": "POS_NOPE"}, "end": {"exact": "E"}}, "NOPE"),
    ({"name": "x", "start": [], "end": {"exact": "E"}}, "at least one"),
    ({"name": "x", "start": {"exact": "S"}, "end": {"exact": "E"}, "timeout": 0}, "timeout"),
    ({"name": "x", "start": {"exact": "S"}, "end": {"exact": "E"}, "extra": 1}, "extra"),
    ({"name": " ", "start": {"exact": "S"}, "end": {"exact": "E"}}, "name"),
])
def test_bad_definitions(d: dict[str, object], msg: str) -> None:
    with pytest.raises(DefinitionError, match=msg):
        definition_from_dict(d)


def test_definition_files_errors(tmp_path: Path) -> None:
    (tmp_path / "a.toml").write_text('name = "a"\n[start]\nexact = "S"\n[end]\nexact = "E"\n')
    (tmp_path / "b.toml").write_text('name = "a"\n[start]\nexact = "S"\n[end]\nexact = "E"\n')
    with pytest.raises(DefinitionError, match="twice"):
        load_definitions(["*.toml"], tmp_path)
    with pytest.raises(DefinitionError):
        load_definitions(["missing.toml"], tmp_path)
    (tmp_path / "b.toml").write_text("name = [")
    with pytest.raises(DefinitionError):
        load_definitions(["b.toml"], tmp_path)


def test_wildcards() -> None:
    d = definition_from_dict({"name": "w", "start": {"wildcard": "CHECK *", "event": "RECEIPT_OPEN"},
                              "end": {"wildcard": "END?", "event": "RECEIPT_CLOSE"}})
    dec = PrinterDecoder(d, GROCER, PrinterState(), counter_ids(), 100)
    out = dec.feed(b"CHECK 1\n  END1  \nEND\n", TS)
    assert [e.type for e in out if isinstance(e, PosEvent)] == ["POS_RECEIPT_OPEN",
                                                                 "POS_RECEIPT_CLOSE"]


def test_escpos_commands_are_stripped_across_chunks() -> None:
    data = (b"\x1b@\x1bE\x01BOLD\x1bE\x00 text\n\x1ba\x01centre\n\x1b*\x00\x03\x00\n\n\nimg"
            b"\x1dk\x02123\x00bar\x1dkI\x03abccode\x1dv0\x00\x02\x00\x01\x00\x0a\x0araster"
            b"\x1bp\x00\x19\xfadrawer\x1b(?\x1dVA\x10end\x07\n")
    want = b"BOLD text\ncentre\nimgbarcoderasterdrawer?\nend\n"
    assert strip_escpos(data) == want
    for i in range(len(data) + 1):
        s = EscPosStripper()
        assert s.feed(data[:i]) + s.feed(data[i:]) == want, i


def test_line_splitter() -> None:
    s = LineSplitter(5)
    assert s.feed(b"ab\r\ncd") == [b"ab"]
    assert [getattr(x, "code", x) for x in s.feed(b"e\n123456789")] == [b"cde", "oversized"]
    assert s.feed(b"0\nok\n") == [b"ok"]  # the rest of the long line is dropped
    assert s.feed(b"tail") == [] and s.close() == [b"tail"]


@pytest.mark.parametrize(("t", "layout"), [(GROCER, "grocer-en"), (FISCAL, "fiscal-ru")])
def test_simulator_traffic_sent_event_by_event_reads_back_through_the_definition(
        t: Terminal, layout: str) -> None:
    """What `posguard simulate --protocol text` sends (one terminal's events, each encoded
    on its own as TerminalSender does) reads back, through the shipped definition, as the
    events the layout prints. A printed receipt cannot show how an item was entered, so
    POS_POSITION_ADD and POS_POSITION_ADD_BY_SCANNER compare as one."""
    from posguard.ingest.encoders import LAYOUTS, encode_events
    from posguard.ingest.simulator import ChainSimulator

    events = list(ChainSimulator(1, 1, seed=5, fraud_rate=0.3).events(
        600, 1_796_000_000_000_000, 1_000_000))
    data = b"".join(encode_events("text", [ev], t, layout, with_guid=True) for ev in events)
    out, state = decode(t, data, chunks=333)
    assert not [e for e in out if isinstance(e, Rejected)]
    render = LAYOUTS[layout][0]
    printed = [e for e in events if render(e, t) is not None]
    assert len(printed) > 500 and len({e.op_id for e in printed}) > 50

    def key(e: PosEvent) -> tuple[object, ...]:
        kind = e.type.replace("_BY_SCANNER", "")
        amounts = (0 if e.weight else e.quantity or 1, e.weight, e.price_per_unit, e.price)
        item = kind == "POS_POSITION_ADD"  # a delete without a name prints a placeholder
        return (kind, e.op_id if kind != "POS_DRAWER_OPEN" or e.op_id else "",
                e.text if item else "", amounts if kind == "POS_POSITION_ADD" else (),
                e.price if kind in ("POS_SUBTOTAL", "POS_PAYMENT_CASH", "POS_PAYMENT_CARD",
                                    "POS_CHANGE", "POS_POSITION_DELETE") else 0,
                e.discount_card if kind == "POS_DISCOUNT_CARD" else "",  # then kept per receipt
                e.discount if kind == "POS_DISCOUNT_RECEIPT" else 0)

    got = [key(e) for e in out if isinstance(e, PosEvent)]
    assert got == [key(e) for e in printed]
