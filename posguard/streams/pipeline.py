"""The worker's agents: receipt assembly and the detectors, run by Faust over batches.

- `process_terminal_events` reads pos.events in batches (`stream.take_events`): it assembles
  receipts (table `terminal_state`, keyed by terminal GUID), runs the terminal-scope
  detectors (table `detector_terminal`) and forwards what the cross-terminal scopes need to
  `pos.detect.cashier` / `pos.detect.card`, one bundle per key and batch.
- `detect_cashier` / `detect_card` read those repartition topics (tables `detector_cashier`,
  `detector_card`, keyed by cashier / card).
- `watch_config` reads the compacted pos.detectors topic and swaps the engine; the tables
  keep their states (the engine carries them over by detector GUID).

Per batch an agent works on decoded states cached between batches (`StateCache`), sends its
outputs (receipts, incidents, bundles) and waits until the broker has them, then writes each
changed key to its table once and waits until the changelog records are delivered too: only
then does the batch end and its events get acknowledged. (Faust commits the offsets of
acknowledged events without flushing table changelogs first; a worker killed after such a
commit would come back with states behind its offsets.) Why this shape: the per-event Faust path (one
await, one table write and one changelog record per event per agent) ran at ~1k events/s;
bench/README.md has the figures. The logic itself lives in streams/steps.py, tested without
a broker.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from typing import Any

import faust
import msgspec

from posguard.detectors.config import DetectorConfig, config_from_bytes, default_config
from posguard.detectors.engine import DetectorEngine, decode_state, encode_state
from posguard.detectors.localtime import zones_from
from posguard.model.receipts import TerminalState
from posguard.streams.app import WorkerContext, raw_schema
from posguard.streams.outputs import OutputProducer
from posguard.streams.routing import encode_routed
from posguard.streams.state_cache import StateCache
from posguard.streams.steps import CROSS_SCOPES, BatchOutput, Record, scope_batch, terminal_batch

__all__ = ["install_pipeline", "EngineHolder", "BATCH_MAX", "BATCH_WITHIN"]

log = logging.getLogger(__name__)

BATCH_MAX = 5000  # events per batch at most
BATCH_WITHIN = 0.25  # seconds a batch waits to fill: the latency it adds at low rates


class EngineHolder:
    """The engine of the current configuration; swapped when pos.detectors changes."""

    def __init__(self, config: DetectorConfig, zones: dict[str, str]):
        self.zones = zones
        self.config = config
        self.engine = DetectorEngine.from_config(config, zones=zones_from(zones))

    def swap(self, config: DetectorConfig) -> None:
        self.engine = DetectorEngine.from_config(config, zones=zones_from(self.zones))
        self.config = config


def _records(events: Iterable[faust.EventT]) -> list[Record]:
    return [Record(e.message.partition, e.message.offset, e.message.key, e.message.value)
            for e in events]


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

    def table(name: str, help: str) -> Any:
        # use_partitioner: states are written after the batch, outside any one event's
        # context; the changelog partition then comes from the key, as the source's does
        return app.Table(name, schema=raw_schema(), key_type=bytes, value_type=bytes,
                         partitions=parts, use_partitioner=True, help=help)

    receipts = StateCache[TerminalState](
        table("terminal_state", "Per terminal: signed-in cashier/admin and the open receipt."),
        msgspec.msgpack.Decoder(TerminalState).decode, msgspec.msgpack.Encoder().encode,
        TerminalState)
    terminal = StateCache(
        table("detector_terminal", "Terminal-scope detector states, by terminal GUID."),
        decode_state, encode_state, lambda: holder.engine.initial("terminal"))
    scopes = {s: StateCache(
        table(f"detector_{s}", f"Detector states of the {s} scope, by {s} key."),
        decode_state, encode_state, lambda s=s: holder.engine.initial(s))  # type: ignore[misc]
        for s in CROSS_SCOPES}
    caches: Sequence[StateCache[Any]] = [receipts, terminal, *scopes.values()]

    async def forget_states(*_: Any, **__: Any) -> None:
        for c in caches:
            c.clear()

    app.on_partitions_revoked.connect(forget_states)
    app.on_partitions_assigned.connect(forget_states)

    routes = {s: app.topic(t.repartition(s), schema=raw_schema(), partitions=parts)
              for s in CROSS_SCOPES}
    producer = OutputProducer(ctx.config.bootstrap, ctx.config.kafka_config)

    async def process_terminal_events(stream: faust.StreamT[bytes]) -> None:
        """pos.events -> receipts, terminal-scope incidents, cross-terminal bundles."""
        async for events in stream.take_events(BATCH_MAX, within=BATCH_WITHIN):
            out = terminal_batch(_records(events), holder.engine, receipts, terminal)
            await _send(ctx, producer, out)
            receipts.write_back()
            terminal.write_back()
            await app.producer.flush()  # changelog delivered before the events are acked

    app.agent(ctx.events_topic, name="process_terminal_events")(process_terminal_events)

    def make_scope_agent(scope: str) -> None:
        states = scopes[scope]

        async def detect(stream: faust.StreamT[bytes]) -> None:
            async for events in stream.take_events(BATCH_MAX, within=BATCH_WITHIN):
                out = scope_batch(scope, _records(events), holder.engine, states)
                await _send(ctx, producer, out)
                states.write_back()
                await app.producer.flush()

        app.agent(routes[scope], name=f"detect_{scope}")(detect)

    for scope in CROSS_SCOPES:
        make_scope_agent(scope)

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
