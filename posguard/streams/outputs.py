"""The worker agents' output producer: receipts, incidents, repartitioned bundles and the
tables' changelog records.

A confluent-kafka (librdkafka) producer rather than Faust's: sending through Faust costs
~50-100 µs of Python per message, and a batch of 5,000 events sends hundreds. The agent
hands a batch's outputs over, then `await delivered()` before it writes the states that
produced them (see streams/table_values.py for why that order). Same partitioner as Faust
(murmur2 of the key), so a cashier's bundle lands on the partition whose table state Faust
keeps for that cashier.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from confluent_kafka import KafkaError, KafkaException, Producer

from posguard.streams.errors import BrokerError
from posguard.streams.topics import PRODUCER_DEFAULTS

__all__ = ["OutputProducer"]

log = logging.getLogger(__name__)


class OutputProducer:
    """Send keyed records and wait, without blocking the event loop, until all are acked.

    Args:
        bootstrap: Kafka bootstrap servers.
        extra_config: the deployment's producer settings (TLS/SASL, ...), which win.
    """

    def __init__(self, bootstrap: str, extra_config: dict[str, Any] | None = None):
        self._conf = {"bootstrap.servers": bootstrap, **PRODUCER_DEFAULTS, "linger.ms": 2,
                      "log_level": 3, "logger": log, "on_delivery": self._on_delivery,
                      "delivery.report.only.error": True, **(extra_config or {})}
        self._p: Producer | None = None  # made on first use: building an app sends nothing
        self._failures: list[str] = []

    @property
    def _producer(self) -> Producer:
        if self._p is None:
            try:
                self._p = Producer(self._conf)
            except KafkaException as e:
                raise BrokerError(f"cannot create the worker's output producer: {e}") from None
        return self._p

    def _on_delivery(self, err: KafkaError | None, msg: Any) -> None:
        if err is not None:
            self._failures.append(f"{msg.topic()}: {err.str()}")

    def send(self, topic: str, key: bytes, value: bytes | None, partition: int = -1) -> None:
        """Hand one record over (asynchronous; see `delivered`); partition -1: by key."""
        while True:
            try:
                self._producer.produce(topic, value, key, partition)
                return
            except BufferError:  # local queue full: let deliveries drain
                self._producer.poll(0.01)

    async def delivered(self, timeout: float = 300.0) -> None:
        """Wait until the broker has acknowledged every record handed over.

        Raises:
            BrokerError: a record could not be delivered (the producer retried it until
                its message timeout): the batch's states are then not written, and the
                worker that restarts replays it.
        """
        p = self._producer
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while p.poll(0) >= 0 and len(p):
            if loop.time() > deadline:
                raise BrokerError(f"{len(p)} output records not acknowledged in {timeout}s")
            await asyncio.sleep(0.001)
        if self._failures:
            failures, self._failures = self._failures, []
            raise BrokerError(f"{len(failures)} output records not delivered, e.g. "
                              f"{failures[0]}")

    def close(self, timeout: float = 10.0) -> None:
        """Deliver what is left (at most `timeout` seconds)."""
        if self._p is not None:
            self._p.flush(timeout)
