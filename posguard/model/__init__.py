"""The functional core's data: events, receipts, incidents, types, time, codec. No I/O."""

from posguard.model.events import PosEvent
from posguard.model.incidents import Incident, IncidentStatus, incident_id
from posguard.model.receipts import Receipt, TerminalState, assemble

__all__ = [
    "PosEvent",
    "Incident",
    "IncidentStatus",
    "incident_id",
    "Receipt",
    "TerminalState",
    "assemble",
]
