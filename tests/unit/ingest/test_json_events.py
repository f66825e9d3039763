"""JSON events: the documented schema, NDJSON streams, HTTP batches."""

from __future__ import annotations

import msgspec
import pytest
from ingest_helpers import MOSCOW, counter_ids

from posguard.ingest.encoders import to_ndjson
from posguard.ingest.http_ingest import ingest_http_batch
from posguard.ingest.json_events import NdjsonDecoder, parse_json_batch, parse_json_event
from posguard.ingest.registry import Terminal, TerminalRegistry
from posguard.ingest.rejects import Rejected
from posguard.model.codec import encode
from posguard.model.events import PosEvent

REG = TerminalRegistry([MOSCOW, Terminal(guid="H1", protocol="json", transport="http",
                                         location="shop-1", timezone="Europe/Moscow")])
TS = 1_700_000_000_000_000

# The example of docs/ingest.md.
DOC_EXAMPLE = b"""{"type": "POS_POSITION_ADD", "pos_terminal": "T1RuoVF7", "op_id": "E44D0F4A",
 "ts_in_receipt": "2017-01-11T16:40:15", "cashier_name": "Ivanov I", "position": 2,
 "quantity": 2, "price_per_unit": 5199, "price": 10398, "barcode": "0760557822035",
 "text": "Buttermilk 1.5% 0.95l", "event_id": "pos7-000123"}"""


def tcp(guid: str, location: str) -> Terminal | None:
    return REG.find("tcp", 5001, guid, location)


def http(guid: str, location: str) -> Terminal | None:
    return REG.find("http", 0, guid, location)


def test_the_documented_example() -> None:
    ev = parse_json_event(DOC_EXAMPLE, tcp, TS, "server-id")
    assert ev == PosEvent(
        type="POS_POSITION_ADD", pos_terminal="T1RuoVF7", pos_terminal_name="Till 1",
        store="store-1", associated_channel="cam-1", op_id="E44D0F4A", cashier_name="Ivanov I",
        ts_in_receipt=1484142015_000000, ts_received=TS, position=2, quantity=2,
        price_per_unit=5199, price=10398, barcode="0760557822035",
        text="Buttermilk 1.5% 0.95l", event_id="pos7-000123")


@pytest.mark.parametrize(("ts", "expected"), [
    (1484142015_123456, 1484142015_123456),
    ('"2017-01-11T16:40:15+03:00"', 1484142015_000000),
    ('"2017-01-11T13:40:15Z"', 1484142015_000000),
    ('"2017-01-11 16:40:15.5"', 1484142015_500000),  # naive: the terminal's timezone
    ("null", TS),
])
def test_receipt_time_forms(ts: object, expected: int) -> None:
    doc = f'{{"type": "POS_RECEIPT_OPEN", "ts_in_receipt": {ts}}}'.encode()
    ev = parse_json_event(doc, tcp, TS, "e")
    assert isinstance(ev, PosEvent) and ev.ts_in_receipt == expected


def test_an_encoded_posevent_is_valid_input_and_server_fields_win() -> None:
    ev = PosEvent(type="POS_RECEIPT_CLOSE", pos_terminal="T1RuoVF7", ts_in_receipt=TS - 5,
                  ts_received=1, store="fake", pos_terminal_name="fake", price=100,
                  event_id="x1")
    back = parse_json_event(encode(ev), tcp, TS, "e")
    assert isinstance(back, PosEvent)
    assert (back.store, back.pos_terminal_name, back.ts_received) == ("store-1", "Till 1", TS)
    assert (back.price, back.event_id, back.ts_in_receipt) == (100, "x1", TS - 5)


@pytest.mark.parametrize(("doc", "code"), [
    (b'{"type": "POS_POSITION_ADD", "price": 51.99}', "bad_field"),  # money is kopecks
    (b'{"type": "POS_POSITION_ADD", "prise": 5199}', "bad_field"),  # typo: refused
    (b'{"type": "POS_POSITION_ADD", "price": "5199"}', "bad_field"),
    (b'{"type": "POS_POSITION_ADD", "price": true}', "bad_field"),
    (b'{"type": "POS_POSITION_ADD", "price": 99999999999999999999}', "bad_field"),
    (b'{"type": "POS_TELEPORT"}', "unknown_event_type"),
    (b'{"price": 1}', "bad_field"),
    (b'{"type": "POS_RECEIPT_OPEN", "ts_in_receipt": 1700000000}', "bad_field"),  # seconds
    (b'{"type": "POS_RECEIPT_OPEN", "ts_in_receipt": "yesterday"}', "bad_field"),
    (b'{"type": "POS_RECEIPT_OPEN", "pos_terminal": "NOPE"}', "unknown_terminal"),
    (b'{"type": "POS_RECEIPT_OPEN"', "malformed"),
    (b'[1, 2]', "bad_field"),
    (b'{"type": "POS_RECEIPT_OPEN", "text": "\xff"}', "encoding"),
    (b"\x00\x01binary", "malformed"),
])
def test_refusals(doc: bytes, code: str) -> None:
    r = parse_json_event(doc, tcp, TS, "e", "tcp:5001 x")
    assert isinstance(r, Rejected), r
    assert r.code == code, r.reason
    assert r.raw == doc


def test_refusal_after_the_terminal_is_known_names_it() -> None:
    r = parse_json_event(b'{"type": "POS_X", "pos_terminal": "T1RuoVF7"}', tcp, TS, "e")
    assert isinstance(r, Rejected) and r.terminal == "T1RuoVF7"


def test_ndjson_stream_at_every_split_point() -> None:
    lines = [b'{"type": "POS_RECEIPT_OPEN", "op_id": "1"}', b"", b"not json",
             '{"type": "POS_POSITION_ADD", "text": "Кефир"}'.encode(),
             b'\xef\xbb\xbf{"type": "POS_RECEIPT_CLOSE", "price": 100}']
    stream = b"\r\n".join(lines)  # the last line has no newline: close() still parses it
    want = [("PosEvent", "POS_RECEIPT_OPEN"), ("Rejected", "malformed"),
            ("PosEvent", "POS_POSITION_ADD"), ("PosEvent", "POS_RECEIPT_CLOSE")]
    for i in range(len(stream) + 1):
        d = NdjsonDecoder(tcp, counter_ids(), 1024, "tcp:5001 peer", "T1RuoVF7")
        out = d.feed(stream[:i], 1) + d.feed(stream[i:], 2) + d.close(3)
        got = [(type(x).__name__, getattr(x, "type", getattr(x, "code", ""))) for x in out]
        assert got == want, i
        assert out[1].terminal == "T1RuoVF7"  # type: ignore[union-attr]


def test_ndjson_oversized_line() -> None:
    d = NdjsonDecoder(tcp, counter_ids(), 100, "s")
    out = d.feed(b'{"type": "POS_RECEIPT_OPEN", "text": "' + b"x" * 500 + b'"}\n'
                 + b'{"type": "POS_RECEIPT_OPEN"}\n', 1)
    assert [getattr(x, "code", "ok") for x in out] == ["oversized", "ok"]


def test_encoder_round_trip() -> None:
    ev = PosEvent(type="POS_POSITION_ADD", pos_terminal="T1RuoVF7", ts_in_receipt=TS,
                  ts_received=0, price=10398, weight=1234, text="Кефир", event_id="a1")
    back = parse_json_event(to_ndjson(ev).rstrip(b"\n"), tcp, TS + 1, "e")
    assert isinstance(back, PosEvent)
    assert (back.price, back.weight, back.text, back.event_id, back.ts_in_receipt) == (
        10398, 1234, "Кефир", "a1", TS)


def test_batch_forms() -> None:
    items = b'[{"type": "POS_RECEIPT_OPEN", "pos_terminal": "H1"}, {"type": "POS_RECEIPT_CLOSE",' \
            b' "location": "shop-1"}]'
    events, errors = parse_json_batch(items, http, TS, counter_ids())
    assert [e.pos_terminal for e in events] == ["H1", "H1"] and not errors
    events, errors = parse_json_batch(b'{"events": ' + items + b"}", http, TS, counter_ids())
    assert len(events) == 2 and not errors


def test_http_statuses() -> None:
    ok = b'[{"type": "POS_RECEIPT_OPEN", "pos_terminal": "H1"}]'
    out = ingest_http_batch(ok, http, counter_ids(), TS, 1000)
    assert (out.status, out.body, len(out.events)) == (200, {"accepted": 1}, 1)

    mixed = b'[{"type": "POS_RECEIPT_OPEN", "pos_terminal": "H1"}, {"type": "POS_X", ' \
        b'"pos_terminal": "H1"}, 7]'
    out = ingest_http_batch(mixed, http, counter_ids(), TS, 1000)
    assert out.status == 400 and not out.events  # all or nothing
    assert out.body["error"] == "2 of 3 events refused"
    assert [(r["index"], r["code"]) for r in out.body["rejected"]] == [
        (1, "unknown_event_type"), (2, "bad_field")]
    assert [r.raw for r in out.rejects] == [b'{"type": "POS_X", "pos_terminal": "H1"}', b"7"]

    for body in (b"nonsense", b'{"evts": []}', b'{"events": [], "x": 1}', b"3"):
        out = ingest_http_batch(body, http, counter_ids(), TS, 1000)
        assert out.status == 400 and out.body["rejected"][0]["index"] == -1, body
        assert out.rejects[0].raw == body

    out = ingest_http_batch(b"[" + b" " * 2000 + b"]", http, counter_ids(), TS, 1000)
    assert out.status == 413 and out.rejects[0].code == "oversized"

    assert ingest_http_batch(b"[]", http, counter_ids(), TS, 1000).status == 200


def test_rejects_json_shape() -> None:
    out = ingest_http_batch(b'[{"type": "POS_X"}]', http, counter_ids(), TS, 1000)
    assert msgspec.json.decode(msgspec.json.encode(out.body)) == out.body
