"""DurablePublisher: the ingest adapters' publisher. Nothing accepted is lost while the broker
is away: the local spool holds it and replays it, in order, when the broker is back.

Two modes:
- direct: events go straight to the producer (idempotent, acks=all). Only failed deliveries
  are reported back (cheap); a failure, a full local queue, "all brokers down" or a fatal
  producer error switches to spooling.
- spooling: the producer's queue is purged into the spool (the purge reports every message
  it drops, in order), and every new event is appended to the spool behind them. A thread
  probes the broker; when it answers, a fresh producer (a restarted broker may not know the
  old producer's idempotence state) replays the spool batch by batch, each batch confirmed
  before the spool's cursor moves past it. When the replay has caught up, with nothing left
  in the spool, publishing goes direct again.

So per terminal the order of events is kept: while anything is spooled, newer events queue
behind it. librdkafka does not report failed messages in produce order (queued messages time
out before older in-flight ones; a purge reports unsent requests, then sent ones, then the
queue), so the failed ones are sorted by produce sequence number before they enter the spool.
The messages of one `_send` call share one delivery callback (`_Batch`, no allocation per
message), which finds a failed message's sequence number from its place in the batch.

A double is possible only for a message the broker stored but did not confirm before it went
away (purged in flight, or a replay batch cut short); every event carries its event_id,
which the sink deduplicates on. Events still in the producer's memory when the
process is killed (normally milliseconds' worth) are the only ones a hard kill can lose;
`close()` spools them on a normal stop.

A broker's acknowledgement is not storage: an in-memory broker (the embedded Tansu) that
restarts empty loses what no sink had stored yet. So every record handed to the producer (and
every replayed one) is also written to the delivered-records journal (`ingest/journal.py`),
tagged with the topic id of pos.events, and kept for `replay_window` seconds. The id is
checked at start-up (a journal left by the last run: start spooling until the broker told
its id), before each spool replay (the broker came back) and every `topic_check_interval`
seconds in direct mode (the asking does not wait: the keeper looks at the answer on a later
tick). When it changed, the broker lost its log: the journal's records of the old id are
replayed (in order, before the spool and before anything new: the same rule as the spool)
with the `posguard-replay` header, on which the sink drops the events it already stored.

The spool may be capped (`spool_max_bytes`): while spooling with the spool file at or over
the cap, `publish*` refuse new input with SpoolFull, taking nothing of that call (the adapters
tell the sender and count it). What was accepted before is never refused: failed and purged
deliveries always go to the spool, and a call that starts below the cap is taken whole, so the
file can pass the cap by one call's worth plus what the producer held at the switch.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Future
from dataclasses import asdict, dataclass
from typing import Any

from confluent_kafka import KafkaError, KafkaException, Producer
from confluent_kafka.admin import AdminClient

from posguard.ingest.errors import SpoolFull
from posguard.ingest.journal import Journal
from posguard.ingest.publisher import kafka_log, producer_config
from posguard.ingest.rejects import Rejected, deadletter_value
from posguard.ingest.spool import Spool
from posguard.model.codec import encode
from posguard.model.events import PosEvent
from posguard.streams.errors import BrokerError
from posguard.streams.topics import (
    NO_TOPIC_ID,
    REPLAY_HEADER,
    Topics,
    describe_topic_id,
    topic_id_future,
)

__all__ = ["DurablePublisher", "PublisherStats"]

log = logging.getLogger(__name__)

DIRECT, SPOOLING = "direct", "spooling"
EVENTS, DEADLETTER = "events", "deadletter"
REPLAYED = [(REPLAY_HEADER, b"1")]


@dataclass
class PublisherStats:
    """Counters of a DurablePublisher (monotonic except the gauges at the end)."""

    sent: int = 0  # handed straight to the producer
    spooled: int = 0  # written to the spool (new events while spooling + failed/purged ones)
    replayed: int = 0  # delivered from the spool
    delivery_errors: int = 0
    degradations: int = 0  # switches from direct to spooling
    replay_failures: int = 0
    refused: int = 0  # publish calls refused because the spool was full
    journaled: int = 0  # written to the delivered-records journal
    log_losses_detected: int = 0  # times the topic id of pos.events changed
    replayed_after_log_loss: int = 0  # journal records delivered again after such a change
    spool_records: int = 0  # gauge: records waiting in the spool
    spool_bytes: int = 0  # gauge: size of the spool file
    spooling: int = 0  # gauge: 1 while spooling
    spool_full: int = 0  # gauge: 1 while new input is refused
    journal_bytes: int = 0  # gauge: size of the journal's segments


class _Session:
    """One producer instance and what it is used for ("live" or "replay")."""

    def __init__(self, producer: Producer, role: str):
        self.producer = producer
        self.role = role
        self.errors = 0
        self.seq = 0  # produce order of the live session's messages: the next one's number


class _Batch:
    """The delivery callback of the messages one `_send` call produced (live session).

    librdkafka reports only failures (delivery.report.only.error); a failed message's produce
    sequence number is `first` + its place in `items`, found by its bytes. Identical messages
    are interchangeable, so each report takes the earliest place not yet taken. The index is
    built at the first failure only: the normal path pays nothing per message.
    """

    __slots__ = ("first", "items", "index", "failed", "deadletter")

    def __init__(self, first: int, items: list[tuple[str, bytes, bytes]],
                 failed: Callable[[int, KafkaError | None, Any], None], deadletter: str):
        self.first, self.items, self.failed, self.deadletter = first, items, failed, deadletter
        self.index: dict[tuple[str, bytes, bytes], list[int]] | None = None

    def __call__(self, err: KafkaError | None, msg: Any) -> None:
        if self.index is None:
            index: dict[tuple[str, bytes, bytes], list[int]] = {}
            for i, item in enumerate(self.items):
                index.setdefault(item, []).append(i)
            for places in index.values():
                places.reverse()  # pop() gives the earliest
            self.index = index
        kind = DEADLETTER if msg.topic() == self.deadletter else EVENTS
        found = self.index.get((kind, msg.key() or b"", msg.value() or b""))
        at = found.pop() if found else len(self.items)  # not ours: after the batch
        self.failed(self.first + at, err, msg)


class DurablePublisher:
    """Publish events to pos.events (and rejects to pos.deadletter) through a local spool.

    Args:
        bootstrap: Kafka bootstrap servers.
        topics: topic names.
        spool: the spool (its folder survives restarts; a non-empty spool is replayed first).
        extra_config: producer settings of the deployment (override the defaults).
        message_timeout: seconds a message may wait for the broker before it is spooled.
        fsync_interval: group-commit period of the spool, seconds.
        probe_interval: first retry delay when the broker is away (doubles up to 10 s).
        replay_batch_bytes: spool bytes replayed per confirmed batch.
        spool_max_bytes: spool file size above which new input is refused while spooling
            (0: no limit).
        replay_window: seconds the journal keeps a delivered record (0: no journal).
        replay_max_bytes: most bytes the journal keeps (0: no limit).
        topic_check_interval: seconds between two checks of pos.events' topic id.

    Call `start()` before publishing and `close()` at the end.
    """

    def __init__(self, bootstrap: str, topics: Topics, spool: Spool,
                 extra_config: dict[str, Any] | None = None, *, message_timeout: float = 30.0,
                 fsync_interval: float = 0.05, probe_interval: float = 0.5,
                 replay_batch_bytes: int = 1024 * 1024, spool_max_bytes: int = 0,
                 replay_window: float = 300.0, replay_max_bytes: int = 1024**3,
                 topic_check_interval: float = 5.0):
        self.bootstrap, self.topics, self.spool = bootstrap, topics, spool
        self.extra_config = dict(extra_config or {})
        self.message_timeout = message_timeout
        self.fsync_interval = fsync_interval
        self.probe_interval = probe_interval
        self.replay_batch_bytes = replay_batch_bytes
        self.spool_max_bytes = spool_max_bytes
        self.stats = PublisherStats()
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._live: _Session | None = None
        self._replay: _Session | None = None
        self._retired: list[_Session] = []
        self._need_degrade = ""
        self._failed: list[tuple[int, str, bytes, bytes]] = []  # (seq, kind, key, value)
        self._topic = {EVENTS: topics.events, DEADLETTER: topics.deadletter}
        self._keys: dict[str, bytes] = {}  # terminal -> key bytes
        self.journal = Journal(spool.path.with_suffix(".journal"), replay_window,
                               replay_max_bytes) if replay_window > 0 else None
        self.topic_check_interval = topic_check_interval
        self._confirmed_at = 0.0  # wall clock of the last check that found the journal's id
        self._admin: AdminClient | None = None
        self._check: Future[str] | None = None
        self._next_check = 0.0
        self._journal_pending = 0  # journal records waiting to be replayed
        self._journal_pos: dict[int, int] = {}  # segment seq -> bytes replayed (this run)
        self._waiting_for_topic = False
        j = self.journal
        if j is not None and j.pending():
            self._journal_pending = j.pending_records()
            log.info("journal %s: %d records of an unfinished replay are sent first",
                     j.folder, self._journal_pending)
        if spool.empty and not (j is not None and j.holds_records):
            self._mode = DIRECT
            self._live = self._session("live")
        else:
            # Spooling until the broker answers: its topic id decides whether the journal of
            # the last run must be replayed before anything new goes out.
            self._mode = SPOOLING
            if not spool.empty:
                log.info("spool %s holds %d messages from before: replaying them first",
                         spool.path, spool.records)

    # -- producers -------------------------------------------------------------------------

    def _session(self, role: str) -> _Session:
        holder: list[_Session] = []
        conf = producer_config(
            self.bootstrap, self.extra_config,
            **{"message.timeout.ms": int(self.message_timeout * 1000),
               "delivery.report.only.error": True,
               "on_delivery": lambda err, msg: self._delivered(holder[0], err, msg),
               "error_cb": self._error})
        try:
            s = _Session(Producer(conf), role)
        except KafkaException as e:
            raise BrokerError(f"cannot create a Kafka producer for {self.bootstrap}: {e}") \
                from None
        holder.append(s)
        return s

    def _delivered(self, session: _Session, err: KafkaError, msg: Any) -> None:
        # A replay message failed (the live session's carry their sequence: _failed_live).
        self.stats.delivery_errors += 1
        session.errors += 1

    def _failed_live(self, seq: int, err: KafkaError | None, msg: Any) -> None:
        # Runs inside poll()/flush()/purge, which are only called with the lock held. Held
        # back, not spooled: the spool gets them sorted by produce order in _spool_failed.
        self.stats.delivery_errors += 1
        kind = DEADLETTER if msg.topic() == self.topics.deadletter else EVENTS
        self._failed.append((seq, kind, msg.key() or b"", msg.value() or b""))
        if not self._need_degrade:
            self._need_degrade = f"delivery failed: {err.str() if err else 'unknown error'}"

    def _spool_failed(self) -> None:
        """Append the held failed messages to the spool in produce order (lock held)."""
        if self._failed:
            self._failed.sort(key=lambda f: f[0])
            for _, kind, key, value in self._failed:
                self.spool.append(kind, key, value)
            self.stats.spooled += len(self._failed)
            self._failed.clear()

    def _error(self, err: KafkaError) -> None:
        if err.code() == KafkaError._ALL_BROKERS_DOWN or err.fatal():
            if self._mode == DIRECT and not self._need_degrade:
                self._need_degrade = err.str()

    def _degrade(self, reason: str) -> None:
        """Switch to spooling: purge the live producer's queue into the spool (lock held)."""
        self._need_degrade = ""
        if self._mode != DIRECT:
            return
        self._mode = SPOOLING
        self.stats.degradations += 1
        log.warning("Kafka unavailable (%s): spooling events to %s until it is back",
                    reason, self.spool.path)
        s, self._live = self._live, None
        if s is not None:
            self._drain_purged(s)
        self._spool_failed()

    def _drain_purged(self, s: _Session) -> None:
        s.producer.purge(in_queue=True, in_flight=True, blocking=True)
        deadline = time.monotonic() + 1.0
        while len(s.producer) and time.monotonic() < deadline:
            s.producer.poll(0.01)
        if len(s.producer):
            self._retired.append(s)

    # -- publishing ------------------------------------------------------------------------

    def _send(self, items: Iterable[tuple[str, bytes, bytes]]) -> int:
        n = sent = 0
        with self._lock:
            if self._need_degrade:
                self._degrade(self._need_degrade)
            if self.full:
                self.stats.refused += 1
                raise SpoolFull(f"the spool {self.spool.path} holds {self.spool.end} bytes "
                                f"(limit {self.spool_max_bytes}) while Kafka is unreachable")
            topic = self._topic
            live = self._live
            produce = live.producer.produce if live is not None else None
            if live is not None:
                items = list(items)
                batch = _Batch(live.seq, items, self._failed_live, self.topics.deadletter)
                live.seq += len(items)
            for kind, key, value in items:
                n += 1
                if produce is not None:
                    try:
                        produce(topic[kind], value, key, on_delivery=batch)
                        sent += 1
                        continue
                    except BufferError:
                        self._degrade("the local producer queue is full")
                    except KafkaException as e:
                        self._degrade(f"produce failed: {e}")
                    produce = None  # spooling from now on (the lock is held: no switch back)
                self.spool.append(kind, key, value)
                self.stats.spooled += 1
            self.stats.sent += sent
            if sent and self.journal is not None:
                self.journal.append(items if sent == len(items) else items[:sent])  # type: ignore[index]
                self.stats.journaled += sent
        return n

    def publish(self, ev: PosEvent) -> None:
        """Publish one event (asynchronous; durable against broker outages)."""
        self._send(((EVENTS, ev.pos_terminal.encode(), encode(ev)),))

    def publish_raw(self, terminal: str, value: bytes) -> None:
        """Publish one already-encoded event."""
        self._send(((EVENTS, terminal.encode(), value),))

    def publish_many(self, events: Iterable[PosEvent]) -> int:
        """Publish events in order; returns how many.

        Raises:
            SpoolFull: the spool is at its cap; none of `events` was taken.
        """
        keys = self._keys
        return self._send((EVENTS, keys.get(ev.pos_terminal) or self._key(ev.pos_terminal),
                           encode(ev)) for ev in events)

    def _key(self, terminal: str) -> bytes:
        key = terminal.encode()
        if len(self._keys) < 100_000:
            self._keys[terminal] = key
        return key

    def publish_deadletter(self, r: Rejected) -> None:
        """Send a rejected piece to pos.deadletter (spooled like events when needed; refused
        with SpoolFull like events when the spool is full)."""
        self._send(((DEADLETTER, r.terminal.encode(), deadletter_value(r)),))

    def publish_rejects(self, rejects: Iterable[Rejected]) -> int:
        """Send several rejected pieces to pos.deadletter."""
        return self._send((DEADLETTER, r.terminal.encode(), deadletter_value(r))
                          for r in rejects)

    @property
    def full(self) -> bool:
        """True while new input is refused: spooling, with the spool at or over its cap."""
        return (self._mode == SPOOLING and self.spool_max_bytes > 0
                and self.spool.end >= self.spool_max_bytes)

    @property
    def mode(self) -> str:
        """"direct" or "spooling"."""
        return self._mode

    def flush(self, timeout: float = 30.0) -> int:
        """Wait until everything handed over is delivered (replay included), at most
        `timeout` seconds; returns how many messages are still waiting (spooled ones too)."""
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                waiting = self.spool.records + self._journal_pending
                if self._mode == DIRECT and self._live is not None:
                    waiting += self._live.producer.flush(
                        max(0.0, min(0.1, deadline - time.monotonic())))
                    if self._need_degrade:
                        self._degrade(self._need_degrade)
                        waiting = self.spool.records
                elif self._replay is not None:
                    waiting += len(self._replay.producer)
            if waiting == 0 or time.monotonic() >= deadline:
                return int(waiting)
            time.sleep(0.02)

    def snapshot(self) -> dict[str, int]:
        """The counters, flat (for metrics)."""
        self.stats.spool_records = self.spool.records
        self.stats.spool_bytes = self.spool.end
        self.stats.spooling = int(self._mode == SPOOLING)
        self.stats.spool_full = int(self.full)
        self.stats.journal_bytes = self.journal.bytes if self.journal is not None else 0
        return asdict(self.stats)

    # -- the keeper thread -----------------------------------------------------------------

    def start(self) -> DurablePublisher:
        """Start the thread that serves delivery reports, syncs the spool and replays it."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="posguard-publisher",
                                            daemon=True)
            self._thread.start()
        return self

    def _run(self) -> None:
        tick = min(self.fsync_interval, 0.05)
        backoff = self.probe_interval
        next_probe = 0.0
        while not self._stop.wait(tick):
            try:
                self._tend()
                if self._mode == DIRECT and self.journal is not None:
                    self._check_topic()
                if self._mode == SPOOLING and time.monotonic() >= next_probe:
                    if self._replay_spool():
                        backoff = self.probe_interval
                    else:
                        next_probe = time.monotonic() + backoff
                        backoff = min(backoff * 2, 10.0)
            except Exception:  # the keeper must not die: log, wait, carry on
                log.exception("publisher keeper error")
                self._stop.wait(1.0)

    def _tend(self) -> None:
        with self._lock:
            if self._live is not None:
                self._live.producer.poll(0)
            for s in list(self._retired):
                s.producer.poll(0)
                if not len(s.producer):
                    self._retired.remove(s)
            if self._need_degrade:
                self._degrade(self._need_degrade)
            elif self._mode == SPOOLING:
                self._spool_failed()  # late reports of a retired producer
            flushed = self.spool.flush()
            if self.journal is not None:
                # Handed to the OS, which outlives a killed adapter; no fsync per tick: the
                # journal guards against the broker's loss, not this machine's.
                self.journal.flush()
                self.journal.maintain(self._confirmed_at)
        if flushed:
            self.spool.fsync()

    def _admin_client(self) -> AdminClient:
        if self._admin is None:
            own = {k: v for k, v in self.extra_config.items()
                   if k.startswith(("security", "sasl", "ssl", "client."))}
            self._admin = AdminClient({"bootstrap.servers": self.bootstrap, "log_level": 3,
                                       "logger": kafka_log, **own})
        return self._admin

    def _check_topic(self) -> None:
        """Direct mode: ask for pos.events' topic id every `topic_check_interval` s without
        waiting (a broker can restart between two produce calls and the producer never
        fails); a changed id switches to spooling, whose replay handles the loss."""
        fut = self._check
        if fut is None:
            if time.monotonic() >= self._next_check:
                self._check = topic_id_future(self._admin_client(), self.topics.events, 5.0)
            return
        if not fut.done():
            return
        self._check = None
        self._next_check = time.monotonic() + self.topic_check_interval
        try:
            tid = fut.result()
        except Exception:  # unreachable now: the producer's own errors switch to spooling
            return
        j = self.journal
        if j is None or tid == NO_TOPIC_ID:
            return
        with self._lock:
            if self._mode != DIRECT:
                return
            if j.changed(tid):
                if not self._need_degrade:
                    self._need_degrade = f"{self.topics.events} topic id changed"
            else:
                j.confirm(tid)
                self._confirmed_at = j.clock()

    def _check_log(self) -> bool:
        """Before a replay: compare pos.events' topic id with the journal's. When it changed,
        the journal's records of older ids are to be replayed. False: ask again later."""
        j = self.journal
        assert j is not None
        try:
            tid = describe_topic_id(self._admin_client(), self.topics.events,
                                    min(5.0, self.message_timeout))
        except KafkaException as e:
            err = e.args[0] if e.args else None
            code = err.code() if isinstance(err, KafkaError) else None
            if code == KafkaError.UNKNOWN_TOPIC_OR_PART:
                if not self._waiting_for_topic:
                    log.warning("%s does not exist (yet): replay waits until it does",
                                self.topics.events)
                self._waiting_for_topic = True
                return False
            if code in (KafkaError._TIMED_OUT, KafkaError._TRANSPORT,
                        KafkaError._ALL_BROKERS_DOWN):
                return False
            log.warning("cannot read the topic id of %s (%s): a broker that lost its log "
                        "cannot be told apart now", self.topics.events, e)
            return True
        except Exception as e:  # e.g. the answer came later than asked
            log.warning("cannot read the topic id of %s: %s", self.topics.events, e)
            return False
        self._waiting_for_topic = False
        if tid == NO_TOPIC_ID:  # a broker without topic ids: nothing to compare
            return True
        with self._lock:
            if j.changed(tid):
                old = j.topic_id
                # The old log was alive at its last confirmation or last delivery: records
                # delivered more than the window before that were stored by then.
                j.maintain(max([self._confirmed_at, *(g.last_write for g in j.segments)]))
                self._journal_pending = j.lost(tid)
                self._journal_pos.clear()  # a replay cut short starts over (order first)
                self.stats.log_losses_detected += 1
                since = min((s.created for s in j.pending()), default=j.clock())
                log.warning("%s topic id changed from %s to %s: the broker lost its log; "
                            "replaying %d records delivered since %s", self.topics.events,
                            old, tid, self._journal_pending,
                            time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(since)))
            else:
                j.confirm(tid)
            self._confirmed_at = j.clock()
        return True

    def _deliver(self, s: _Session, batch: list[tuple[str, bytes, bytes]], what: str) -> bool:
        """Produce a replay batch and wait until the broker confirmed all of it."""
        topic = self._topic
        for kind, key, value in batch:
            while True:
                try:
                    s.producer.produce(topic.get(kind, self.topics.events), value, key,
                                       headers=REPLAYED)
                    break
                except BufferError:
                    s.producer.poll(0.05)
        deadline = time.monotonic() + self.message_timeout + 5.0
        while len(s.producer) and time.monotonic() < deadline:
            s.producer.poll(0.01)
        if s.errors or len(s.producer):
            self.stats.replay_failures += 1
            log.warning("replaying the %s failed (%d errors); retrying later", what, s.errors)
            self._drain_purged(s)
            self._replay = None
            return False
        return True

    def _journaled(self, batch: list[tuple[str, bytes, bytes]]) -> None:
        """A replayed batch is delivered anew: journal it under the current id (lock held)."""
        if self.journal is not None:
            self.journal.append(batch)
            self.stats.journaled += len(batch)

    def _replay_journal(self, s: _Session) -> bool:
        """Deliver the journal's pending segments again, oldest first; True when done."""
        j = self.journal
        assert j is not None
        for seg in j.pending():
            pos = self._journal_pos.get(seg.seq, 0)
            while True:
                if self._stop.is_set():
                    return False
                with self._lock:
                    frames = j.read(seg, pos, self.replay_batch_bytes)
                if not frames:
                    break
                batch = [m for _, messages in frames for m in messages]
                if not self._deliver(s, batch, "journal"):
                    return False
                pos = self._journal_pos[seg.seq] = frames[-1][0]
                with self._lock:
                    self._journaled(batch)
                    self.stats.replayed_after_log_loss += len(batch)
                    self._journal_pending = max(0, self._journal_pending - len(batch))
            with self._lock:
                j.replayed(seg)
                self._journal_pos.pop(seg.seq, None)
                if not j.pending():
                    self._journal_pending = 0
                    log.info("journal replayed: %d records delivered again since the broker "
                             "lost its log", self.stats.replayed_after_log_loss)
        return True

    def _replay_spool(self) -> bool:
        """Replay the spool while the broker answers; True when caught up (direct again).
        First, when the broker lost its log, the journal (older than anything spooled)."""
        if self._replay is None:
            self._replay = self._session("replay")
        s = self._replay
        try:
            s.producer.list_topics(timeout=min(2.0, self.message_timeout))
        except KafkaException:
            return False
        if self.journal is not None and not (self._check_log() and self._replay_journal(s)):
            return False
        while not self._stop.is_set():
            with self._lock:
                read = self.spool.read(self.spool.cursor, self.replay_batch_bytes)
                if not read:
                    self.spool.commit(self.spool.end, 0)
                    s.role = "live"
                    self._live, self._replay, self._mode = s, None, DIRECT
                    self._next_check = time.monotonic() + self.topic_check_interval
                    log.info("Kafka is back: spool delivered, publishing directly again")
                    return True
            batch = [(rec.kind, rec.key, rec.value) for _, rec in read]
            if not self._deliver(s, batch, "spool"):
                return False
            with self._lock:
                self.spool.commit(read[-1][0], len(read))
                self.stats.replayed += len(read)
                self._journaled(batch)
        return False

    def close(self, timeout: float = 10.0) -> None:
        """Stop: deliver what the broker takes within `timeout`, spool the rest, close."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        with self._lock:
            if self._live is not None and not self._need_degrade:
                left = self._live.producer.flush(timeout)
                if left and not self._need_degrade:
                    self._need_degrade = f"{left} messages unacknowledged at stop"
            if self._need_degrade:
                self._degrade(self._need_degrade)
            # A replay producer's messages are in the spool already (its reports are only
            # counted); a retired live producer's purge reports still go to the spool.
            for s in [self._replay, *self._retired]:
                if s is not None:
                    s.producer.purge(in_queue=True, in_flight=True, blocking=True)
                    s.producer.poll(0)
            self._spool_failed()
            self._replay = None
            self._retired.clear()
            self.spool.close()
            if self.journal is not None:
                self.journal.close()
        if self.spool.records:
            log.info("stopped with %d messages in the spool %s; they are sent at the next "
                     "start", self.spool.records, self.spool.path)
