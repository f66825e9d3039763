"""Printer text capture: the lines a receipt printer prints -> events, by a definition.

`feed_line(definition, terminal, state, line, ts_received, ids)` and
`expire(definition, terminal, state, now, ids)` are the pure core: state in, state and events
out; `now` is passed in. `PrinterDecoder` is the per-connection shell piece: ESC/POS
stripping, line splitting, decoding in the terminal's encoding. The receipt state belongs to
the terminal (a printer may reconnect mid-receipt), so the caller keeps one `PrinterState`
per terminal and hands it to each connection's decoder.

Within an open receipt, lines are tried against the end templates, then the start templates
(a start over an open receipt closes that one as incomplete), then the line templates; the
first match wins. Between receipts, only start templates and `outside` templates count.
Lines nothing matches are ignored (printers print decorations). A template without an event
keeps its fields for the next event of the receipt (an item's name printed on the line above
its price); `op_id`, `discount_card` (for the receipt) and `cashier_name` (until the next one)
last longer.
Event time: a line's `date`+`time` groups set the terminal's clock offset; every event's
ts_in_receipt is its arrival time plus that offset (no date seen yet: the arrival time).
"""

from __future__ import annotations

from collections.abc import Callable

import msgspec

from posguard.ingest.errors import FieldError
from posguard.ingest.escpos import EscPosStripper
from posguard.ingest.fields import event_from_fields
from posguard.ingest.lines import LineSplitter
from posguard.ingest.printer_defs import LineTemplate, TransactionDefinition, definition_from_dict
from posguard.ingest.registry import Terminal
from posguard.ingest.rejects import Rejected, rejected
from posguard.ingest.units import local_to_micros
from posguard.ingest.xml_splitter import Bad
from posguard.model.event_types import POSITION_TYPES
from posguard.model.events import PosEvent

__all__ = ["PrinterState", "feed_line", "expire", "PrinterDecoder", "TransactionDefinition",
           "definition_from_dict", "INCOMPLETE"]

INCOMPLETE = "POS_RECEIPT_INCOMPLETE"
_RECEIPT_CONTEXT = ("op_id", "discount_card")
_NOT_PENDING = frozenset({"op_id", "discount_card", "cashier_name", "date", "time"})


class PrinterState(msgspec.Struct, kw_only=True):
    """What one printer-text terminal has going on (mutated and returned by the core)."""

    open: bool = False
    context: dict[str, str] = msgspec.field(default_factory=dict)  # op_id, discount_card
    pending: dict[str, str] = msgspec.field(default_factory=dict)  # for the next event only
    cashier_name: str = ""
    position: int = 0
    last_line: int = 0  # ts_received of the open receipt's last line
    clock_offset: int = 0  # terminal clock minus arrival time, microseconds
    receipts: int = 0


Ids = Callable[[], str]


def _event(tpl_event: str, groups: dict[str, str], terminal: Terminal, state: PrinterState,
           ts: int, event_id: str) -> PosEvent:
    fields = dict(state.context)
    if state.cashier_name:
        fields["cashier_name"] = state.cashier_name
    fields.update(state.pending)
    fields.update(groups)
    state.pending = {}
    fields.pop("date", None)
    fields.pop("time", None)
    if tpl_event in POSITION_TYPES:
        if fields.get("position", "").strip().isdigit():
            state.position = int(fields["position"])
        else:
            state.position += 1
            fields["position"] = str(state.position)
    fields["type"] = tpl_event
    ev = event_from_fields(fields, terminal, ts, event_id)
    return msgspec.structs.replace(ev, ts_in_receipt=ts + state.clock_offset)


def _apply(tpl: LineTemplate, groups: dict[str, str], terminal: Terminal, state: PrinterState,
           ts: int, ids: Ids) -> list[PosEvent]:
    if "date" in groups and "time" in groups:
        state.clock_offset = local_to_micros(groups["date"], groups["time"],
                                             terminal.date_format, terminal.timezone) - ts
    if groups.get("cashier_name", "").strip():
        state.cashier_name = groups["cashier_name"].strip()
    for k in _RECEIPT_CONTEXT:
        if state.open and groups.get(k, "").strip():
            state.context[k] = groups[k].strip()
    if not tpl.event:
        if state.open:  # a line of context (e.g. an item name): it goes with the next event
            state.pending.update({k: v for k, v in groups.items()
                                  if k not in _NOT_PENDING})
        return []
    return [_event(tpl.event, groups, terminal, state, ts, ids())]


def _incomplete(terminal: Terminal, state: PrinterState, ts: int, ids: Ids) -> PosEvent:
    state.pending = {}
    ev = _event(INCOMPLETE, {}, terminal, state, ts, ids())
    _reset(state, False)
    return ev


def _reset(state: PrinterState, is_open: bool) -> None:
    state.open, state.context, state.pending, state.position = is_open, {}, {}, 0


def _first(templates: tuple[LineTemplate, ...], line: str,
           outside_only: bool = False) -> tuple[LineTemplate, dict[str, str]] | None:
    for tpl in templates:
        if outside_only and not tpl.outside:
            continue
        groups = tpl.match(line)
        if groups is not None:
            return tpl, groups
    return None


def feed_line(d: TransactionDefinition, terminal: Terminal, state: PrinterState, line: str,
              ts_received: int, ids: Ids) -> tuple[PrinterState, list[PosEvent]]:
    """One printed line -> the state after it and the events it makes.

    Raises:
        FieldError: a captured field that does not convert (the caller rejects the line).
    """
    out: list[PosEvent] = []
    if state.open:
        hit = _first(d.end, line)
        if hit is not None:
            state.last_line = ts_received
            out += _apply(hit[0], hit[1], terminal, state, ts_received, ids)
            _reset(state, False)
            return state, out
    hit = _first(d.start, line)
    if hit is not None:
        if state.open:
            out.append(_incomplete(terminal, state, ts_received, ids))
        _reset(state, True)
        state.receipts += 1
        state.last_line = ts_received
        groups = hit[1]
        if not groups.get("op_id", "").strip():
            state.context["op_id"] = f"P{ts_received}"
        out += _apply(hit[0], groups, terminal, state, ts_received, ids)
        return state, out
    hit = _first(d.lines, line, outside_only=not state.open)
    if hit is not None:
        if state.open:
            state.last_line = ts_received
        out += _apply(hit[0], hit[1], terminal, state, ts_received, ids)
    return state, out


def expire(d: TransactionDefinition, terminal: Terminal, state: PrinterState, now: int,
           ids: Ids) -> tuple[PrinterState, list[PosEvent]]:
    """Close the open receipt as incomplete when no line came for `d.timeout` seconds.

    Args:
        now: the current time, microseconds (the caller's clock).
    """
    if state.open and now - state.last_line >= int(d.timeout * 1_000_000):
        return state, [_incomplete(terminal, state, now, ids)]
    return state, []


class PrinterDecoder:
    """The printer-text pipeline of one connection: bytes -> lines -> events.

    Args:
        definition: the terminal's transaction definition.
        terminal: the terminal (printer text needs a port of its own: text has no terminal
            field).
        state: the terminal's receipt state, shared by its connections (mutated in place).
        ids: gives each event its id.
        max_line_bytes: longest line accepted.
        source: where the bytes come from.
    """

    def __init__(self, definition: TransactionDefinition, terminal: Terminal,
                 state: PrinterState, ids: Ids, max_line_bytes: int, source: str = ""):
        self.d, self.terminal, self.state, self.ids = definition, terminal, state, ids
        self.source = source
        self.lines = LineSplitter(max_line_bytes)
        self.escpos = EscPosStripper() if definition.escpos else None

    def _convert(self, pieces: list[bytes | Bad], ts: int) -> list[PosEvent | Rejected]:
        out: list[PosEvent | Rejected] = []
        for p in pieces:
            if isinstance(p, Bad):
                out.append(Rejected(terminal=self.terminal.guid, code=p.code, reason=p.reason,
                                    raw=p.raw, size=p.size, ts=ts, source=self.source))
                continue
            try:
                line = p.decode(self.terminal.encoding)
            except UnicodeDecodeError as e:
                out.append(rejected("encoding", f"not {self.terminal.encoding}: {e}", p, ts,
                                    terminal=self.terminal.guid, source=self.source))
                continue
            try:
                self.state, events = feed_line(self.d, self.terminal, self.state, line, ts,
                                               self.ids)
            except FieldError as e:
                out.append(rejected(e.code, str(e), p, ts, terminal=self.terminal.guid,
                                    source=self.source))
                continue
            out += events
        return out

    def feed(self, chunk: bytes, ts_received: int) -> list[PosEvent | Rejected]:
        """Bytes received at `ts_received` -> the events of the complete lines."""
        if self.escpos is not None:
            chunk = self.escpos.feed(chunk)
        return self._convert(self.lines.feed(chunk), ts_received)

    def close(self, ts_received: int) -> list[PosEvent | Rejected]:
        """The connection ended: a last unterminated line still counts. The receipt stays
        open (the printer may reconnect); `expire` closes it if nothing follows."""
        return self._convert(self.lines.close(), ts_received)
