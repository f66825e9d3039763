"""The only producer of pos.events (and pos.deadletter): events go to Kafka keyed by
terminal GUID, so one terminal's events stay in order on one partition.

`EventPublisher` is the plain producer (the simulator and tests use it); the ingest adapters
use `posguard.ingest.durable.DurablePublisher`, which adds the local spool. Both satisfy
`Publisher`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any, Protocol

from confluent_kafka import KafkaException, Producer

from posguard.ingest.rejects import Rejected, deadletter_value
from posguard.model.codec import encode
from posguard.model.events import PosEvent
from posguard.streams.errors import BrokerError
from posguard.streams.topics import PRODUCER_DEFAULTS, Topics

__all__ = ["EventPublisher", "Publisher", "producer_config"]

log = logging.getLogger(__name__)
kafka_log = logging.getLogger("posguard.ingest.kafka")


def producer_config(bootstrap: str, extra: Mapping[str, Any] | None = None,
                    **overrides: Any) -> dict[str, Any]:
    """confluent-kafka producer settings: the project defaults (idempotent, acks=all, Faust's
    murmur2 partitioner), librdkafka's log routed to Python logging, then `overrides`, then
    `extra` (the deployment's own settings win)."""
    return {"bootstrap.servers": bootstrap, **PRODUCER_DEFAULTS, "log_level": 3,
            "logger": kafka_log, **overrides, **(extra or {})}


class Publisher(Protocol):
    """What the listeners need from a publisher."""

    def publish(self, ev: PosEvent) -> None: ...
    def publish_raw(self, terminal: str, value: bytes) -> None: ...
    def publish_many(self, events: Iterable[PosEvent]) -> int: ...
    def publish_deadletter(self, r: Rejected) -> None: ...
    def flush(self, timeout: float = 30.0) -> int: ...
    @property
    def full(self) -> bool: ...  # True while new input is refused (SpoolFull)


class EventPublisher:
    """Publish PosEvents to pos.events, one terminal's events in order on one partition.

    The producer is idempotent (no doubles from its own retries) and uses Faust's partitioner.
    `flush()` returns only when every event handed over is acknowledged by the broker (or the
    timeout passes). Nothing is kept when the broker stays away: use DurablePublisher for that.
    """

    def __init__(self, bootstrap: str, topics: Topics,
                 extra_config: dict[str, object] | None = None):
        self.topics = topics
        self.failed = 0
        self._producer = Producer(producer_config(bootstrap, extra_config))

    def _on_delivery(self, err: object, msg: object) -> None:
        if err is not None:
            self.failed += 1
            log.error("event not delivered: %s", err)

    def _produce(self, topic: str, key: bytes, value: bytes) -> None:
        while True:
            try:
                self._producer.produce(topic, key=key, value=value,
                                       on_delivery=self._on_delivery)
                break
            except BufferError:  # local queue full: let deliveries drain, then retry
                self._producer.poll(0.05)
            except KafkaException as e:
                raise BrokerError(f"cannot publish to {topic}: {e}") from None
        self._producer.poll(0)

    def publish(self, ev: PosEvent) -> None:
        """Hand one event to the producer (asynchronous; see flush)."""
        self._produce(self.topics.events, ev.pos_terminal.encode(), encode(ev))

    def publish_raw(self, terminal: str, value: bytes) -> None:
        """Hand one already-encoded event to the producer."""
        self._produce(self.topics.events, terminal.encode(), value)

    def publish_many(self, events: Iterable[PosEvent]) -> int:
        """Hand several events over; returns how many."""
        n = 0
        for ev in events:
            self.publish(ev)
            n += 1
        return n

    def publish_deadletter(self, r: Rejected) -> None:
        """Send a rejected piece to pos.deadletter (key: its terminal, if known)."""
        self._produce(self.topics.deadletter, r.terminal.encode(), deadletter_value(r))

    @property
    def full(self) -> bool:
        """Always False: this publisher has no spool (it never refuses input)."""
        return False

    def flush(self, timeout: float = 30.0) -> int:
        """Wait for acknowledgements; returns the number still not delivered."""
        return int(self._producer.flush(timeout))
