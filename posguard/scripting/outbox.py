"""What scripts produce besides events: incidents to pos.incidents, fraud records to
pos.frauds. (Events, including POS_FRAUD, go through the EventPublisher.)

The ClickHouse sink stores pos.incidents; pos.frauds carries one JSON record per pos_fraud
call, with the columns of the `frauds` table, for whatever stores or shows it.
"""

from __future__ import annotations

import logging
from typing import Any

from confluent_kafka import KafkaException, Producer

from posguard.ingest.publisher import producer_config
from posguard.model.codec import encode
from posguard.model.frauds import FraudRecord
from posguard.model.incidents import Incident
from posguard.streams.errors import BrokerError
from posguard.streams.topics import Topics

__all__ = ["FraudRecord", "Outbox"]

log = logging.getLogger(__name__)


class Outbox:
    """A producer of incidents and fraud records (keyed by terminal GUID)."""

    def __init__(self, bootstrap: str, topics: Topics, extra_config: dict[str, Any] | None = None):
        self.topics = topics
        self.failed = 0
        self._producer = Producer(producer_config(bootstrap, extra_config))

    def _on_delivery(self, err: object, msg: object) -> None:
        if err is not None:
            self.failed += 1
            log.error("script output not delivered: %s", err)

    def _produce(self, topic: str, key: str, value: bytes) -> None:
        while True:
            try:
                self._producer.produce(topic, key=key.encode(), value=value,
                                       on_delivery=self._on_delivery)
                break
            except BufferError:
                self._producer.poll(0.05)
            except KafkaException as e:
                raise BrokerError(f"cannot publish to {topic}: {e}") from None
        self._producer.poll(0)

    def incident(self, inc: Incident) -> None:
        """Publish an incident to pos.incidents."""
        self._produce(self.topics.incidents, inc.terminal_guid, encode(inc))

    def fraud(self, rec: FraudRecord) -> None:
        """Publish a fraud record to pos.frauds."""
        self._produce(self.topics.frauds, rec.pos_terminal, encode(rec))

    def flush(self, timeout: float = 30.0) -> int:
        """Wait for acknowledgements; the number still not delivered."""
        return int(self._producer.flush(timeout))
