"""Hypothesis over every ingest parser: whatever arrives, only events or Rejected (or the
documented FieldError/RegistryError/DefinitionError of the pure helpers) come out."""

from __future__ import annotations

import itertools
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from posguard.ingest import dssl_xml
from posguard.ingest.dssl_xml import DsslDecoder, parse_document
from posguard.ingest.errors import FieldError, RegistryError
from posguard.ingest.escpos import EscPosStripper
from posguard.ingest.files import load_definitions
from posguard.ingest.http_ingest import ingest_http_batch
from posguard.ingest.json_events import NdjsonDecoder, parse_json_event
from posguard.ingest.lines import LineSplitter
from posguard.ingest.printer_text import PrinterDecoder, PrinterState
from posguard.ingest.registry import Terminal, terminal_from_dict
from posguard.ingest.rejects import MAX_RAW_BYTES, REJECT_CODES, Rejected
from posguard.ingest.spool import Spool
from posguard.ingest.units import decimal_to_int, local_to_micros
from posguard.ingest.xml_splitter import Bad, XmlSplitter
from posguard.model.events import PosEvent

FUZZ = settings(max_examples=200, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "printer"
T = Terminal(guid="T1", port=5001, timezone="Europe/Moscow")
TEXT = Terminal(guid="P1", protocol="text", port=7001, transaction_definition="grocer-en")
DEFS = load_definitions(["*.toml"], EXAMPLES)


def ids() -> Any:
    n = itertools.count()
    return lambda: f"e{next(n)}"


def resolve(guid: str, location: str) -> Terminal | None:
    return None if guid == "nobody" else T


def check(out: list[PosEvent | Rejected]) -> None:
    for x in out:
        assert isinstance(x, PosEvent | Rejected)
        if isinstance(x, Rejected):
            assert x.code in REJECT_CODES
            assert len(x.raw) <= MAX_RAW_BYTES and x.size >= len(x.raw)


def chunked(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({min(c, len(data)) for c in cuts})
    return [data[a:b] for a, b in zip([0, *points], [*points, len(data)], strict=True)]


# -- XML -----------------------------------------------------------------------------------

TAGS = st.sampled_from(["event_type", "operation_id", "price", "weight", "quantity", "date",
                        "time", "text", "cashier", "location", "pos_terminal", "x", "Price"])
VALUES = st.one_of(
    st.sampled_from(["POSNG_POSITION_ADD", "POS_RECEIPT_CLOSE", "POSNG_NOPE", "51.99", "1,234",
                     "2", "1.5", "11/01/2017", "16:40:15", "", "nobody", "&amp;", "a&b", "<",
                     "]]>", "\x01", "Кефир"]),
    st.text(max_size=20))
ENCODINGS = st.sampled_from(["utf-8", "windows-1251", "UTF-8", "latin-1", "bogus"])


@st.composite
def xml_docs(draw: st.DrawFn) -> bytes:
    enc = draw(ENCODINGS)
    root = draw(st.sampled_from(["transaction", "TransactionBlock", "other"]))
    nl = draw(st.sampled_from(["", "\n", "\r\n", "  "]))
    parts = [f"<{t}>{v}</{t}>" for t, v in draw(st.lists(st.tuples(TAGS, VALUES), max_size=8))]
    decl = draw(st.sampled_from(["", f'<?xml version="1.0" encoding="{enc}"?>',
                                 '<?xml version="1.0"?>']))
    text = f"{decl}{nl}<{root}>{nl}{nl.join(parts)}{nl}</{root}>"
    codec = {"windows-1251": "cp1251", "UTF-8": "utf-8", "bogus": "utf-8"}.get(enc, enc)
    return text.encode(codec, "replace") if decl else text.encode("utf-8", "replace")


@FUZZ
@given(st.binary(max_size=2000))
def test_parse_document_any_bytes(data: bytes) -> None:
    check([parse_document(data, resolve, 1, "e")])


@FUZZ
@given(xml_docs())
def test_parse_document_xml_like(doc: bytes) -> None:
    check([parse_document(doc, resolve, 1, "e")])


@FUZZ
@given(xml_docs())
def test_fast_path_agrees_with_lxml(doc: bytes) -> None:
    fast = dssl_xml._fast(doc)
    assume(fast is not None)
    try:
        slow = dssl_xml._slow(doc)
    except FieldError as e:
        pytest.fail(f"fast path accepted what lxml refuses: {e}")
    assert fast == slow


@FUZZ
@given(st.lists(st.one_of(xml_docs(), st.binary(max_size=50)), max_size=6),
       st.lists(st.integers(0, 3000), max_size=8))
def test_splitter_chunking_does_not_matter_below_the_limit(parts: list[bytes],
                                                            cuts: list[int]) -> None:
    stream = b"".join(parts)
    whole = XmlSplitter(1 << 20)
    ref = whole.feed(stream) + whole.close()
    s = XmlSplitter(1 << 20)
    got: list[bytes | Bad] = []
    for c in chunked(stream, cuts):
        got += s.feed(c)
    assert got + s.close() == ref


@FUZZ
@given(st.lists(st.binary(max_size=400), max_size=10), st.integers(64, 600))
def test_splitter_any_chunks_small_limit(chunks: list[bytes], limit: int) -> None:
    s = XmlSplitter(limit)
    for c in chunks:
        for p in s.feed(c):
            assert isinstance(p, Bad) or len(p) <= limit
        assert s.pending <= limit + len(c) + 64
    assert all(p.code in REJECT_CODES for p in s.close())


@FUZZ
@given(st.lists(st.one_of(xml_docs(), st.binary(max_size=80)), max_size=5),
       st.lists(st.integers(0, 2000), max_size=5))
def test_dssl_decoder_streams(parts: list[bytes], cuts: list[int]) -> None:
    d = DsslDecoder(resolve, ids(), 512, "fuzz", "T1")
    out: list[PosEvent | Rejected] = []
    for c in chunked(b"".join(parts), cuts):
        out += d.feed(c, 1)
    check(out + d.close(2))


# -- JSON ----------------------------------------------------------------------------------

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats(allow_nan=False)
    | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner,
                                                                max_size=3), max_leaves=8)
EVENT_KEYS = st.sampled_from(["type", "pos_terminal", "location", "ts_in_receipt", "price",
                              "weight", "text", "event_id", "store", "quantity", "junk"])


@st.composite
def json_objects(draw: st.DrawFn) -> bytes:
    import json

    obj = draw(st.dictionaries(EVENT_KEYS, st.one_of(
        JSON_VALUES, st.sampled_from(["POS_RECEIPT_OPEN", "POSNG_POSITION_ADD", "nobody",
                                      "2017-01-11T16:40:15", 1484142015000000])), max_size=6))
    return json.dumps(obj, ensure_ascii=draw(st.booleans())).encode()


@FUZZ
@given(st.one_of(st.binary(max_size=500), json_objects()))
def test_parse_json_event(data: bytes) -> None:
    check([parse_json_event(data, resolve, 1, "e")])


@FUZZ
@given(st.lists(st.one_of(json_objects(), st.binary(max_size=30)), max_size=5),
       st.sampled_from([b"[", b'{"events": [']), st.booleans())
def test_http_batches(items: list[bytes], head: bytes, close: bool) -> None:
    body = head + b",".join(items) + ((b"]" if head == b"[" else b"]}") if close else b"")
    out = ingest_http_batch(body, resolve, ids(), 1, 4096)
    assert out.status in (200, 400, 413)
    assert (out.status == 200) == (not out.rejects)
    check([*out.events, *out.rejects])


@FUZZ
@given(st.lists(st.one_of(json_objects(), st.binary(max_size=40)), max_size=6),
       st.lists(st.integers(0, 1000), max_size=6))
def test_ndjson_decoder(lines: list[bytes], cuts: list[int]) -> None:
    d = NdjsonDecoder(resolve, ids(), 256, "fuzz")
    out: list[PosEvent | Rejected] = []
    for c in chunked(b"\n".join(lines), cuts):
        out += d.feed(c, 1)
    check(out + d.close(2))


# -- printer text --------------------------------------------------------------------------

SAMPLE_LINES = (EXAMPLES / "grocer-en-sample.txt").read_bytes().splitlines()


@FUZZ
@given(st.lists(st.one_of(st.sampled_from(SAMPLE_LINES), st.binary(max_size=60)), max_size=30),
       st.lists(st.integers(0, 2000), max_size=6))
def test_printer_decoder(lines: list[bytes], cuts: list[int]) -> None:
    d = PrinterDecoder(DEFS["grocer-en"], TEXT, PrinterState(), ids(), 128, "fuzz")
    out: list[PosEvent | Rejected] = []
    for c in chunked(b"\n".join(lines), cuts):
        out += d.feed(c, 1)
    check(out + d.close(2))


@FUZZ
@given(st.binary(max_size=600), st.lists(st.integers(0, 600), max_size=5))
def test_escpos_stripper(data: bytes, cuts: list[int]) -> None:
    s = EscPosStripper()
    out = b"".join(s.feed(c) for c in chunked(data, cuts))
    assert not set(out) & {0x1B, 0x1D, 0x1C, 0x00}


@FUZZ
@given(st.lists(st.binary(max_size=100), max_size=8), st.integers(1, 50))
def test_line_splitter(chunks: list[bytes], limit: int) -> None:
    s = LineSplitter(limit)
    for c in chunks:
        for p in s.feed(c):
            assert isinstance(p, Bad) or (len(p) <= limit and b"\n" not in p)
    s.close()


# -- units, registry, spool ----------------------------------------------------------------

@FUZZ
@given(st.text(max_size=30), st.integers(0, 4), st.sampled_from(["auto", ".", ","]))
def test_decimal_to_int_any_text(text: str, scale: int, sep: str) -> None:
    try:
        assert isinstance(decimal_to_int(text, scale, sep), int)
    except FieldError:
        pass


@FUZZ
@given(st.decimals(min_value=-10**12, max_value=10**12, allow_nan=False, allow_infinity=False,
                   places=5), st.integers(0, 3), st.sampled_from([".", ","]))
def test_decimal_to_int_is_exact(value: Decimal, scale: int, sep: str) -> None:
    text = format(value, "f").replace(".", sep)
    q = (abs(value) * (10**scale)).quantize(Decimal(1), rounding=ROUND_HALF_UP)
    expected = int(q) * (-1 if value < 0 else 1)
    assert decimal_to_int(text, scale, sep) == expected


@FUZZ
@given(st.text(max_size=12), st.text(max_size=12),
       st.sampled_from(["%d/%m/%Y", "%m/%d/%y", "%Y-%m-%d"]),
       st.sampled_from(["UTC", "Europe/Moscow", "America/New_York"]))
def test_local_to_micros_any_text(date: str, time: str, fmt: str, tz: str) -> None:
    try:
        assert isinstance(local_to_micros(date, time, fmt, tz), int)
    except FieldError:
        pass


@FUZZ
@given(st.dictionaries(st.sampled_from(["guid", "port", "protocol", "transport", "timezone",
                                        "encoding", "date_format", "decimal_separator",
                                        "location", "raw_dump", "bogus"]),
                       JSON_VALUES, max_size=8))
def test_terminal_tables(table: dict[str, Any]) -> None:
    try:
        assert isinstance(terminal_from_dict(table), Terminal)
    except RegistryError:
        pass


@settings(max_examples=50, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.binary(max_size=300))
def test_spool_opens_any_file(tmp_path_factory: pytest.TempPathFactory, data: bytes) -> None:
    folder = tmp_path_factory.mktemp("spool")
    (folder / "events.spool").write_bytes(data)
    s = Spool(folder)
    s.append("events", b"k", b"v")
    s.sync()
    assert s.read(s.cursor)[-1][1].value == b"v"
    s.close()


COMMA = Terminal(guid="T2", port=5001, decimal_separator=",", date_format="%Y-%m-%d")
NUMBER = st.one_of(st.from_regex(r"\A-?[0-9]{1,6}([.,][0-9]{0,4})?\Z"), st.sampled_from(
    ["", " 5 ", "1 234,5", "007", "1.2.3", "٣"]))
FIELD_VALUES = {
    "event_type": st.sampled_from(["POSNG_POSITION_ADD", "POS_RECEIPT_CLOSE", "receipt_open",
                                   "POSNG_NOPE", " POSNG_RECEIPT_OPEN "]),
    "operation_id": st.text(max_size=8), "cashier": st.text(max_size=8),
    "text": st.text(max_size=12), "location": st.sampled_from(["", "cas_1", " cas_2 "]),
    "price": NUMBER, "price_per_unit": NUMBER, "weight": NUMBER, "volume": NUMBER,
    "quantity": NUMBER, "position": NUMBER, "flags": NUMBER,
    "date": st.sampled_from(["11/01/2017", "2017-01-11", "31/02/2017", ""]),
    "time": st.sampled_from(["16:40:15", "16:40", "25:00:00", "16:40:15.5", ""]),
    "pos_terminal": st.sampled_from(["", "T1"]), "extra": st.text(max_size=5),
}


@st.composite
def event_docs(draw: st.DrawFn) -> bytes:
    names = draw(st.lists(st.sampled_from(sorted(FIELD_VALUES)), max_size=10))
    names = ["event_type", *names] if draw(st.integers(0, 9)) else names
    enc = draw(st.sampled_from(["utf-8", "windows-1251"]))
    nl = draw(st.sampled_from(["", "\n", "\r\n"]))
    body = nl.join(f"<{n}>{draw(FIELD_VALUES[n])}</{n}>" for n in names)
    text = f'<?xml version="1.0" encoding="{enc}"?>{nl}<transaction>{nl}{body}{nl}</transaction>'
    return text.encode("cp1251" if enc != "utf-8" else "utf-8", "replace")


@settings(max_examples=400, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(event_docs(), st.sampled_from([T, COMMA]))
def test_flat_event_agrees_with_the_general_path(doc: bytes, t: Terminal) -> None:
    from posguard.ingest.dssl_xml import document_fields
    from posguard.ingest.fields import event_from_fields
    from posguard.ingest.xml_flat import flat_event

    ev = flat_event(doc, lambda g, loc: t, 1, "e")
    try:
        general: PosEvent | None = event_from_fields(document_fields(doc), t, 1, "e")
    except FieldError:
        general = None
    if ev is not None:
        assert ev == general
