"""Read a stretch of a partition straight from the broker, to fill a delivery gap.

Faust's consumer can drop records it fetched around a rebalance (see streams/delivery.py) and
later counts their offsets as a gap it commits over. An agent that finds such a gap in its
batch reads the missing records here, in order, and folds them in before the records after
the gap. Rare (rebalances), so a plain confluent consumer, assigned per read, in a thread.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

from confluent_kafka import Consumer, KafkaException, TopicPartition

from posguard.streams.steps import Record

__all__ = ["GapReader"]


class GapReader:
    """Args: bootstrap: Kafka bootstrap servers; extra_config: TLS/SASL settings."""

    def __init__(self, bootstrap: str, extra_config: dict[str, Any] | None = None):
        self._conf = {"bootstrap.servers": bootstrap, "group.id": f"gap-{uuid.uuid4().hex}",
                      "enable.auto.commit": False, "enable.partition.eof": True,
                      "log_level": 3, **(extra_config or {})}
        self._consumer: Consumer | None = None

    def read(self, topic: str, ranges: dict[int, tuple[int, int]], timeout: float = 10.0
             ) -> list[Record]:
        """The records of `topic` at offsets [start, end) per partition, in offset order;
        fewer when the broker does not have them all (deleted, or `timeout` passed)."""
        if self._consumer is None:
            self._consumer = Consumer(self._conf)
        c = self._consumer
        c.assign([TopicPartition(topic, p, start) for p, (start, _) in ranges.items()])
        out: dict[int, list[Record]] = {p: [] for p in ranges}
        open_ = {p for p, (start, end) in ranges.items() if start < end}
        deadline = time.monotonic() + timeout
        try:
            while open_ and time.monotonic() < deadline:
                for m in c.consume(500, 0.2):
                    p = m.partition()
                    if p not in open_:
                        continue
                    if m.error() is not None:
                        open_.discard(p)  # end of the partition, or it cannot be read
                        continue
                    start, end = ranges[p]
                    if start <= m.offset() < end:
                        out[p].append(Record(p, m.offset(), m.key(), m.value()))
                    if m.offset() >= end - 1:
                        open_.discard(p)
        except KafkaException:
            pass  # what was read so far; the caller sees it is short
        finally:
            c.unassign()
        return [r for p in ranges for r in out[p]]

    def close(self) -> None:
        if self._consumer is not None:
            self._consumer.close()
            self._consumer = None
