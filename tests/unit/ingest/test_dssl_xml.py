"""DSSL XML documents -> PosEvents: the documented example, encodings, units, refusals."""

from __future__ import annotations

from collections.abc import Callable

import msgspec
import pytest
from ingest_helpers import MOSCOW, counter_ids

from posguard.ingest import dssl_xml
from posguard.ingest.dssl_xml import DsslDecoder, document_fields, parse_document
from posguard.ingest.encoders import to_dssl_xml
from posguard.ingest.errors import FieldError
from posguard.ingest.registry import Terminal, TerminalRegistry
from posguard.ingest.rejects import Rejected
from posguard.model.events import PosEvent

MANUAL = """<?xml version="1.0" encoding="{enc}"?>
<transaction>
    <event_type>POSNG_POSITION_ADD</event_type>
    <operation_id>E44D0F4A</operation_id>
    <cashier>{cashier}</cashier>
    <date>11/01/2017</date>
    <time>16:40:15</time>
    <position>2</position>
    <quantity>2</quantity>
    <price_per_unit>51{sep}99</price_per_unit>
    <barcode>0760557822035</barcode>
    <text>{text}</text>
    <price>103{sep}98</price>
    <location>cas_1</location>
</transaction>"""


def manual(enc: str = "utf-8", sep: str = ".", cashier: str = "Ivanov I",
           text: str = "Buttermilk milk ster.1,5% 0,95l t / brik (Unimilk): 1.12") -> bytes:
    codec = "cp1251" if enc == "windows-1251" else enc
    return MANUAL.format(enc=enc, sep=sep, cashier=cashier, text=text).encode(codec)


def always(t: Terminal) -> Callable[[str, str], Terminal | None]:
    return lambda guid, location: t


def parse(doc: bytes, t: Terminal = MOSCOW) -> PosEvent | Rejected:
    return parse_document(doc, always(t), 1_700_000_000_000_000, "e1", "test")


def test_the_manual_example() -> None:
    ev = parse(manual())
    assert ev == PosEvent(
        type="POS_POSITION_ADD", pos_terminal="T1RuoVF7", pos_terminal_name="Till 1",
        store="store-1", associated_channel="cam-1", op_id="E44D0F4A", cashier_name="Ivanov I",
        ts_in_receipt=1484142015_000000, ts_received=1_700_000_000_000_000, position=2,
        quantity=2, price_per_unit=5199, price=10398, barcode="0760557822035",
        text="Buttermilk milk ster.1,5% 0,95l t / brik (Unimilk): 1.12", location="cas_1",
        event_id="e1")


@pytest.mark.parametrize("enc", ["utf-8", "windows-1251"])
@pytest.mark.parametrize("sep", [".", ","])
def test_encodings_and_decimal_separators(enc: str, sep: str) -> None:
    ev = parse(manual(enc, sep, cashier="Иванов И", text="Кефир 1,5% 0,95л «Простоквашино»"))
    assert isinstance(ev, PosEvent)
    assert (ev.cashier_name, ev.text) == ("Иванов И", "Кефир 1,5% 0,95л «Простоквашино»")
    assert (ev.price_per_unit, ev.price) == (5199, 10398)


def test_transaction_block_with_crlf_and_weight_in_kg() -> None:
    doc = (b"<TransactionBlock>\r\n<event_type>POSNG_POSITION_ADD_BY_SCANNER</event_type>\r\n"
           b"<operation_id>7</operation_id>\r\n<weight>1,234</weight>\r\n<price>185,4</price>\r\n"
           b"<volume>40.5</volume>\r\n</TransactionBlock>\r\n")
    ev = parse(doc)
    assert isinstance(ev, PosEvent)
    assert (ev.type, ev.weight, ev.price, ev.volume) == ("POS_POSITION_ADD_BY_SCANNER", 1234,
                                                         18540, 40500)
    assert ev.ts_in_receipt == ev.ts_received  # no date/time: arrival time


def test_tag_spellings_and_unknown_tags() -> None:
    doc = (b"<transaction><EventType>RECEIPT_CLOSE</EventType><OperationId>9</OperationId>"
           b"<vendor_extra>x</vendor_extra><Price>10</Price></transaction>")
    ev = parse(doc)
    assert isinstance(ev, PosEvent) and (ev.type, ev.op_id, ev.price) == (
        "POS_RECEIPT_CLOSE", "9", 1000)


def test_terminal_date_format() -> None:
    us = Terminal(guid="US1", port=1, date_format="%m/%d/%Y", timezone="America/New_York")
    ev = parse(manual().replace(b"11/01/2017", b"01/11/2017"), us)
    assert isinstance(ev, PosEvent) and ev.ts_in_receipt == 1484170815_000000  # 21:40:15 UTC


@pytest.mark.parametrize(("doc", "code"), [
    (manual().replace(b"POSNG_POSITION_ADD", b"POSNG_TELEPORT"), "unknown_event_type"),
    (manual().replace(b"<event_type>POSNG_POSITION_ADD</event_type>", b""), "malformed"),
    (manual().replace(b"51.99", b"51.9.9"), "bad_field"),
    (manual().replace(b"<quantity>2", b"<quantity>1.5"), "bad_field"),
    (manual().replace(b"11/01/2017", b"2017-01-11"), "bad_field"),
    (manual().replace(b"16:40:15", b"4pm"), "bad_field"),
    (manual().replace(b"<time>16:40:15</time>", b""), "bad_field"),
    (manual()[:-5], "malformed"),
    (manual().replace(b"</cashier>", b"</cashir>"), "malformed"),
    (b"<transaction><event_type>POS_RECEIPT_OPEN<x/></event_type></transaction>", "malformed"),
    (b"<other><event_type>POS_RECEIPT_OPEN</event_type></other>", "malformed"),
    (manual("utf-8", cashier="Иванов").replace("Иванов".encode(), "Иванов".encode("cp1251")),
     "encoding"),
    (b'<?xml version="1.0"?>\n<!DOCTYPE transaction [<!ENTITY x "y">]>\n<transaction>'
     b"<event_type>&x;</event_type></transaction>", "forbidden"),
    (b"<transaction><event_type>POS_RECEIPT_OPEN</event_type><text>&ext;</text>"
     b"</transaction>", "malformed"),
    (b"<transaction><event_type>POS_RECEIPT_OPEN\x01</event_type></transaction>", "malformed"),
    (b"", "malformed"),
])
def test_refusals(doc: bytes, code: str) -> None:
    r = parse(doc)
    assert isinstance(r, Rejected), r
    assert r.code == code, r.reason
    assert r.raw == doc[:65536] and r.source == "test"


def test_a_billion_laughs_is_refused_before_parsing() -> None:
    doc = (b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
           b'<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>'
           b"<transaction><text>&lol2;</text></transaction>")
    assert parse(doc).code == "forbidden"  # type: ignore[union-attr]


def test_entities_and_cdata_take_the_lxml_path() -> None:
    doc = (b"<transaction><event_type>POS_POSITION_ADD</event_type>"
           b"<text>Fish &amp; chips &#1046; <![CDATA[<b>]]></text><!-- c --></transaction>")
    ev = parse(doc)
    assert isinstance(ev, PosEvent) and ev.text == "Fish & chips Ж <b>"


def test_unknown_terminal() -> None:
    r = parse_document(manual(), lambda g, loc: None, 5, "e1", "tcp:1")
    assert isinstance(r, Rejected) and r.code == "unknown_terminal" and "cas_1" in r.reason


def test_shared_port_routes_by_location_or_guid() -> None:
    reg = TerminalRegistry([Terminal(guid="A", port=5001, location="cas_1"),
                            Terminal(guid="B", port=5001, location="cas_2")])
    def resolve(g: str, loc: str) -> Terminal | None:
        return reg.find("tcp", 5001, g, loc)
    a = parse_document(manual(), resolve, 5, "e1")
    b = parse_document(manual().replace(b"cas_1", b"cas_2"), resolve, 5, "e2")
    c = parse_document(manual().replace(b"<location>cas_1</location>",
                                        b"<pos_terminal>B</pos_terminal>"), resolve, 5, "e3")
    assert [getattr(x, "pos_terminal", None) for x in (a, b, c)] == ["A", "B", "B"]


def test_fast_and_lxml_paths_agree() -> None:
    docs = [manual(), manual("windows-1251", ",", "Петров", "Молоко «Домик» 3,2%"),
            manual().replace(b"\n", b"\r\n"), manual().replace(b"    ", b"")]
    for doc in docs:
        fast = dssl_xml._fast(doc)
        assert fast is not None
        assert fast == dssl_xml._slow(doc)


def test_document_fields_raises_field_error_only() -> None:
    with pytest.raises(FieldError):
        document_fields(b"\x00\x01")


def test_encoder_round_trip_of_simulated_traffic() -> None:
    from posguard.ingest.simulator import ChainSimulator

    cp = Terminal(guid="T", port=1, encoding="windows-1251", decimal_separator=",",
                  timezone="Asia/Yekaterinburg")
    for t in (MOSCOW, cp):
        for ev in ChainSimulator(2, 2, seed=5).events(300, 1_796_000_000_000_000, 1_000_000):
            back = parse(to_dssl_xml(ev, t), t)
            assert isinstance(back, PosEvent), back
            keep = ("type", "op_id", "position", "quantity", "price", "price_per_unit",
                    "weight", "discount", "discount_card", "barcode", "text", "cashier_name",
                    "ts_in_receipt")
            assert {k: getattr(back, k) for k in keep} == {k: getattr(ev, k) for k in keep}


def test_decoder_over_a_stream_in_chunks() -> None:
    stream = b"".join([manual(), b"\r\n", b"junk", manual("windows-1251", ","), manual()[:50]])
    expected = None
    for size in (1, 7, 64, len(stream)):
        d = DsslDecoder(always(MOSCOW), counter_ids(), 65536, "tcp:5001 peer", "T1RuoVF7")
        out: list[PosEvent | Rejected] = []
        for i in range(0, len(stream), size):
            out += d.feed(stream[i:i + size], 42)
        out += d.close(43)
        got = [(type(x).__name__, getattr(x, "code", getattr(x, "type", ""))) for x in out]
        expected = expected or got
        assert got == expected == [("PosEvent", "POS_POSITION_ADD"), ("Rejected", "garbage"),
                                   ("PosEvent", "POS_POSITION_ADD"), ("Rejected", "truncated")]
        rej = [x for x in out if isinstance(x, Rejected)]
        assert all(r.terminal == "T1RuoVF7" and r.source == "tcp:5001 peer" for r in rej)
    ids = [x.event_id for x in out if isinstance(x, PosEvent)]
    assert len(set(ids)) == len(ids)


def test_rejects_encode_for_the_deadletter() -> None:
    from posguard.ingest.rejects import deadletter_value, decode_deadletter

    r = parse(b"\xff\xfe<not xml")
    assert isinstance(r, Rejected)
    value = deadletter_value(r)
    d = msgspec.json.decode(value)
    assert set(d) >= {"terminal", "code", "reason", "raw", "ts", "size", "source"}
    assert decode_deadletter(value) == r
