"""The ClickHouse sink: a confluent-kafka batch consumer that inserts, then commits.

Topics: pos.events, pos.receipts, pos.incidents and pos.frauds into their tables.

Shape (STYLE.md, Quix Streams' checkpoint order): consume a batch -> decode (bad bytes ->
pos.deadletter) -> one INSERT per topic with a dedup token -> commit exactly the offsets of
that batch. Events are checked by decoding them; chDB stores them from their raw JSON, which
it parses outside the GIL (`insert_consumed_events`); their INSERT runs in a second thread while the next
batch is fetched and decoded, and the batch is committed once it is stored. Exactly once
per event:
- every event row records its Kafka topic id, partition and offset; when partitions are
  assigned the sink seeks past the highest offset already stored for that topic incarnation,
  so a crash between INSERT and commit does not write the batch twice (an INSERT in flight
  lands before partitions are given up);
- the INSERT carries `insert_deduplication_token = topic:partition:first-last:...` (each
  partition's range), so a retried INSERT whose first attempt did land is dropped by
  ClickHouse;
- a topic that was recreated (an in-memory broker restarted) has a new topic id, so old
  offsets never hide new events.
- an adapter that replays its spool after a broker hiccup can publish an event twice (same
  event id, new offset): the sink remembers the ids of the last `dedup_window` events of each
  partition (reloaded from the store on assignment) and drops such repeats;
- an adapter's replays (its spool, or its journal after the broker lost its log) carry the
  `posguard-replay` header; their first copy may be stored under an older topic id, which
  the memory above does not cover, so for a batch holding such records the sink asks the
  store which of their event ids it holds (one query over their hour buckets) and drops those;
- a Faust worker restarted after a crash resends the receipts and incidents of events it
  had already folded in (at least once): receipts and incidents whose id is stored are
  dropped (one indexed lookup per batch; these topics carry far fewer rows than events).
Store down -> pause the partitions, back off and retry the same batch; never drop it. A
rebalance meanwhile waits for that batch to land before partitions go (else their next
owner, resuming from the offsets stored, writes it too); batches taken but not yet written
drop the records of revoked partitions.
"""

from __future__ import annotations

import base64
import contextlib
import functools
import gc
import logging
import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

from confluent_kafka import OFFSET_INVALID, Consumer, KafkaError, Message, Producer, TopicPartition
from confluent_kafka.admin import AdminClient

from posguard.model.codec import (
    decode_event,
    decode_fraud,
    decode_incident,
    decode_receipt,
    encode_json,
)
from posguard.model.errors import DecodeError
from posguard.model.events import PosEvent
from posguard.store.backends.base import Backend
from posguard.store.errors import StoreError
from posguard.store.writer import (
    insert_consumed_events,
    insert_frauds,
    insert_incidents,
    insert_receipts,
    new_incidents,
    new_receipts,
    recent_event_ids,
    stored_event_ids,
    stored_offsets,
)
from posguard.streams.topics import PRODUCER_DEFAULTS, REPLAY_HEADER, Topics, describe_topic_id

__all__ = ["ClickHouseSink", "SinkStats", "DEFAULT_BATCH"]

log = logging.getLogger(__name__)


@dataclass
class SinkStats:
    """Counters the node exposes as metrics."""

    events: int = 0
    receipts: int = 0
    incidents: int = 0
    frauds: int = 0
    rejected: int = 0
    batches: int = 0
    retries: int = 0
    last_batch_seconds: float = 0.0
    assigned: int = 0
    duplicates_dropped: int = 0
    replays_dropped: int = 0  # replayed events (header posguard-replay) found stored already
    lag: dict[str, int] = field(default_factory=dict)


# Records per batch (the node's `sink_batch`): chDB writes one part per INSERT, so bigger
# blocks cost it less per row; 50,000 gave the rate of 100,000 for 0.35 GB less peak RSS
# (bench/README.md).
DEFAULT_BATCH = 50_000


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """Pause Python's cycle collector while a batch is fetched and decoded. Each of the
    batch's tens of thousands of records is a tracked object that lives until decoded, so
    the collector would promote them all and run full collections over the whole heap: a
    third of the decoding thread's time (py-spy, bench_pipeline). They hold no cycles and
    are freed by reference counting. The pause is process-wide: the other threads' cyclic
    garbage waits for the end of the batch (at most `batch_wait` plus a decode), when the
    first allocation runs the collection the pause deferred."""
    if not gc.isenabled():  # someone else chose to run without it
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def _batch_token(topic: str, records: Iterable[tuple[int, int]]) -> str:
    """The INSERT's deduplication token for (partition, offset) `records`: the offset range
    of each partition (a retry of the same batch carries the same token; ClickHouse drops it
    if it landed)."""
    first: dict[int, int] = {}
    last: dict[int, int] = {}
    for p, o in records:
        first.setdefault(p, o)
        last[p] = o
    return ":".join([topic, *(f"{p}:{first[p]}-{last[p]}" for p in sorted(first))])


def _replayed(m: Message) -> bool:
    """The record carries the ingest publisher's replay header."""
    return any(k == REPLAY_HEADER for k, _ in m.headers() or ())


@dataclass
class _EventRows:
    """A batch's events to store: each decoded (to check it), its raw JSON (what is stored),
    partition and offset; `replayed` are those sent again by an adapter."""

    token: str
    good: list[PosEvent] = field(default_factory=list)
    raws: list[bytes] = field(default_factory=list)
    parts: list[int] = field(default_factory=list)
    offsets: list[int] = field(default_factory=list)
    replayed: list[PosEvent] = field(default_factory=list)

    def add(self, ev: PosEvent, raw: bytes, part: int, offset: int) -> None:
        self.good.append(ev)
        self.raws.append(raw)
        self.parts.append(part)
        self.offsets.append(offset)


@dataclass
class _Batch:
    """One consumed batch on its way to the store: the other topics' records, the events,
    the offsets to commit once all is stored, and the events insert while it runs."""

    started: float
    by_topic: dict[str, list[Message]] = field(default_factory=lambda: defaultdict(list))
    commits: list[TopicPartition] = field(default_factory=list)
    events: _EventRows | None = None
    insert: Callable[[], None] | None = None
    inserting: Future[None] | None = None


class RecentIds:
    """The ids of the last `capacity` events seen on one partition (FIFO)."""

    def __init__(self, capacity: int, ids: list[str] | None = None):
        self.capacity = capacity
        self._order: deque[str] = deque()
        self._set: set[str] = set()
        for i in ids or ():
            self.add(i)

    def __contains__(self, event_id: str) -> bool:
        return event_id in self._set

    def add(self, event_id: str) -> None:
        if event_id in self._set:
            return
        self._order.append(event_id)
        self._set.add(event_id)
        if len(self._order) > self.capacity:
            self._set.discard(self._order.popleft())


class ClickHouseSink:
    """Consume pos.events, pos.receipts and pos.incidents into ClickHouse.

    Args:
        bootstrap: Kafka bootstrap servers.
        topics: topic names.
        backend: the store to write to.
        group: consumer group (one per deployment; scale by running more sinks in it).
        batch_size: most messages per batch.
        batch_wait: seconds to wait for a batch to fill.
        consumer_config: extra confluent-kafka settings (TLS/SASL, timeouts).
    """

    def __init__(self, bootstrap: str, topics: Topics, backend: Backend,
                 group: str = "posguard.sink", batch_size: int = DEFAULT_BATCH,
                 batch_wait: float = 0.2, consumer_config: dict[str, object] | None = None,
                 clock: Callable[[], float] = time.monotonic, dedup_window: int = 100_000):
        self.topics = topics
        self.backend = backend
        self.batch_size = batch_size
        self.batch_wait = batch_wait
        self.stats = SinkStats()
        self._clock = clock
        self._stop = threading.Event()
        self._bootstrap = bootstrap
        extra = dict(consumer_config or {})
        self._consumer = Consumer({
            "bootstrap.servers": bootstrap,
            "group.id": group,
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
            "partition.assignment.strategy": "cooperative-sticky",
            "max.poll.interval.ms": 600_000,
            # once its prefetch queue is full librdkafka waits this long before fetching again
            # (default 1 s): a sink that drains the queue a batch at a time then waits idle;
            # a bare consume loop here takes 0.85-1.1M msg/s with 10 ms, 0.22M without
            "fetch.queue.backoff.ms": 10,
            "log_level": 3,
            **extra,
        })
        security = {k: v for k, v in extra.items() if k.startswith(("security", "sasl", "ssl"))}
        self._deadletter = Producer({"bootstrap.servers": bootstrap, **PRODUCER_DEFAULTS,
                                     "log_level": 3, **security})
        self._admin_conf = {"bootstrap.servers": bootstrap, **security}
        self._topic_ids: dict[str, str] = {}
        self.dedup_window = dedup_window
        self._recent: dict[int, RecentIds] = {}
        self._owned: set[tuple[str, int]] = set()  # the assignment, kept by the callbacks
        self._retrying: Callable[[], object] | None = None  # a write waiting for the store
        self._pending: _Batch | None = None  # its events insert runs in the inserter
        self._inserter = ThreadPoolExecutor(1, thread_name_prefix="sink-insert")

    # -- partition assignment: resume after what the store already holds ----------------
    def _topic_id(self, topic: str) -> str:
        if topic not in self._topic_ids:
            self._topic_ids[topic] = describe_topic_id(AdminClient(self._admin_conf), topic)
        return self._topic_ids[topic]

    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        events = [p for p in partitions if p.topic == self.topics.events]
        if events:
            self._topic_ids.pop(self.topics.events, None)  # the topic may have been recreated
            stored = self._stored_with_retry([p.partition for p in events])
            committed = {(p.topic, p.partition): p.offset
                         for p in consumer.committed(events, timeout=10)}
            tid = self._topic_id(self.topics.events)
            for p in events:
                self._recent[p.partition] = RecentIds(self.dedup_window, self._recent_ids(
                    tid, p.partition, stored.get(p.partition, -1)))
                if p.partition in stored:
                    resume = stored[p.partition] + 1
                    c = committed.get((p.topic, p.partition), OFFSET_INVALID)
                    p.offset = max(resume, c) if c >= 0 else resume
        consumer.incremental_assign(partitions)
        self._owned |= {(p.topic, p.partition) for p in partitions}
        self.stats.assigned += len(partitions)
        log.info("sink assigned %s", [(p.topic, p.partition, p.offset) for p in partitions])

    def _recent_ids(self, tid: str, partition: int, last: int) -> list[str]:
        if last < 0:
            return []
        try:
            return recent_event_ids(self.backend, tid, partition, last, self.dedup_window)
        except StoreError as e:  # the ReplacingMergeTree key stays the backstop
            log.warning("cannot load recent event ids of partition %d: %s", partition, e)
            return []

    def _stored_with_retry(self, partitions: list[int]) -> dict[int, int]:
        delay = 0.5
        while True:
            try:
                return stored_offsets(self.backend, self._topic_id(self.topics.events), partitions)
            except StoreError as e:
                log.warning("store unavailable at assignment (%s); retrying in %.1fs", e, delay)
                if self._stop.wait(delay):
                    return {}
                delay = min(delay * 2, 10)

    def _on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        # What is being written lands before the partitions go, so that their next owner
        # resumes after the offsets stored: a write waiting out a store outage (this is
        # then its poll) and the insert in flight. Batches taken but not begun drop their
        # records of these partitions (`_keep_owned`); the next owner reads them.
        write, self._retrying = self._retrying, None
        if write is not None:
            self._with_retry(write, pump=False)
        self._complete(pump=False)
        self._owned -= {(p.topic, p.partition) for p in partitions}
        consumer.incremental_unassign(partitions)
        self.stats.assigned -= len(partitions)

    # -- the loop -----------------------------------------------------------------------
    def run(self) -> None:
        """Run until `stop()`; blocks the calling thread."""
        c = self._consumer
        c.subscribe([self.topics.events, self.topics.receipts, self.topics.incidents,
                     self.topics.frauds],
                    on_assign=self._on_assign, on_revoke=self._on_revoke)
        try:
            while not self._stop.is_set():
                # the next batch is fetched and decoded while the last one's events insert
                # (chDB and the HTTP client release the GIL); on 2 cores +5-10 %, as chDB
                # uses both for the insert itself (bench/README.md)
                with _collector_paused():
                    msgs = c.consume(self.batch_size, self.batch_wait)
                    batch = self._prepare(msgs) if msgs else None
                    del msgs  # the events' records are freed here: their rows keep the bytes
                self._complete()
                if batch is not None:
                    self._begin(batch)
            self._complete()
        finally:
            self._inserter.shutdown(wait=True)
            c.close()
            self._deadletter.flush(10)

    def stop(self) -> None:
        self._stop.set()

    def _prepare(self, msgs: list[Message]) -> _Batch:
        """Group a fetched batch by topic and decode its events (no store I/O)."""
        batch = _Batch(self._clock())
        for m in msgs:
            err = m.error()
            if err is not None:
                if err.code() != KafkaError._PARTITION_EOF:
                    log.warning("consume error: %s", err)
                continue
            batch.by_topic[m.topic()].append(m)
        for topic, ms in batch.by_topic.items():
            last = {m.partition(): m.offset() for m in ms}  # offsets rise within a partition
            batch.commits += [TopicPartition(topic, p, o + 1) for p, o in last.items()]
        events = batch.by_topic.pop(self.topics.events, None)
        if events:
            batch.events = self._decode_events(events)
        return batch

    def _begin(self, batch: _Batch) -> None:
        """Write the other topics, then start the events insert in the inserter thread."""
        for topic, ms in batch.by_topic.items():
            self._keep_owned(batch)  # a write waiting for the store polls through rebalances
            if ms:
                self._with_retry(lambda topic=topic, ms=ms: self._write(topic, ms))
        self._keep_owned(batch)
        rows = batch.events
        if rows is not None and rows.replayed:
            self._with_retry(lambda: self._drop_stored(rows))
        if rows is not None and rows.raws:
            batch.insert = functools.partial(self._insert_events, rows,
                                             self._topic_id(self.topics.events))
            batch.inserting = self._inserter.submit(batch.insert)
        self._pending = batch

    def _complete(self, pump: bool = True) -> None:
        """Wait for the pending batch's events insert (retrying it here if it failed), then
        commit the batch's offsets."""
        batch, self._pending = self._pending, None
        if batch is None:
            return
        if batch.inserting is not None:
            try:
                batch.inserting.result()
            except StoreError:
                self.stats.retries += 1
                self._with_retry(batch.insert, pump=pump)
        self._deadletter.poll(0)
        commits = [tp for tp in batch.commits if (tp.topic, tp.partition) in self._owned]
        if commits and not self._stop.is_set():
            try:  # asynchronous: the offsets stored with the rows are what resumes exactly
                self._consumer.commit(offsets=commits, asynchronous=True)
            except Exception as e:  # a rebalance during commit: the store offsets still guard
                log.warning("offset commit failed (%s); stored offsets guard the replay", e)
        self.stats.batches += 1
        self.stats.last_batch_seconds = self._clock() - batch.started

    def _with_retry(self, write: Callable[[], object], pump: bool = True) -> None:
        """Run `write` until the store takes it: pause the partitions, back off 0.5 s doubling
        to 30 s. `pump` keeps polling the (paused) consumer meanwhile, so the group stays
        joined and rebalances are served (a revocation finishes the write itself, see
        `_on_revoke`); not from inside a rebalance callback."""
        delay = 0.5
        paused = False
        while True:
            try:
                write()
                break
            except StoreError as e:
                self.stats.retries += 1
                if not paused:
                    self._consumer.pause(self._consumer.assignment())
                    paused = True
                log.warning("insert into ClickHouse failed (%s); retry in %.1fs", e, delay)
                deadline = self._clock() + delay
                if pump:
                    self._retrying = write
                while self._clock() < deadline and not self._stop.is_set():
                    if pump:
                        self._poll_paused(min(0.5, delay))
                        if self._retrying is None:  # a revocation finished the write
                            break
                    else:
                        self._stop.wait(min(0.5, delay))
                if pump and self._retrying is None:
                    break
                self._retrying = None
                if self._stop.is_set():
                    raise SystemExit("sink stopping with an unwritten batch (it will replay)") from None
                delay = min(delay * 2, 30)
        if paused:
            self._consumer.resume(self._consumer.assignment())

    def _poll_paused(self, timeout: float) -> None:
        """Poll while paused (keeps the group alive, serves rebalances). A partition assigned
        meanwhile is not paused: its records are given back (seek) and it is paused too."""
        for m in self._consumer.consume(1, timeout):
            if m.error() is None:
                tp = TopicPartition(m.topic(), m.partition(), m.offset())
                self._consumer.seek(tp)
                self._consumer.pause([tp])

    def _keep_owned(self, batch: _Batch) -> None:
        """Drop from a batch not yet written the records of partitions revoked since it was
        taken (their next owner reads them from the offsets stored)."""
        if all((tp.topic, tp.partition) in self._owned for tp in batch.commits):
            return
        batch.commits = [tp for tp in batch.commits if (tp.topic, tp.partition) in self._owned]
        for topic, ms in batch.by_topic.items():
            ms[:] = [m for m in ms if (topic, m.partition()) in self._owned]
        rows = batch.events
        if rows is not None:
            keep = [i for i, p in enumerate(rows.parts)
                    if (self.topics.events, p) in self._owned]
            for column in (rows.good, rows.raws, rows.parts, rows.offsets):
                column[:] = [column[i] for i in keep]
            owned = {ev.event_id for ev in rows.good}
            rows.replayed = [ev for ev in rows.replayed if ev.event_id in owned]
            rows.token = _batch_token(self.topics.events,
                                      zip(rows.parts, rows.offsets, strict=True))

    def _insert_events(self, rows: _EventRows, topic_id: str) -> None:
        insert_consumed_events(self.backend, rows.good, rows.raws, topic_id=topic_id,
                               partitions=rows.parts, offsets=rows.offsets,
                               dedup_token=rows.token)
        self.stats.events += len(rows.raws)  # only here: the inserter's count

    def _decode_events(self, ms: list[Message]) -> _EventRows:
        """Check each record (bad bytes -> pos.deadletter), drop the ids seen in the last
        `dedup_window` events of its partition, keep the raw JSON of the rest to store."""
        rows = _EventRows(_batch_token(self.topics.events,
                                       ((m.partition(), m.offset()) for m in ms)))
        seen_now: set[str] = set()
        for m in ms:
            raw = m.value() or b""
            try:
                ev = decode_event(raw)
            except DecodeError as e:
                self._reject(m, str(e))
                continue
            part = m.partition()
            recent = self._recent.get(part)
            if recent is None:
                recent = self._recent[part] = RecentIds(self.dedup_window)
            if ev.event_id and (ev.event_id in recent or ev.event_id in seen_now):
                self.stats.duplicates_dropped += 1
                continue
            seen_now.add(ev.event_id)
            rows.add(ev, raw, part, m.offset())
            if m.headers() and ev.event_id and _replayed(m):
                rows.replayed.append(ev)
        # remembered now, before the insert: a batch is retried until it is stored (or the
        # sink stops, and this memory with it), and the next batch is decoded meanwhile
        for ev, part in zip(rows.good, rows.parts, strict=True):
            self._recent[part].add(ev.event_id)
        return rows

    def _write(self, topic: str, ms: list[Message]) -> None:
        """Write the receipts, incidents or frauds of a batch as one INSERT."""
        token = _batch_token(topic, ((m.partition(), m.offset()) for m in ms))
        if topic == self.topics.receipts:
            receipts = []
            for m in ms:
                try:
                    receipts.append(decode_receipt(m.value() or b""))
                except DecodeError as e:
                    self._reject(m, str(e))
            fresh = new_receipts(self.backend, receipts)  # a worker may resend after a crash
            self.stats.duplicates_dropped += len(receipts) - len(fresh)
            insert_receipts(self.backend, fresh, dedup_token=token)
            self.stats.receipts += len(fresh)
        elif topic == self.topics.incidents:
            incidents = []
            for m in ms:
                try:
                    incidents.append(decode_incident(m.value() or b""))
                except DecodeError as e:
                    self._reject(m, str(e))
            fresh_incidents = new_incidents(self.backend, incidents)
            self.stats.duplicates_dropped += len(incidents) - len(fresh_incidents)
            insert_incidents(self.backend, fresh_incidents, dedup_token=token)
            self.stats.incidents += len(fresh_incidents)
        elif topic == self.topics.frauds:
            frauds = []
            for m in ms:
                try:
                    frauds.append(decode_fraud(m.value() or b""))
                except DecodeError as e:
                    self._reject(m, str(e))
            insert_frauds(self.backend, frauds, dedup_token=token)
            self.stats.frauds += len(frauds)

    def _drop_stored(self, rows: _EventRows) -> None:
        """Remove from `rows` the replayed events whose id is stored, under any topic id: a
        broker that lost its log has a new one (raises StoreError)."""
        known = stored_event_ids(self.backend, rows.replayed)
        rows.replayed = []  # asked once: a retry of the insert need not ask again
        if not known:
            return
        keep = [i for i, ev in enumerate(rows.good) if ev.event_id not in known]
        self.stats.duplicates_dropped += len(rows.good) - len(keep)
        self.stats.replays_dropped += len(rows.good) - len(keep)
        for column in (rows.good, rows.raws, rows.parts, rows.offsets):
            column[:] = [column[i] for i in keep]

    def _reject(self, m: Message, reason: str) -> None:
        self.stats.rejected += 1
        raw = (m.value() or b"")[:65536]
        doc = {"source": f"{m.topic()}:{m.partition()}:{m.offset()}", "reason": reason,
               "raw_b64": base64.b64encode(raw).decode(), "ts": int(time.time() * 1e6)}
        self._deadletter.produce(self.topics.deadletter, key=m.key(), value=encode_json(doc))
