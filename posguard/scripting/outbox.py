"""What scripts produce besides events: incidents to pos.incidents, fraud records to
pos.frauds. (Events, including POS_FRAUD, go through the EventPublisher.)

The ClickHouse sink stores both: pos.frauds carries one JSON record per pos_fraud
call, with the columns of the `frauds` table.
"""

from __future__ import annotations

from posguard.ingest.publisher import EventPublisher
from posguard.model.codec import encode
from posguard.model.frauds import FraudRecord
from posguard.model.incidents import Incident

__all__ = ["FraudRecord", "Outbox"]


class Outbox(EventPublisher):
    """A producer of incidents and fraud records (keyed by terminal GUID), on the same
    idempotent producer set-up as the events' (EventPublisher)."""

    def incident(self, inc: Incident) -> None:
        """Publish an incident to pos.incidents."""
        self._produce(self.topics.incidents, inc.terminal_guid.encode(), encode(inc))

    def fraud(self, rec: FraudRecord) -> None:
        """Publish a fraud record to pos.frauds."""
        self._produce(self.topics.frauds, rec.pos_terminal.encode(), encode(rec))
