"""Detector agents: the pure DetectorEngine run by Faust agents over tables.

- `detect_terminal`: reads pos.events; table `detector_terminal` keyed by terminal GUID.
- `route_<scope>`: reads pos.events and re-keys the events a cross-terminal scope needs
  (cashier, card) onto the named repartition topic `pos.detect.<scope>`;
  `detect_<scope>` reads it with a table keyed by cashier / card.
- `watch_config`: reads the compacted pos.detectors topic and swaps the engine; tables keep
  their states (the engine carries states over by detector GUID).
Incidents go to pos.incidents (keyed by terminal); their ids are deterministic, so an event
replayed after a crash yields the same incident, which the store keeps once.
Each table value is a `table_values.KeyedValue`: the state, the last source offset, and the
incidents recently raised; events a restarted worker replays into state it already holds
are skipped and their incidents sent again (at least once; ids dedupe in the store).
"""

from __future__ import annotations

import logging

import faust

from posguard.detectors.config import DetectorConfig, config_from_bytes, default_config
from posguard.detectors.engine import DetectorEngine, decode_state, encode_state
from posguard.detectors.localtime import zones_from
from posguard.model.codec import decode_event, encode
from posguard.model.errors import DecodeError
from posguard.streams.app import WorkerContext, raw_schema
from posguard.streams.table_values import (
    KeyedValue,
    already_seen,
    pack,
    remember,
    resend_for,
    unpack,
)

__all__ = ["install_detection", "EngineHolder"]

log = logging.getLogger(__name__)


class EngineHolder:
    """The engine of the current configuration; swapped when pos.detectors changes."""

    def __init__(self, config: DetectorConfig, zones: dict[str, str]):
        self.zones = zones
        self.config = config
        self.engine = DetectorEngine.from_config(config, zones=zones_from(zones))

    def swap(self, config: DetectorConfig) -> None:
        self.engine = DetectorEngine.from_config(config, zones=zones_from(self.zones))
        self.config = config


def install_detection(ctx: WorkerContext, zones: dict[str, str] | None = None) -> EngineHolder:
    """Add the detector agents and tables to the worker's app."""
    app = ctx.app
    holder = EngineHolder(default_config(), zones or {})
    ctx.extras["detectors"] = holder
    t = ctx.config.topics
    incidents = ctx.incidents_topic

    def make_scope_agent(scope: str, source: faust.TopicT, dedup_ids: bool) -> None:
        table = app.Table(f"detector_{scope}", schema=raw_schema(), key_type=bytes,
                          value_type=bytes,
                          partitions=ctx.config.partitions,
                          help=f"Detector states of the {scope} scope, by {scope} key.")

        async def detect(stream: faust.StreamT[bytes]) -> None:
            async for event in stream.events():
                try:
                    ev = decode_event(event.value)
                except DecodeError:
                    continue  # the sink dead-letters bad bytes
                engine = holder.engine
                if scope not in engine.scopes():
                    continue
                key = engine.key(scope, ev)  # type: ignore[arg-type]
                if key is None:
                    continue
                kb = key.encode()
                raw = table.get(kb)
                offset = event.message.offset
                if raw:
                    value = unpack(raw)
                    if offset <= value.offset:
                        # a replay after a crash: state has it; resend what it raised
                        ctx.count("detector_events_replayed_skipped")
                        for out in resend_for(value, offset):
                            await incidents.send(key=ev.pos_terminal.encode(), value=out)
                        continue
                    if dedup_ids and already_seen(value, ev.event_id):
                        # forwarded twice by a restarted router: applied already
                        ctx.count("detector_events_repartition_duplicates")
                        continue
                    state = decode_state(value.state)
                else:
                    value = KeyedValue(offset=-1, state=b"")
                    if dedup_ids:
                        already_seen(value, ev.event_id)
                    state = engine.initial(scope)  # type: ignore[arg-type]
                state, incs = engine.step(scope, state, ev)  # type: ignore[arg-type]
                outputs = [encode(i) for i in incs]
                value.offset, value.state = offset, encode_state(state)
                remember(value, offset, outputs)
                table[kb] = pack(value)
                for out in outputs:
                    await incidents.send(key=ev.pos_terminal.encode(), value=out)
                if incs:
                    ctx.count("incidents_raised", len(incs))
                ctx.count(f"detector_{scope}_events")

        app.agent(source, name=f"detect_{scope}")(detect)

    make_scope_agent("terminal", ctx.events_topic, dedup_ids=False)
    for scope in ("cashier", "card"):
        repartition = app.topic(t.repartition(scope), schema=raw_schema(),
                                partitions=ctx.config.partitions)

        def make_router(scope: str, target: faust.TopicT) -> None:
            async def route(stream: faust.StreamT[bytes]) -> None:
                async for value in stream:
                    try:
                        ev = decode_event(value)
                    except DecodeError:
                        continue
                    engine = holder.engine
                    if scope not in engine.scopes():
                        continue
                    key = engine.key(scope, ev)  # type: ignore[arg-type]
                    if key is not None:
                        await target.send(key=key.encode(), value=value)

            app.agent(ctx.events_topic, name=f"route_{scope}")(route)

        make_router(scope, repartition)
        make_scope_agent(scope, repartition, dedup_ids=True)

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
