"""The objects scripts receive: events (Table 11), incidents (Table 13), report results and
errors, with exactly the documented fields and units.

Units as documented: money in kopecks (pennies), weight in grams, times in integer
microseconds since the epoch. Text fields are `Text` (a str with Python 2's `.decode`).
"""

from __future__ import annotations

from typing import Any

from posguard.model.events import PosEvent
from posguard.model.incidents import Incident
from posguard.scripting.py2compat import Text

__all__ = ["EVENT_FIELDS", "INCIDENT_FIELDS", "ScriptEvent", "ScriptIncident", "ReportResult",
           "ScriptErrorInfo", "event_for_script", "incident_for_script"]

EVENT_FIELDS = (
    "article", "associated_channel", "barcode", "cashier_name", "discount", "discount_card",
    "flags", "location", "op_id", "pos_terminal", "pos_terminal_name", "position", "price",
    "price_per_unit", "quantity", "text", "ts_in_receipt", "ts_received", "type", "weight",
)

INCIDENT_FIELDS = (
    "associated_channel", "cashier_name", "comment", "custom_columns", "detector", "expert",
    "expert_estimate", "id", "operator", "related_ts", "review_duration", "review_ts", "server",
    "status", "terminal_guid", "terminal_name", "ts_created", "type_description", "type_id",
    "type_name",
)


def _script_value(v: Any) -> Any:
    if isinstance(v, str):
        return Text(v)
    if isinstance(v, list):
        return [_script_value(x) for x in v]
    if isinstance(v, dict):
        return {Text(k): _script_value(x) for k, x in v.items()}
    return v


class _Record:
    """A read-only view of a model struct: each documented field is a property that reads
    the struct when used (nothing is copied per event; a script reading two fields of an
    event pays for two)."""

    __slots__ = ("_source",)
    _fields: tuple[str, ...] = ()

    def __init__(self, source: Any):
        object.__setattr__(self, "_source", source)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"{type(self).__name__} fields are read-only")

    def __repr__(self) -> str:
        body = ", ".join(f"{f}={getattr(self, f)!r}" for f in self._fields)
        return f"{type(self).__name__}({body})"

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and all(
            getattr(self, f) == getattr(other, f) for f in self._fields)

    __hash__ = None  # type: ignore[assignment]


def _field(name: str) -> property:
    def get(self: _Record) -> Any:
        return _script_value(getattr(object.__getattribute__(self, "_source"), name))

    return property(get, doc=f"`{name}` of the reference's table")


class ScriptEvent(_Record):
    """An ActivePOS event as scripts see it (Table 11)."""

    __slots__ = ()
    _fields = EVENT_FIELDS

    @property
    def source(self) -> PosEvent:
        """The stored event this object was made from (host use; not in the reference)."""
        src: PosEvent = object.__getattribute__(self, "_source")
        return src


class ScriptIncident(_Record):
    """An ActivePOS incident as scripts see it (Table 13)."""

    __slots__ = ()
    _fields = INCIDENT_FIELDS


for _name in EVENT_FIELDS:
    setattr(ScriptEvent, _name, _field(_name))
for _name in INCIDENT_FIELDS:
    setattr(ScriptIncident, _name, _field(_name))


def event_for_script(ev: PosEvent) -> ScriptEvent:
    """The script's view of an event."""
    return ScriptEvent(ev)


def incident_for_script(inc: Incident) -> ScriptIncident:
    """The script's view of an incident."""
    return ScriptIncident(inc)


class ReportResult:
    """What generate_pos_report hands its callback: `zipped_report`, the ODS file's bytes."""

    __slots__ = ("zipped_report", "report_type", "ts_from", "ts_to")

    def __init__(self, zipped_report: bytes, report_type: str, ts_from: int, ts_to: int):
        self.zipped_report = zipped_report
        self.report_type = report_type
        self.ts_from = ts_from
        self.ts_to = ts_to

    def __repr__(self) -> str:
        return (f"ReportResult({self.report_type}, {len(self.zipped_report)} bytes, "
                f"{self.ts_from}..{self.ts_to})")


class ScriptErrorInfo:
    """What an error callback receives: `.msg`, the reason (also `str()` of it)."""

    __slots__ = ("msg",)

    def __init__(self, msg: str):
        self.msg = Text(msg)

    def __str__(self) -> str:
        return str(self.msg)

    def __repr__(self) -> str:
        return f"ScriptErrorInfo({str(self.msg)!r})"
