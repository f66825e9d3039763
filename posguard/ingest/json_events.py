"""JSON events: newline-delimited over TCP/UDP, or a batch in one HTTP request body.

Schema (docs/ingest.md has the full table and an example): one JSON object per event, field
names those of PosEvent, money as integer kopecks, weight integer grams, volume integer ml.

    {"type": "POS_POSITION_ADD", "pos_terminal": "T1RuoVF7", "op_id": "E44D0F4A",
     "ts_in_receipt": "2017-01-11T16:40:15", "position": 2, "quantity": 2,
     "price_per_unit": 5199, "price": 10398, "barcode": "0760557822035",
     "text": "Buttermilk 1.5% 0.95l", "event_id": "pos7-000123"}

- `type` is required; POSNG_/POS_/bare names are accepted, unknown ones refused.
- `pos_terminal` (GUID) or `location` tells the terminal on a shared port or over HTTP.
- `ts_in_receipt`: integer microseconds (UTC), or ISO 8601 text (with an offset, or local
  time of the terminal's timezone without one). Absent: the arrival time.
- `event_id` (optional, up to 128 characters): the sender's id of the event; resending an
  event with the same id lets the store keep it once. Absent: the server gives one.
- `ts_received`, `store`, `pos_terminal_name`, `associated_channel` may be present (a
  PosEvent encoded as JSON is valid input) but the server's values replace them.
- Any other field is refused (a typo must not silently drop a price). Money with a fraction
  (51.99) is refused: send kopecks (5199).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated

import msgspec

from posguard.ingest.errors import FieldError
from posguard.ingest.fields import event_type
from posguard.ingest.lines import LineSplitter
from posguard.ingest.registry import Terminal
from posguard.ingest.rejects import Rejected, rejected
from posguard.ingest.xml_splitter import Bad
from posguard.model.events import PosEvent
from posguard.model.times import zone

__all__ = ["JsonEvent", "parse_json_event", "parse_json_batch", "NdjsonDecoder",
           "BatchItemError"]

Int64 = Annotated[int, msgspec.Meta(ge=-(2**63), le=2**63 - 1)]
Text = Annotated[str, msgspec.Meta(max_length=4096)]
_MICROS_MIN = 10**14  # below: seconds or milliseconds, not microseconds


class JsonEvent(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """The accepted JSON shape of one event (see the module docstring)."""

    type: Annotated[str, msgspec.Meta(max_length=128)]
    pos_terminal: Annotated[str, msgspec.Meta(max_length=64)] = ""
    location: Text = ""
    ts_in_receipt: Int64 | str | None = None
    op_id: Text = ""
    cashier_name: Text = ""
    position: Int64 = 0
    text: Text = ""
    article: Text = ""
    barcode: Text = ""
    price: Int64 = 0
    price_per_unit: Int64 = 0
    quantity: Int64 = 0
    weight: Int64 = 0
    discount: Int64 = 0
    discount_card: Text = ""
    flags: Int64 = 0
    volume: Int64 = 0
    event_id: Annotated[str, msgspec.Meta(max_length=128)] = ""
    # The server's values replace these (accepted so that an encoded PosEvent is valid).
    ts_received: Int64 | None = None
    store: Text | None = None
    pos_terminal_name: Text | None = None
    associated_channel: Text | None = None


_decoder = msgspec.json.Decoder(JsonEvent)
_batch_decoder = msgspec.json.Decoder(list[msgspec.Raw] | dict[str, list[msgspec.Raw]])
Resolver = Callable[[str, str], "Terminal | None"]


def _ts(value: int | str | None, terminal: Terminal, ts_received: int) -> int:
    if value is None:
        return ts_received
    if isinstance(value, int):
        if value < _MICROS_MIN:
            raise FieldError(f"ts_in_receipt {value} is not microseconds since the epoch")
        return value
    try:
        dt = datetime.fromisoformat(value.strip())
    except ValueError:
        raise FieldError(f"ts_in_receipt {value[:60]!r} is not ISO 8601") from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=zone(terminal.timezone))
    try:
        return int(dt.timestamp()) * 1_000_000 + dt.microsecond
    except (OverflowError, ValueError, OSError) as e:
        raise FieldError(f"ts_in_receipt {value[:60]!r}: {e}") from None


def _event(j: JsonEvent, t: Terminal, ts_received: int, event_id: str) -> PosEvent:
    return PosEvent(
        type=event_type(j.type), pos_terminal=t.guid,
        ts_in_receipt=_ts(j.ts_in_receipt, t, ts_received), ts_received=ts_received,
        pos_terminal_name=t.name, store=t.store, associated_channel=t.associated_channel,
        location=j.location or t.location, op_id=j.op_id, cashier_name=j.cashier_name,
        position=j.position, text=j.text, article=j.article, barcode=j.barcode,
        price=j.price, price_per_unit=j.price_per_unit, quantity=j.quantity,
        weight=j.weight, discount=j.discount, discount_card=j.discount_card, flags=j.flags,
        volume=j.volume, event_id=j.event_id or event_id)


def _decode(data: bytes) -> JsonEvent:
    try:
        return _decoder.decode(data)
    except msgspec.ValidationError as e:
        raise FieldError(f"not a valid event: {e}", "bad_field") from None
    except msgspec.DecodeError as e:
        code = "encoding" if "UTF-8" in str(e) else "malformed"
        raise FieldError(f"not JSON: {e}", code) from None


def parse_json_event(data: bytes, resolve: Resolver, ts_received: int, event_id: str,
                     source: str = "") -> PosEvent | Rejected:
    """One JSON object -> its PosEvent, or a Rejected saying why not.

    Example:
        >>> t = Terminal(guid="T1", protocol="json", port=5002)
        >>> parse_json_event(b'{"type": "POSNG_RECEIPT_OPEN", "op_id": "7"}',
        ...                  lambda g, l: t, 1_700_000_000_000_000, "e1").type
        'POS_RECEIPT_OPEN'
    """
    terminal = ""
    try:
        j = _decode(data)
        t = resolve(j.pos_terminal, j.location)
        if t is None:
            raise FieldError(f"no registered terminal for pos_terminal {j.pos_terminal!r} "
                             f"location {j.location!r}", "unknown_terminal")
        terminal = t.guid
        return _event(j, t, ts_received, event_id)
    except FieldError as e:
        return rejected(e.code, str(e), data, ts_received, terminal=terminal, source=source)


class BatchItemError(msgspec.Struct, frozen=True):
    """Why one item of an HTTP batch was refused."""

    index: int
    code: str
    reason: str


def parse_json_batch(body: bytes, resolve: Resolver, ts_received: int,
                     ids: Callable[[], str], source: str = ""
                     ) -> tuple[list[PosEvent], list[tuple[BatchItemError, Rejected]]]:
    """An HTTP body (a JSON array of events, or {"events": [...]}) -> events and errors.

    Returns:
        The events of the valid items, and for each invalid item its error and Rejected.
        A body that is not such a document gives one error with index -1.
    """
    try:
        doc = _batch_decoder.decode(body)
    except (msgspec.DecodeError, msgspec.ValidationError) as e:
        code = "encoding" if "UTF-8" in str(e) else "malformed"
        r = rejected(code, f"body is not a JSON array of events: {e}", body, ts_received,
                     source=source)
        return [], [(BatchItemError(-1, r.code, r.reason), r)]
    items = doc if isinstance(doc, list) else doc.get("events")
    if items is None or (isinstance(doc, dict) and len(doc) != 1):
        r = rejected("malformed", 'body must be [...] or {"events": [...]}', body,
                     ts_received, source=source)
        return [], [(BatchItemError(-1, r.code, r.reason), r)]
    events: list[PosEvent] = []
    errors: list[tuple[BatchItemError, Rejected]] = []
    for i, raw in enumerate(items):
        result = parse_json_event(bytes(raw), resolve, ts_received, ids(), source)
        if isinstance(result, PosEvent):
            events.append(result)
        else:
            errors.append((BatchItemError(i, result.code, result.reason), result))
    return events, errors


class NdjsonDecoder:
    """Newline-delimited JSON of one connection or datagram: bytes -> events.

    Blank lines are skipped; a UTF-8 byte-order mark at a line's start is ignored.
    """

    def __init__(self, resolve: Resolver, ids: Callable[[], str], max_line_bytes: int,
                 source: str = "", terminal: str = ""):
        self.resolve, self.ids, self.source, self.terminal = resolve, ids, source, terminal
        self.lines = LineSplitter(max_line_bytes)

    def _convert(self, pieces: list[bytes | Bad], ts: int) -> list[PosEvent | Rejected]:
        out: list[PosEvent | Rejected] = []
        for p in pieces:
            if isinstance(p, Bad):
                out.append(Rejected(terminal=self.terminal, code=p.code, reason=p.reason,
                                    raw=p.raw, size=p.size, ts=ts, source=self.source))
                continue
            if p.startswith(b"\xef\xbb\xbf"):
                p = p[3:]
            if not p.strip():
                continue
            r = parse_json_event(p, self.resolve, ts, self.ids(), self.source)
            if isinstance(r, Rejected) and not r.terminal and self.terminal:
                r = msgspec.structs.replace(r, terminal=self.terminal)
            out.append(r)
        return out

    def feed(self, chunk: bytes, ts_received: int) -> list[PosEvent | Rejected]:
        """Bytes received at `ts_received` -> the events and rejects of complete lines."""
        return self._convert(self.lines.feed(chunk), ts_received)

    def close(self, ts_received: int) -> list[PosEvent | Rejected]:
        """The stream ended: a last line without a newline is still parsed."""
        return self._convert(self.lines.close(), ts_received)
