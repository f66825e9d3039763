"""Consumer lag per partition: how far each consumer group is behind the end of its topics.

lag = high watermark - committed offset of the group, per topic and partition. A partition
the group has not committed yet counts from the earliest retained offset (posguard's groups
start at "earliest"), so a new or stuck group shows its whole backlog. Negative values (a
broker whose high watermark lags a commit) are reported as 0.

The figures come from the brokers with one confluent-kafka AdminClient: one OffsetFetch per
group, one metadata request and two ListOffsets requests for all partitions. `LagMonitor`
caches the answer for a few seconds, so a burst of scrapes costs one round of requests.

Tansu (the embedded broker) reports a partition's high watermark as the base offset of its
last record batch + 1, so after multi-record batches the lag it shows is too low (often 0);
real Kafka reports the true end.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from confluent_kafka import ConsumerGroupTopicPartitions, KafkaException, TopicPartition
from confluent_kafka.admin import AdminClient, OffsetSpec

from posguard.streams.errors import BrokerError

__all__ = ["PartitionLag", "LagSnapshot", "LagMonitor", "consumer_lag", "client_security"]


@dataclass(frozen=True)
class PartitionLag:
    """One group's position on one partition.

    Attributes:
        group: consumer group id.
        topic, partition: the partition.
        committed: the group's committed offset (-1 = none yet).
        high: the partition's high watermark (next offset to be written).
        lag: messages the group has not committed yet (>= 0).
    """

    group: str
    topic: str
    partition: int
    committed: int
    high: int
    lag: int


@dataclass(frozen=True)
class LagSnapshot:
    """The latest lag figures and whether the query that made them reached Kafka."""

    lags: tuple[PartitionLag, ...]
    ok: bool
    error: str = ""


def client_security(kafka_config: Mapping[str, Any] | None) -> dict[str, Any]:
    """The keys of a client config that every client type accepts (TLS/SASL, client id)."""
    return {k: v for k, v in (kafka_config or {}).items()
            if k.startswith(("security.", "sasl.", "ssl.", "enable.ssl")) or k == "client.id"}


def _result(future: Any, timeout: float, what: str) -> Any:
    try:
        return future.result(timeout)
    except KafkaException as e:
        raise BrokerError(f"consumer lag: {what}: {e}") from None
    except TimeoutError:  # concurrent.futures.TimeoutError is TimeoutError on 3.11
        raise BrokerError(f"consumer lag: {what}: no answer in {timeout:g}s") from None


def consumer_lag(admin: AdminClient, groups: Mapping[str, Sequence[str]],
                 timeout: float = 5.0) -> list[PartitionLag]:
    """Lag of each group on every partition of its topics.

    Args:
        admin: a connected AdminClient.
        groups: group id -> topics it reads; topics the group has committed offsets on are
            added, so Faust's internal topics show up without being listed.
        timeout: seconds per broker request.

    Returns:
        One PartitionLag per group and partition, sorted by group, topic, partition. Topics
        that do not exist are left out.

    Raises:
        BrokerError: Kafka did not answer, or refused a request.
    """
    committed: dict[str, dict[tuple[str, int], int]] = {}
    # librdkafka takes one group per OffsetFetch request: send them all, then wait
    pending = {g: admin.list_consumer_group_offsets([ConsumerGroupTopicPartitions(g)],
                                                    request_timeout=timeout)[g]
               for g in groups}
    for group, fut in pending.items():
        answer = _result(fut, timeout, f"committed offsets of {group}")
        committed[group] = {(tp.topic, tp.partition): tp.offset
                            for tp in answer.topic_partitions or () if tp.offset >= 0}
    wanted = {g: set(ts) | {t for t, _ in committed[g]} for g, ts in groups.items()}
    topics = sorted(set().union(*wanted.values())) if wanted else []
    if not topics:
        return []
    try:
        metadata = admin.list_topics(timeout=timeout)
    except KafkaException as e:
        raise BrokerError(f"consumer lag: topic metadata: {e}") from None
    partitions = [TopicPartition(t, p) for t in topics if t in metadata.topics
                  for p in sorted(metadata.topics[t].partitions)]
    if not partitions:
        return []
    high = _offsets(admin, partitions, OffsetSpec.latest(), timeout)
    low = _offsets(admin, partitions, OffsetSpec.earliest(), timeout)
    out = []
    for group in sorted(groups):
        for tp in partitions:
            if tp.topic not in wanted[group]:
                continue
            key = (tp.topic, tp.partition)
            c = committed[group].get(key, -1)
            start = c if c >= 0 else low[key]
            out.append(PartitionLag(group, tp.topic, tp.partition, c, high[key],
                                    max(0, high[key] - start)))
    return out


def _offsets(admin: AdminClient, partitions: list[TopicPartition], spec: OffsetSpec,
             timeout: float) -> dict[tuple[str, int], int]:
    futures = admin.list_offsets({tp: spec for tp in partitions}, request_timeout=timeout)
    return {(tp.topic, tp.partition): int(_result(f, timeout, "partition offsets").offset)
            for tp, f in futures.items()}


class LagMonitor:
    """Consumer lag of some groups, queried at most once per `max_age` seconds.

    Concurrent callers wait for the query in flight and share its answer; a failed query is
    cached too, so a dead broker is not asked again by every scrape.

    Args:
        bootstrap: Kafka bootstrap servers.
        groups: group id -> topics it reads (see consumer_lag).
        kafka_config: the `[kafka_config]` settings (only TLS/SASL keys are used).
        max_age: seconds an answer is reused.
        timeout: seconds per broker request.
        clock: monotonic seconds (injected for tests).
    """

    def __init__(self, bootstrap: str, groups: Mapping[str, Sequence[str]],
                 kafka_config: Mapping[str, Any] | None = None, max_age: float = 5.0,
                 timeout: float = 5.0, clock: Callable[[], float] = time.monotonic):
        self.groups = {g: tuple(ts) for g, ts in groups.items()}
        self.max_age = max_age
        self.timeout = timeout
        self.queries = 0
        self._conf = {"bootstrap.servers": bootstrap, "log_level": 3,
                      **client_security(kafka_config)}
        self._admin: AdminClient | None = None
        self._clock = clock
        self._lock = threading.Lock()
        self._snapshot: LagSnapshot | None = None
        self._at = 0.0

    def snapshot(self) -> LagSnapshot:
        """The cached lag figures, refreshed when older than max_age."""
        with self._lock:
            now = self._clock()
            if self._snapshot is not None and now - self._at < self.max_age:
                return self._snapshot
            self.queries += 1
            try:
                if self._admin is None:
                    self._admin = AdminClient(self._conf)
                lags = consumer_lag(self._admin, self.groups, self.timeout)
                self._snapshot = LagSnapshot(tuple(lags), ok=True)
            except (BrokerError, KafkaException) as e:
                self._snapshot = LagSnapshot((), ok=False, error=str(e))
            self._at = self._clock()
            return self._snapshot
