"""PosEvents -> the bytes terminals send (DSSL XML, NDJSON, printer text): the other
direction of the parsers, for the traffic simulator, tests and benchmarks.

What a terminal's settings say (encoding, decimal separator, date format, timezone) is
honoured, so `parse(encode(ev))` gives the event back (same type, money, weight, text,
op_id, receipt time to the second). Printer text exists only for the layouts shipped in
examples/printer/ ("grocer-en", "fiscal-ru"); events those layouts cannot print are left
out.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import msgspec

from posguard.ingest.registry import Terminal
from posguard.model.events import PosEvent
from posguard.model.times import local_datetime

__all__ = ["to_dssl_xml", "to_ndjson", "to_printer_text", "encode_events", "LAYOUTS",
           "money_text"]

_XML_ESC = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;"})
_DEFAULT = Terminal(guid="_", port=1)


def money_text(minor: int, scale: int = 2, sep: str = ".") -> str:
    """Integer minor units -> decimal text (5199 -> "51.99"; scale 3 for grams -> kg)."""
    sign = "-" if minor < 0 else ""
    whole, frac = divmod(abs(minor), 10**scale)
    return f"{sign}{whole}{sep}{frac:0{scale}d}"


def _when(ev: PosEvent, t: Terminal, date_format: str, time_format: str) -> tuple[str, str]:
    dt = local_datetime(ev.ts_in_receipt, t.timezone)
    return dt.strftime(date_format), dt.strftime(time_format)


def to_dssl_xml(ev: PosEvent, terminal: Terminal | None = None, *, root: str = "transaction",
                declaration: bool = True, newline: str = "\n",
                with_guid: bool = False) -> bytes:
    """One DSSL XML document for `ev`, in the terminal's encoding and number format.

    Args:
        ev: the event.
        terminal: encoding (utf-8 or windows-1251 make sense), decimal_separator ("," gives
            a decimal comma), date_format and timezone; default utf-8, '.', %d/%m/%Y, UTC.
        root: "transaction" or "TransactionBlock".
        declaration: start with an `<?xml ...?>` declaration naming the encoding.
        newline: between elements ("\\r\\n" as the TransactionBlock vendor sends).
        with_guid: add `<pos_terminal>` with the event's GUID (real DSSL senders do not;
            it lets a simulator keep its GUIDs on a shared port or under auto-registration).
    """
    t = terminal or _DEFAULT
    enc = "windows-1251" if t.encoding.lower() in ("cp1251", "windows-1251") else "utf-8"
    sep = "," if t.decimal_separator == "," else "."
    date, time_ = _when(ev, t, t.date_format, "%H:%M:%S")
    parts: list[tuple[str, str]] = [
        ("event_type", "POSNG_" + ev.type.removeprefix("POS_")),
        ("operation_id", ev.op_id), ("cashier", ev.cashier_name), ("date", date),
        ("time", time_)]
    if ev.position:
        parts.append(("position", str(ev.position)))
    if ev.weight:
        parts.append(("weight", money_text(ev.weight, 3, sep)))
    if ev.quantity:
        parts.append(("quantity", str(ev.quantity)))
    if ev.price_per_unit:
        parts.append(("price_per_unit", money_text(ev.price_per_unit, 2, sep)))
    if ev.volume:
        parts.append(("volume", money_text(ev.volume, 3, sep)))
    for tag, value in (("barcode", ev.barcode), ("article", ev.article), ("text", ev.text)):
        if value:
            parts.append((tag, value))
    if ev.price:
        parts.append(("price", money_text(ev.price, 2, sep)))
    if ev.discount:
        parts.append(("discount", money_text(ev.discount, 2, sep)))
    if ev.discount_card:
        parts.append(("discount_card", ev.discount_card))
    if ev.location:
        parts.append(("location", ev.location))
    if with_guid:
        parts.append(("pos_terminal", ev.pos_terminal))
    body = newline.join(f"<{k}>{v.translate(_XML_ESC)}</{k}>" for k, v in parts if v != "")
    head = f'<?xml version="1.0" encoding="{enc}"?>{newline}' if declaration else ""
    text = f"{head}<{root}>{newline}{body}{newline}</{root}>{newline}"
    return text.encode("cp1251" if enc == "windows-1251" else "utf-8", "xmlcharrefreplace")


_JSON_FIELDS = ("op_id", "cashier_name", "position", "text", "article", "barcode", "price",
                "price_per_unit", "quantity", "weight", "discount", "discount_card", "flags",
                "volume", "location")
_json = msgspec.json.Encoder()


def to_ndjson(ev: PosEvent) -> bytes:
    """One NDJSON line (the documented JSON schema) for `ev`, newline included."""
    d: dict[str, object] = {"type": ev.type, "pos_terminal": ev.pos_terminal,
                            "ts_in_receipt": ev.ts_in_receipt}
    for k in _JSON_FIELDS:
        v = getattr(ev, k)
        if v:
            d[k] = v
    if ev.event_id:
        d["event_id"] = ev.event_id
    return _json.encode(d) + b"\n"


def _grocer(ev: PosEvent, t: Terminal) -> str | None:
    m = money_text
    k = ev.type.removeprefix("POS_")
    if k == "RECEIPT_OPEN":
        date, time_ = _when(ev, t, "%d/%m/%Y", "%H:%M:%S")
        head = f"RECEIPT #{ev.op_id}       TILL 1\nDATE {date} TIME {time_}"
        return head + (f"\nCASHIER: {ev.cashier_name}" if ev.cashier_name else "")
    if k == "RECEIPT_RETURN":
        return f"REFUND #{ev.op_id}"
    if k in ("POSITION_ADD", "POSITION_ADD_BY_SCANNER"):
        if ev.weight:
            return f"{ev.text}   {m(ev.weight, 3)}kg @ {m(ev.price_per_unit)}  {m(ev.price)}"
        return f"{ev.text}   {ev.quantity or 1} x {m(ev.price_per_unit)}   {m(ev.price)}"
    simple: dict[str, Callable[[], str]] = {
        "POSITION_DELETE": lambda: f"VOID {ev.text or 'ITEM'}   -{m(ev.price)}",
        "DISCOUNT_CARD": lambda: f"DISCOUNT CARD {ev.discount_card}",
        "DISCOUNT_RECEIPT": lambda: f"DISCOUNT   -{m(ev.discount or ev.price)}",
        "SUBTOTAL": lambda: f"TOTAL   {m(ev.price)}",
        "PAYMENT_CASH": lambda: f"CASH   {m(ev.price)}",
        "PAYMENT_CARD": lambda: f"CARD   {m(ev.price)}",
        "CHANGE": lambda: f"CHANGE   {m(ev.price)}",
        "RECEIPT_CLOSE": lambda: "THANK YOU FOR SHOPPING",
        "RECEIPT_CANCEL": lambda: "*** RECEIPT CANCELLED ***",
        "DRAWER_OPEN": lambda: "NO SALE",
        "CASHIER_LOGIN": lambda: f"SIGN ON {ev.cashier_name or ev.text}",
        "REPORT_X": lambda: "X-REPORT",
    }
    f = simple.get(k)
    return f() if f else None


def _fiscal(ev: PosEvent, t: Terminal) -> str | None:
    def m(v: int, scale: int = 2) -> str:
        return money_text(v, scale, ",")

    k = ev.type.removeprefix("POS_")
    if k in ("RECEIPT_OPEN", "RECEIPT_RETURN"):
        kind = "ПРИХОД" if k == "RECEIPT_OPEN" else "ВОЗВРАТ ПРИХОДА"
        out = f"КАССОВЫЙ ЧЕК № {ev.op_id}        {kind}"
        return out + (f"\nКассир: {ev.cashier_name}" if ev.cashier_name else "")
    if k in ("POSITION_ADD", "POSITION_ADD_BY_SCANNER"):
        qty = m(ev.weight, 3) if ev.weight else str(ev.quantity or 1)
        return (f"{ev.position or 1}. {ev.text or 'ТОВАР'}\n"
                f"   {qty} X {m(ev.price_per_unit)}        ={m(ev.price)}")
    if k == "RECEIPT_CLOSE":
        date, time_ = _when(ev, t, "%d.%m.%y", "%H:%M")
        return f"{date} {time_}\nФП 1234567890"
    simple: dict[str, Callable[[], str]] = {
        "POSITION_DELETE": lambda: f"СТОРНО {ev.position}. {ev.text or 'ТОВАР'}   ={m(ev.price)}",
        "DISCOUNT_CARD": lambda: f"ДИСКОНТНАЯ КАРТА {ev.discount_card}",
        "DISCOUNT_RECEIPT": lambda: f"СКИДКА   ={m(ev.discount or ev.price)}",
        "SUBTOTAL": lambda: f"ИТОГ   ={m(ev.price)}",
        "PAYMENT_CASH": lambda: f"НАЛИЧНЫМИ   ={m(ev.price)}",
        "PAYMENT_CARD": lambda: f"БЕЗНАЛИЧНЫМИ   ={m(ev.price)}",
        "CHANGE": lambda: f"СДАЧА   ={m(ev.price)}",
        "RECEIPT_CANCEL": lambda: "ЧЕК АННУЛИРОВАН",
        "DRAWER_OPEN": lambda: "ОТКРЫТИЕ ДЕНЕЖНОГО ЯЩИКА",
        "SHIFT_START": lambda: "СМЕНА ОТКРЫТА",
        "REPORT_Z": lambda: "ОТЧЕТ О ЗАКРЫТИИ СМЕНЫ",
    }
    f = simple.get(k)
    return f() if f else None


LAYOUTS: dict[str, tuple[Callable[[PosEvent, Terminal], str | None], str]] = {
    "grocer-en": (_grocer, "utf-8"),
    "fiscal-ru": (_fiscal, "cp866"),
}


def to_printer_text(events: Iterable[PosEvent], layout: str = "grocer-en",
                    terminal: Terminal | None = None) -> bytes:
    """The printed text of events in one of the shipped layouts (see LAYOUTS), encoded as
    that layout's printer does; events the layout cannot print are left out."""
    render, encoding = LAYOUTS[layout]
    t = terminal or _DEFAULT
    lines = [x for x in (render(ev, t) for ev in events) if x is not None]
    return ("\n".join(lines) + "\n").encode(encoding, "replace") if lines else b""


def encode_events(protocol: str, events: Iterable[PosEvent], terminal: Terminal | None = None,
                  layout: str = "grocer-en", with_guid: bool = False) -> bytes:
    """Events as one protocol's byte stream: "dssl-xml", "json" (NDJSON) or "text"
    (`with_guid`: see to_dssl_xml; JSON always names the terminal, text never can)."""
    if protocol == "dssl-xml":
        return b"".join(to_dssl_xml(ev, terminal, with_guid=with_guid) for ev in events)
    if protocol == "json":
        return b"".join(to_ndjson(ev) for ev in events)
    if protocol == "text":
        return to_printer_text(events, layout, terminal)
    raise ValueError(f"unknown protocol {protocol!r}")
