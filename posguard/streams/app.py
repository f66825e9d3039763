"""The Faust application: topics, tables and agents of a posguard worker.

Built by `create_app(config)`, never at import time (STYLE.md): tests and several workers
in one process each get their own app. Agents keep their state in Faust tables keyed like the
topic they read (terminal GUID for pos.events), so a restarted or rebalanced worker continues
from the table's changelog where the previous owner stopped.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import faust
import msgspec

from posguard.model.codec import decode_event, encode
from posguard.model.errors import DecodeError
from posguard.model.receipts import TerminalState, assemble
from posguard.streams.table_values import KeyedValue, pack, remember, resend_for, unpack
from posguard.streams.topics import Topics

__all__ = ["WorkerConfig", "WorkerContext", "create_app", "Extension", "raw_schema"]

log = logging.getLogger(__name__)
_state_encoder = msgspec.msgpack.Encoder()
_state_decoder = msgspec.msgpack.Decoder(TerminalState)


@dataclass(frozen=True)
class WorkerConfig:
    """What a worker needs to know (built from the node's Settings in console/)."""

    bootstrap: str
    topics: Topics = field(default_factory=Topics)
    app_id: str = "posguard"
    partitions: int = 8
    replication: int = 1
    data_dir: Path = Path("posguard-data")
    session_timeout: float = 10.0
    heartbeat_interval: float = 1.0
    rebalance_timeout: float = 10.0
    kafka_config: dict[str, Any] = field(default_factory=dict)
    # 1 = one record per produced batch. Tansu reports a partition's high watermark as the
    # last batch's base offset + 1, so Faust's changelog recovery (which reads up to the
    # high watermark) would stop short after multi-record batches.
    producer_batch_bytes: int = 16384


@dataclass
class WorkerContext:
    """Handles agents share: the app, its topics and counters (exposed as metrics)."""

    app: faust.App
    config: WorkerConfig
    events_topic: faust.TopicT
    receipts_topic: faust.TopicT
    incidents_topic: faust.TopicT
    counters: dict[str, int] = field(default_factory=dict)
    extras: dict[str, Any] = field(default_factory=dict)

    def count(self, name: str, n: int = 1) -> None:
        self.counters[name] = self.counters.get(name, 0) + n


Extension = Callable[[WorkerContext], None]


def create_app(config: WorkerConfig, extensions: tuple[Extension, ...] = ()) -> WorkerContext:
    """Build the Faust app with the receipt-assembly agent and any extensions' agents.

    Args:
        config: broker, topics and timeouts.
        extensions: callables that add agents/tables to the app (detectors, scripts).
    """
    brokers = ";".join(f"kafka://{h}" for h in config.bootstrap.split(","))
    app = faust.App(
        config.app_id,
        broker=brokers,
        store="memory://",
        datadir=str(config.data_dir / "faust"),
        topic_partitions=config.partitions,
        topic_replication_factor=config.replication,
        broker_session_timeout=config.session_timeout,
        broker_heartbeat_interval=config.heartbeat_interval,
        broker_rebalance_timeout=config.rebalance_timeout,
        consumer_auto_offset_reset="earliest",
        web_enabled=False,
        table_standby_replicas=0,
        producer_acks=-1,
        producer_max_batch_size=config.producer_batch_bytes,
        **_broker_credentials(config.kafka_config),
    )
    t = config.topics
    ctx = WorkerContext(
        app=app,
        config=config,
        events_topic=app.topic(t.events, key_type=bytes, value_type=bytes,
                               key_serializer="raw", value_serializer="raw",
                               partitions=config.partitions),
        receipts_topic=app.topic(t.receipts, key_type=bytes, value_type=bytes,
                                 key_serializer="raw", value_serializer="raw",
                                 partitions=config.partitions),
        incidents_topic=app.topic(t.incidents, key_type=bytes, value_type=bytes,
                                  key_serializer="raw", value_serializer="raw",
                                  partitions=config.partitions),
    )
    _add_receipt_assembly(ctx)
    for ext in extensions:
        ext(ctx)
    return ctx


def _broker_credentials(kafka_config: dict[str, Any]) -> dict[str, Any]:
    """Map confluent-style TLS/SASL settings onto Faust's broker_credentials."""
    proto = str(kafka_config.get("security.protocol", "")).upper()
    if not proto or proto == "PLAINTEXT":
        return {}
    import ssl

    ctx = None
    if "SSL" in proto:
        ctx = ssl.create_default_context(cafile=kafka_config.get("ssl.ca.location"))
        if kafka_config.get("ssl.certificate.location"):
            ctx.load_cert_chain(kafka_config["ssl.certificate.location"],
                                kafka_config.get("ssl.key.location"))
    if "SASL" in proto:
        return {"broker_credentials": faust.SASLCredentials(
            username=kafka_config.get("sasl.username"),
            password=kafka_config.get("sasl.password"),
            ssl_context=ctx,
            mechanism=kafka_config.get("sasl.mechanism", "PLAIN"),
        )}
    return {"broker_credentials": faust.SSLCredentials(ctx)}


def raw_schema() -> faust.Schema:
    """Bytes keys and values: we (de)serialise with msgspec, faster than Faust Records.

    Tables also need key_type/value_type=bytes: Faust picks a table's changelog serializers
    from those, not from the schema, and would read the changelog back as JSON."""
    return faust.Schema(key_type=bytes, value_type=bytes, key_serializer="raw",
                        value_serializer="raw")


def _add_receipt_assembly(ctx: WorkerContext) -> None:
    app = ctx.app
    terminals = app.Table(
        "terminal_state", schema=raw_schema(), key_type=bytes, value_type=bytes,
        partitions=ctx.config.partitions,
        help="Per terminal: signed-in cashier/admin and the open receipt.",
    )
    receipts_topic = ctx.receipts_topic

    @app.agent(ctx.events_topic, name="assemble_receipts")
    async def assemble_receipts(stream: faust.StreamT[bytes]) -> None:
        """Fold each terminal's events into receipts; finished receipts go to pos.receipts."""
        async for event in stream.events():
            try:
                ev = decode_event(event.value)
            except DecodeError:
                ctx.count("receipt_assembly_rejected")  # the sink dead-letters it
                continue
            key = ev.pos_terminal.encode()
            raw = terminals.get(key)
            offset = event.message.offset
            if raw:
                value = unpack(raw)
                if offset <= value.offset:
                    # a replay after a crash: state has it; resend the receipts it finished
                    ctx.count("events_replayed_skipped")
                    for out in resend_for(value, offset):
                        await receipts_topic.send(key=key, value=out)
                    continue
                state = _state_decoder.decode(value.state)
            else:
                value = KeyedValue(offset=-1, state=b"")
                state = TerminalState()
            state, done = assemble(state, ev)
            outputs = [encode(r) for r in done]
            value.offset, value.state = offset, _state_encoder.encode(state)
            remember(value, offset, outputs)
            terminals[key] = pack(value)
            for out in outputs:
                await receipts_topic.send(key=key, value=out)
            ctx.count("events_assembled")
            ctx.count("receipts_finished", len(done))
