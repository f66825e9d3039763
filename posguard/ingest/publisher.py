"""The only producer of pos.events: accepted events go to Kafka keyed by terminal GUID."""

from __future__ import annotations

import logging
from collections.abc import Iterable

from confluent_kafka import KafkaException, Producer

from posguard.model.codec import encode
from posguard.model.events import PosEvent
from posguard.streams.errors import BrokerError
from posguard.streams.topics import PRODUCER_DEFAULTS, Topics

__all__ = ["EventPublisher"]

log = logging.getLogger(__name__)


class EventPublisher:
    """Publish PosEvents to pos.events, one terminal's events in order on one partition.

    The producer is idempotent (no doubles from its own retries) and uses Faust's partitioner.
    `flush()` returns only when every event handed over is acknowledged by the broker.
    """

    def __init__(self, bootstrap: str, topics: Topics, extra_config: dict[str, object] | None = None):
        self.topics = topics
        self.failed = 0
        conf: dict[str, object] = {"bootstrap.servers": bootstrap, **PRODUCER_DEFAULTS,
                                   "log_level": 3, **(extra_config or {})}
        self._producer = Producer(conf)

    def _on_delivery(self, err: object, msg: object) -> None:
        if err is not None:
            self.failed += 1
            log.error("event not delivered: %s", err)

    def publish(self, ev: PosEvent) -> None:
        """Hand one event to the producer (asynchronous; see flush)."""
        self.publish_raw(ev.pos_terminal, encode(ev))

    def publish_raw(self, terminal: str, value: bytes) -> None:
        """Hand one already-encoded event to the producer."""
        while True:
            try:
                self._producer.produce(self.topics.events, key=terminal.encode(), value=value,
                                       on_delivery=self._on_delivery)
                break
            except BufferError:  # local queue full: let deliveries drain, then retry
                self._producer.poll(0.05)
            except KafkaException as e:
                raise BrokerError(f"cannot publish to {self.topics.events}: {e}") from None
        self._producer.poll(0)

    def publish_many(self, events: Iterable[PosEvent]) -> int:
        n = 0
        for ev in events:
            self.publish(ev)
            n += 1
        return n

    def flush(self, timeout: float = 30.0) -> int:
        """Wait for acknowledgements; returns the number still not delivered."""
        return int(self._producer.flush(timeout))
