"""Text fields of a terminal's event -> PosEvent, with the terminal's units and time.

DSSL XML tags and printer-text named groups both arrive as `{field: text}`; this module is
the one place that turns such text into a PosEvent. Field names (after `canonical_field`):

    type            event type, POSNG_/POS_/bare names (unknown types are refused)
    op_id           receipt id (DSSL: operation_id)
    cashier_name    (DSSL: cashier)
    date, time      local date (terminal's date_format) and time -> ts_in_receipt
    position, quantity, flags                  whole numbers ("2", "2.000")
    price, price_per_unit, discount            money, decimal -> kopecks
    weight          kilograms, decimal -> grams
    volume          litres, decimal -> millilitres
    barcode, article, text, location, discount_card                   text
    pos_terminal    GUID naming the terminal (shared ports)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from posguard.ingest.errors import FieldError
from posguard.ingest.registry import Terminal
from posguard.ingest.units import decimal_to_int, local_to_micros, whole_number
from posguard.model.event_types import is_known_event_type, normalize_event_type
from posguard.model.events import PosEvent

__all__ = ["canonical_field", "event_from_fields", "event_type"]

SCALES = {"price": 2, "price_per_unit": 2, "discount": 2, "weight": 3, "volume": 3}
_WHOLE = ("position", "quantity", "flags")
_TEXT = ("op_id", "cashier_name", "barcode", "article", "text", "location", "discount_card")
# Tag spellings seen from senders, normalised (lower case, no '_' or '-') -> field name.
_ALIASES = {
    "eventtype": "type", "type": "type", "operationid": "op_id", "opid": "op_id",
    "cashier": "cashier_name", "cashiername": "cashier_name", "date": "date", "time": "time",
    "position": "position", "quantity": "quantity", "flags": "flags", "price": "price",
    "priceperunit": "price_per_unit", "discount": "discount", "weight": "weight",
    "volume": "volume", "barcode": "barcode", "article": "article", "text": "text",
    "location": "location", "discountcard": "discount_card", "posterminal": "pos_terminal",
    "terminal": "pos_terminal",
}


def canonical_field(tag: str) -> str | None:
    """The field name of a sender's tag ("operation_id", "OperationId" -> "op_id"), or None."""
    return _ALIASES.get(tag.lower().replace("_", "").replace("-", ""))


def event_type(name: str) -> str:
    """The canonical known event type of a sender's name.

    Raises:
        FieldError: code "unknown_event_type" for a name outside the vocabulary.
    """
    t = _TYPES.get(name)
    if t is not None:
        return t
    t = normalize_event_type(name)
    if not is_known_event_type(t):
        raise FieldError(f"unknown event type {name[:80]!r}", "unknown_event_type")
    if len(_TYPES) < 1024:
        _TYPES[name] = t
    return t


_TYPES: dict[str, str] = {}  # memo of event_type for names seen


def _scaled(name: str, scale: int) -> Callable[[str, str], int | None]:
    def conv(value: str, sep: str) -> int | None:
        if not value or value.isspace():
            return None
        try:
            return decimal_to_int(value, scale, sep)
        except FieldError as e:
            raise FieldError(f"{name}: {e}") from None
    return conv


def _whole(name: str) -> Callable[[str, str], int | None]:
    def conv(value: str, sep: str) -> int | None:
        if value.isdigit() and value.isascii():
            return int(value)
        if not value or value.isspace():
            return None
        try:
            return whole_number(value, sep)
        except FieldError as e:
            raise FieldError(f"{name}: {e}") from None
    return conv


def _text(value: str, sep: str) -> str:
    return value.strip()


TEXT_KIND, WHOLE_KIND, SCALED_KIND = 0, 1, 2
FIELD_KIND = {**{n: TEXT_KIND for n in _TEXT}, **{n: WHOLE_KIND for n in _WHOLE},
         **{n: SCALED_KIND for n in SCALES}}
_CONVERT: dict[str, Callable[[str, str], object]] = {
    **{n: _scaled(n, k) for n, k in SCALES.items()},
    **{n: _whole(n) for n in _WHOLE},
    **{n: _text for n in _TEXT},
}


def event_from_fields(fields: Mapping[str, str], terminal: Terminal, ts_received: int,
                      event_id: str) -> PosEvent:
    """Build the PosEvent of one operation.

    Args:
        fields: field name (see module docstring) -> text as sent.
        terminal: the registered terminal the event came from (units, timezone, names).
        ts_received: arrival time, microseconds (also ts_in_receipt when no date/time).
        event_id: the id given to the event.

    Raises:
        FieldError: with code "malformed" (no type), "unknown_event_type" or "bad_field".

    Example:
        >>> ev = event_from_fields({"type": "POSNG_POSITION_ADD", "price": "103.98",
        ...     "weight": "0,5"}, Terminal(guid="T1", port=1), 0, "e1")
        >>> ev.type, ev.price, ev.weight
        ('POS_POSITION_ADD', 10398, 500)
    """
    raw_type = fields.get("type")
    if not raw_type:
        raise FieldError("no event type", "malformed")
    kw: dict[str, object] = {}
    sep = terminal.decimal_separator
    kinds = FIELD_KIND
    for name, value in fields.items():
        kind = kinds.get(name)
        if kind is None:
            continue
        if kind == TEXT_KIND:  # inline: most fields are text
            kw[name] = value.strip()
        elif kind == WHOLE_KIND and value.isdigit() and value.isascii():
            kw[name] = int(value)
        else:
            v = _CONVERT[name](value, sep)
            if v is not None:
                kw[name] = v
    date, time = fields.get("date", "").strip(), fields.get("time", "").strip()
    if date and time:
        ts = local_to_micros(date, time, terminal.date_format, terminal.timezone)
    elif date or time:
        raise FieldError("date and time must come together")
    else:
        ts = ts_received
    if not kw.get("location"):
        kw["location"] = terminal.location
    return PosEvent(
        type=event_type(raw_type), pos_terminal=terminal.guid, ts_in_receipt=ts,
        ts_received=ts_received, pos_terminal_name=terminal.name, store=terminal.store,
        associated_channel=terminal.associated_channel, event_id=event_id,
        **kw,  # type: ignore[arg-type]
    )
