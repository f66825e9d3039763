"""Kafka topic names and their creation (the only place topic settings are written down)."""

from __future__ import annotations

import logging
from concurrent.futures import Future
from dataclasses import dataclass

from confluent_kafka import KafkaException, TopicCollection
from confluent_kafka.admin import AdminClient, NewTopic

from posguard.streams.errors import BrokerError

__all__ = ["Topics", "ensure_topics", "PRODUCER_DEFAULTS", "REPLAY_HEADER", "topic_id_future",
           "describe_topic_id", "NO_TOPIC_ID"]

log = logging.getLogger(__name__)

# Every confluent-kafka producer uses the partitioner of Faust/aiokafka (murmur2 of the key),
# so a terminal's events land on the partition whose table state Faust keeps for it.
PRODUCER_DEFAULTS: dict[str, object] = {
    "enable.idempotence": True,
    "acks": "all",
    "partitioner": "murmur2_random",
    "linger.ms": 5,
    "compression.type": "lz4",
}

# Header of a record the ingest publisher sends again (spool or journal replay): the sink
# checks the store for its event_id, since its first copy may sit under an older topic id.
REPLAY_HEADER = "posguard-replay"
NO_TOPIC_ID = "AAAAAAAAAAAAAAAAAAAAAA"  # the zero Uuid: a broker without topic ids


@dataclass(frozen=True)
class Topics:
    """The topic names of one deployment (a prefix lets tests run side by side)."""

    prefix: str = ""

    @property
    def events(self) -> str:
        return f"{self.prefix}pos.events"

    @property
    def receipts(self) -> str:
        return f"{self.prefix}pos.receipts"

    @property
    def incidents(self) -> str:
        return f"{self.prefix}pos.incidents"

    @property
    def frauds(self) -> str:
        return f"{self.prefix}pos.frauds"

    @property
    def detectors(self) -> str:
        return f"{self.prefix}pos.detectors"

    @property
    def deadletter(self) -> str:
        return f"{self.prefix}pos.deadletter"

    def repartition(self, scope: str) -> str:
        """The named repartition topic of a cross-terminal detector scope (cashier, card)."""
        return f"{self.prefix}pos.detect.{scope}"

    def all(self) -> list[str]:
        return [
            self.events, self.receipts, self.incidents, self.frauds, self.detectors,
            self.deadletter, self.repartition("cashier"), self.repartition("card"),
        ]


def ensure_topics(bootstrap: str, topics: Topics, partitions: int, replication: int = 1,
                  timeout: float = 15.0, extra_config: dict[str, str] | None = None) -> None:
    """Create the posguard topics that do not exist yet (existing ones are left alone).

    pos.detectors is compacted (the latest configuration is what counts); the others keep
    `partitions` partitions so one terminal's events stay in order on one of them.
    """
    admin = AdminClient({"bootstrap.servers": bootstrap, **(extra_config or {})})
    try:
        existing = set(admin.list_topics(timeout=timeout).topics)
    except KafkaException as e:
        raise BrokerError(f"cannot reach Kafka at {bootstrap}: {e}") from None
    new = []
    for name in topics.all():
        if name in existing:
            continue
        if name == topics.detectors:
            new.append(NewTopic(name, 1, replication, config={"cleanup.policy": "compact"}))
        else:
            new.append(NewTopic(name, partitions, replication))
    if not new:
        return
    for name, fut in admin.create_topics(new, request_timeout=timeout).items():
        try:
            fut.result(timeout)
            log.info("created topic %s", name)
        except KafkaException as e:
            if "TOPIC_ALREADY_EXISTS" not in str(e):
                raise BrokerError(f"cannot create topic {name}: {e}") from None


def topic_id_future(admin: AdminClient, topic: str, timeout: float = 10.0) -> Future[str]:
    """The topic id (KIP-516) of `topic`, asked without waiting: a future of its text.

    The id changes when the topic is recreated (an in-memory broker restarted empty). The
    future fails with KafkaException (UNKNOWN_TOPIC_OR_PART: no such topic; _TIMED_OUT:
    no broker answered within `timeout`)."""
    out: Future[str] = Future()

    def done(f: Future) -> None:  # type: ignore[type-arg]
        try:
            out.set_result(str(f.result().topic_id))
        except Exception as e:  # noqa: BLE001 (handed to the caller)
            out.set_exception(e)

    admin.describe_topics(TopicCollection([topic]), request_timeout=timeout)[topic] \
        .add_done_callback(done)
    return out


def describe_topic_id(admin: AdminClient, topic: str, timeout: float = 10.0) -> str:
    """The topic id of `topic`, waiting at most `timeout` (see `topic_id_future`)."""
    return topic_id_future(admin, topic, timeout).result(timeout + 1.0)
