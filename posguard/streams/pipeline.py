"""The worker's agents: receipt assembly and the detectors, run by Faust over batches.

- `process_terminal_events` reads pos.events in batches of whole fetches (its `BatchFeed`,
  streams/batch_feed.py, filled by the transport instead of the agent's Faust stream): it
  assembles receipts (table `terminal_state`, keyed by terminal GUID), runs the terminal-scope
  detectors (table `detector_terminal`) and forwards what the cross-terminal scopes need to
  `pos.detect.cashier` / `pos.detect.card`, one bundle per key and batch.
- `detect_cashier` / `detect_card` read those repartition topics through their feeds
  (tables `detector_cashier`, `detector_card`, keyed by cashier / card).
- `watch_config` reads the compacted pos.detectors topic and swaps the engine; the tables
  keep their states (the engine carries them over by detector GUID).

Per batch an agent takes the batch's records in sequence per partition (records Faust
dropped around a rebalance are read from the broker: streams/delivery.py), decodes each
key's state once (`StateCache`), sends its outputs (receipts, incidents, bundles) and waits
until the broker has them, then writes each changed key to its table once (local store +
changelog record, sent by the same confluent producer) and waits until the changelog records
are delivered too: only then does the batch end and its events get acknowledged. (Faust
commits the offsets of acknowledged events without flushing table changelogs first; a worker
killed after such a commit would come back with states behind its offsets.) Faust still owns
the tables: their changelog topics, the recovery of a partition's states when a worker takes
it over, standbys.

Why this shape: the per-event Faust path (one await, one table write and one changelog
record per event per agent) ran at ~1k events/s, and Faust's per-message delivery alone
capped an agent at ~12.6k; bench/README.md has the figures. The logic itself lives in
streams/steps.py, tested without a broker.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

import faust
import msgspec
from faust.types import TP

from posguard.detectors.config import DetectorConfig, config_from_bytes, default_config
from posguard.detectors.engine import DetectorEngine, decode_state, encode_state
from posguard.detectors.localtime import zones_from
from posguard.detectors.ordered_scope import OrderedScopeState, decode_ordered, encode_ordered
from posguard.model.receipts import TerminalState
from posguard.streams.app import WorkerContext, raw_schema
from posguard.streams.batch_feed import BatchFeed
from posguard.streams.delivery import PartitionCursor
from posguard.streams.gap_reader import GapReader
from posguard.streams.outputs import OutputProducer
from posguard.streams.routing import encode_routed
from posguard.streams.state_cache import StateCache
from posguard.streams.state_store import STATE_STORE
from posguard.streams.steps import (
    CROSS_SCOPES,
    BatchOutput,
    Record,
    release_held,
    scope_batch,
    terminal_batch,
)

__all__ = ["install_pipeline", "EngineHolder", "BATCH_MAX", "BATCH_WITHIN"]

log = logging.getLogger(__name__)

BATCH_MAX = 5000  # events per batch at most
BATCH_WITHIN = 0.01  # seconds a batch waits to fill: the latency it adds at low rates


class EngineHolder:
    """The engine of the current configuration; swapped when pos.detectors changes."""

    def __init__(self, config: DetectorConfig, zones: dict[str, str]):
        self.zones = zones
        self.config = config
        self.engine = DetectorEngine.from_config(config, zones=zones_from(zones))

    def swap(self, config: DetectorConfig) -> None:
        self.engine = DetectorEngine.from_config(config, zones=zones_from(self.zones))
        self.config = config


async def _in_sequence(ctx: WorkerContext, cursor: PartitionCursor, reader: GapReader,
                       topic: str, batch: list[Record]) -> list[Record]:
    """The batch's records to process: those of partitions this worker owns, in sequence
    per partition.

    Left out: records of partitions this worker no longer owns (a batch taken before a
    rebalance; the new owner reads them again from the committed offset). Filled in:
    records Faust dropped before a later one of their partition (streams/delivery.py), read
    from the broker."""
    app = ctx.app
    if not batch:
        return []
    mine = {tp.partition for tp in app.consumer.assignment() if tp.topic == topic}
    owned = [r for r in batch if r[0] in mine]
    committed = app.consumer._committed_offset  # where Faust sought to after the rebalance
    cursor.start(app.consumer_generation_id, lambda p: committed.get(TP(topic, p)))
    records, held, gaps = cursor.admit(owned, _where)
    for attempt in range(3):
        if not gaps:
            break
        first_held = {}
        for r in held:
            first_held.setdefault(r[0], r[1])
        ranges = {p: (want, first_held[p]) for p, want in gaps.items()}
        ctx.count("delivery_gaps", len(ranges))
        log.warning("%s: records delivered after a gap; reading %s from the broker", topic,
                    ", ".join(f"[{p}] {a}-{b - 1}" for p, (a, b) in sorted(ranges.items())))
        filled = await asyncio.to_thread(reader.read, topic, ranges)
        more, held, gaps = cursor.admit(sorted(filled + held, key=_where), _where,
                                        accept_gaps=attempt == 2)
        if attempt == 2 and len(filled) < sum(b - a for a, b in ranges.values()):
            ctx.count("delivery_gaps_unfilled")
            log.error("%s: some records of %s could not be read from the broker; going on "
                      "without them", topic, ranges)
        records += more
    return records


def _where(r: Record) -> tuple[int, int]:
    return r[0], r[1]


async def _send(ctx: WorkerContext, producer: OutputProducer, out: BatchOutput) -> None:
    """Send a batch's outputs and wait until the broker has every one of them."""
    t = ctx.config.topics
    send = producer.send
    for key, value in out.receipts:
        send(t.receipts, key, value)
    for key, value in out.incidents:
        send(t.incidents, key, value)
    for scope, bundles in out.routed.items():
        topic = t.repartition(scope)
        for (key, _), routed in bundles.items():
            send(topic, key, encode_routed(routed))
    await producer.delivered()
    for name, n in out.counts.items():
        if n:
            ctx.count(name, n)


def install_pipeline(ctx: WorkerContext, zones: dict[str, str] | None = None) -> EngineHolder:
    """Add the assembly and detector agents, their tables and topics to the worker's app."""
    app = ctx.app
    holder = EngineHolder(default_config(), zones or {})
    ctx.extras["detectors"] = holder
    t = ctx.config.topics
    parts = ctx.config.partitions

    producer = OutputProducer(ctx.config.bootstrap, ctx.config.kafka_config)
    gap_reader = GapReader(ctx.config.bootstrap, ctx.config.kafka_config)
    end_markers = ctx.config.producer_batch_bytes == 1  # the embedded broker: _changelogs_sent

    changelog_of: dict[StateCache[Any], str] = {}

    def states(name: str, help: str, decode: Any, encode: Any, initial: Any) -> StateCache:
        """A Faust table and its StateCache, which writes the table's local store and sends
        its changelog records through `producer`."""
        table = app.Table(name, schema=raw_schema(), key_type=bytes, value_type=bytes,
                          partitions=parts, help=help, store=STATE_STORE)
        topic = table.changelog_topic.get_topic_name()
        cache = StateCache(table.data, decode, encode, initial,
                           lambda p, k, v: producer.send(topic, k, v, p))
        changelog_of[cache] = topic
        return cache

    receipts = states(
        "terminal_state", "Per terminal: signed-in cashier/admin and the open receipt.",
        msgspec.msgpack.Decoder(TerminalState).decode, msgspec.msgpack.Encoder().encode,
        TerminalState)
    terminal = states("detector_terminal", "Terminal-scope detector states, by terminal GUID.",
                      decode_state, encode_state, lambda: holder.engine.initial("terminal"))
    scopes = {s: states(f"detector_{s}", f"Detector states of the {s} scope, by {s} key "
                        "(with the events held to restore archive order).",
                        decode_ordered, encode_ordered, OrderedScopeState)
              for s in CROSS_SCOPES}
    lateness_us = ctx.config.cross_terminal_lateness_ms * 1000
    def owner_of(topic: str) -> Callable[[int], bool]:
        def owned(partition: int) -> bool:
            return TP(topic, partition) in app.consumer.assignment()
        return owned

    async def _changelogs_sent(source: str, *caches: StateCache[Any]) -> None:
        """Write the batch's changed states and wait until their changelog records are
        delivered. On Tansu, which reports a partition's end as its last batch's first
        offset + 1, each partition written then gets a tombstone of the empty key in a batch
        of its own: Faust's recovery, which reads a changelog up to that end, then reads
        every state record before it."""
        owned = owner_of(source)
        written = [(changelog_of[c], c.write_back(owned)) for c in caches]
        await producer.delivered()
        if end_markers:
            for topic, partitions in written:
                for p in partitions:
                    producer.send(topic, b"", None, p)
            await producer.delivered()

    routes = {s: app.topic(t.repartition(s), schema=raw_schema(), partitions=parts)
              for s in CROSS_SCOPES}

    events_cursor = PartitionCursor()
    events_feed = BatchFeed(app, ctx.events_topic.get_topic_name())

    async def process_terminal_events(stream: faust.StreamT[bytes]) -> None:
        """pos.events -> receipts, terminal-scope incidents, cross-terminal bundles."""
        async for batch in events_feed.batches(BATCH_MAX, within=BATCH_WITHIN):
            receipts.clear()  # what a batch cut short (a cancelled agent) left
            terminal.clear()
            records = await _in_sequence(ctx, events_cursor, gap_reader, events_feed.topic,
                                         batch)
            out = terminal_batch(records, holder.engine, receipts, terminal)
            await _send(ctx, producer, out)
            await _changelogs_sent(t.events, receipts, terminal)
            events_feed.acknowledge(records)

    app.agent(ctx.events_topic, name="process_terminal_events")(process_terminal_events)

    def make_scope_agent(scope: str) -> None:
        keyed = scopes[scope]
        waiting: dict[int, dict[bytes, int]] = {}  # see steps.scope_batch
        busy = asyncio.Lock()  # a batch and a release of held events share the states
        last_batch = [time.monotonic()]
        cursor = PartitionCursor()
        feed = BatchFeed(app, t.repartition(scope))

        async def detect(stream: faust.StreamT[bytes]) -> None:
            async for batch in feed.batches(BATCH_MAX, within=BATCH_WITHIN):
                async with busy:
                    keyed.clear()
                    records = await _in_sequence(ctx, cursor, gap_reader, feed.topic, batch)
                    out = scope_batch(scope, records, holder.engine, keyed,
                                      lateness_us=lateness_us, waiting=waiting)
                    await _send(ctx, producer, out)
                    await _changelogs_sent(t.repartition(scope), keyed)
                    feed.acknowledge(records)
                    last_batch[0] = time.monotonic()

        async def release_when_quiet() -> None:
            """Held events wait for newer reception times on their partition; when the
            stream has been quiet for longer than the lateness, nothing can still come in
            time, so they are stepped now (the end of a day's traffic, a test's end)."""
            if not any(waiting.values()) or busy.locked():
                return
            if time.monotonic() - last_batch[0] < lateness_us / 1e6:
                return
            async with busy:
                keyed.clear()
                owned = owner_of(t.repartition(scope))
                mine = {p: keys for p, keys in waiting.items() if owned(p)}
                waiting.clear()  # keys of partitions given away are the new owner's now
                out = release_held(scope, holder.engine, keyed, mine, lateness_us=lateness_us)
                await _send(ctx, producer, out)
                await _changelogs_sent(t.repartition(scope), keyed)

        app.agent(routes[scope], name=f"detect_{scope}")(detect)
        app.timer(max(0.2, lateness_us / 2e6), name=f"release_held_{scope}")(
            release_when_quiet)

    for scope in CROSS_SCOPES:
        make_scope_agent(scope)

    async def close_clients(sender: faust.App, **_: Any) -> None:
        """The agents have stopped: close the Kafka clients of ours (Faust closes its own)."""
        await asyncio.to_thread(producer.close)
        gap_reader.close()
        log.info("worker's output producer and gap reader closed")

    app.on_before_shutdown.connect(close_clients)

    config_topic = app.topic(t.detectors, schema=raw_schema(), partitions=1)

    async def watch_config(stream: faust.StreamT[bytes]) -> None:
        async for value in stream:
            try:
                holder.swap(config_from_bytes(value))
                ctx.count("detector_config_loaded")
                log.info("detector configuration loaded (%d detectors)",
                         len(holder.config.detectors))
            except Exception as e:  # a bad configuration never stops the worker
                ctx.count("detector_config_rejected")
                log.error("detector configuration on %s refused: %s", t.detectors, e)

    app.agent(config_topic, name="watch_config")(watch_config)
    return holder
