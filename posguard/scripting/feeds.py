"""A script's Kafka feed: one confluent-kafka consumer per script, group
`posguard.script.<name>`, reading pos.events and/or pos.incidents "from now on".

"From now on": the first time this consumer is given a partition, it starts at the
partition's end as the broker reports it when the subscription is made (the committed offset
of an earlier run is ignored: events that arrived while the script was not running are not
replayed; scripts use search_pos_events for the past). Later rebalances within the same run
resume from the group's committed offsets, so a script host restarted elsewhere in cluster
mode continues where the group left off. Offsets are committed automatically.

Decoded values are handed to `deliver(batch)`, which must not block (the script's
worker queue drops its oldest item when full).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from typing import Any

from confluent_kafka import OFFSET_END, Consumer, KafkaError, KafkaException, TopicPartition

from posguard.model.codec import decode_event, decode_incident
from posguard.model.errors import DecodeError

__all__ = ["ScriptFeed"]

log = logging.getLogger(__name__)

_BATCH = 500  # messages per consume() call: fewer Python round trips per event


class ScriptFeed:
    """The consumer thread of one script.

    Args:
        bootstrap: Kafka bootstrap servers.
        group: consumer group id (`posguard.script.<name>`).
        events_topic, incidents_topic: the topic names.
        deliver: called with a list of ("event", PosEvent) / ("incident", Incident) in
            partition order; must not block.
        config: extra consumer settings (session timeout, security, ...).
        on_problem: told (from the feed's thread) when the consumer failed and is retried.
    """

    def __init__(self, bootstrap: str, group: str, events_topic: str, incidents_topic: str,
                 deliver: Callable[[list[tuple[str, Any]]], None],
                 config: Mapping[str, Any] | None = None,
                 on_problem: Callable[[str], None] | None = None):
        self.group = group
        self.decode_errors = 0
        self.restarts = 0
        self._on_problem = on_problem
        self._events_topic = events_topic
        self._incidents_topic = incidents_topic
        self._deliver = deliver
        self._conf: dict[str, Any] = {
            "bootstrap.servers": bootstrap,
            "group.id": group,
            "enable.auto.commit": True,
            "auto.offset.reset": "latest",
            "log_level": 3,
            "logger": logging.getLogger("posguard.scripting.kafka"),
            **(config or {}),
        }
        self._wanted: set[str] = set()
        self._subscribed: frozenset[str] = frozenset()
        self._seen: set[tuple[str, int]] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._thread: threading.Thread | None = None
        self.error: str = ""

    def want(self, kind: str) -> None:
        """Subscribe to "events" or "incidents" (idempotent); starts the thread when needed."""
        topic = self._events_topic if kind == "events" else self._incidents_topic
        with self._lock:
            if topic in self._wanted:
                return
            self._wanted.add(topic)
            self._ready.clear()
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name=f"feed:{self.group}",
                                                daemon=True)
                self._thread.start()

    def wait_ready(self, timeout: float) -> bool:
        """Wait until every wanted topic is assigned and positioned (True) or timeout."""
        return self._ready.wait(timeout)

    @property
    def ready(self) -> bool:
        return self._ready.is_set()

    def stop(self) -> None:
        """Stop consuming and leave the group."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(15)

    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        out = []
        for tp in partitions:
            key = (tp.topic, tp.partition)
            if key not in self._seen:
                self._seen.add(key)
                try:
                    _, high = consumer.get_watermark_offsets(tp, timeout=10, cached=False)
                    tp = TopicPartition(tp.topic, tp.partition, max(0, high))
                except KafkaException as e:  # let the consumer find the end itself
                    log.warning("script feed %s: end of %s[%d] unknown (%s); starting at "
                                "the latest offset", self.group, tp.topic, tp.partition, e)
                    tp = TopicPartition(tp.topic, tp.partition, OFFSET_END)
            out.append(tp)
        consumer.assign(out)
        # Ready once this member holds partitions of every subscribed topic (always so for
        # the only member of its group; tests wait for it before producing).
        if self._subscribed and self._subscribed <= {tp.topic for tp in out}:
            self._ready.set()

    def _run(self) -> None:
        # A consumer that fails is closed and made again (with back-off) until stop: a
        # script's subscription outlives a broker restart. Partitions already seen resume
        # from the group's committed offsets.
        backoff = 0.5
        while not self._stop.is_set():
            try:
                self._consume()
                return
            except Exception as e:  # noqa: BLE001 - reported; retried
                self.error = f"{type(e).__name__}: {e}"
                self.restarts += 1
                log.error("script feed %s failed (%s); retrying in %.1f s", self.group,
                          self.error, backoff)
                if self._on_problem is not None:
                    self._on_problem(f"event feed failed ({self.error}); retrying")
                self._subscribed = frozenset()
                self._stop.wait(backoff)
                backoff = min(backoff * 2, 30.0)

    def _consume(self) -> None:
        consumer = Consumer(self._conf)
        try:
            while not self._stop.is_set():
                with self._lock:
                    wanted = frozenset(self._wanted)
                if wanted != self._subscribed:
                    self._subscribed = wanted
                    consumer.subscribe(sorted(wanted), on_assign=self._on_assign)
                batch = []
                for msg in consumer.consume(_BATCH, 0.2):
                    err = msg.error()
                    if err is not None:
                        if err.fatal():
                            raise KafkaException(err)
                        if err.code() != KafkaError._PARTITION_EOF:
                            log.warning("script feed %s: %s", self.group, err)
                        continue
                    item = self._decode(msg.topic() or "", msg.value() or b"")
                    if item is not None:
                        batch.append(item)
                if batch:
                    self._deliver(batch)
        finally:
            consumer.close()

    def _decode(self, topic: str, value: bytes) -> tuple[str, Any] | None:
        try:
            if topic == self._events_topic:
                return ("event", decode_event(value))
            if topic == self._incidents_topic:
                return ("incident", decode_incident(value))
        except DecodeError as e:
            self.decode_errors += 1
            log.warning("script feed %s: skipped a bad message on %s: %s", self.group, topic, e)
        return None

