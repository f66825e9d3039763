"""The Faust application of a posguard worker: its configuration, topics and counters.

Built by `create_app(config, extensions)`, never at import time (STYLE.md): tests and
several workers in one process each get their own app. The agents and tables come from
extensions (streams/pipeline.py: receipt assembly and detectors). Agents keep their state in
Faust tables keyed like the topic they read (terminal GUID for pos.events), so a restarted
or rebalanced worker continues from the table's changelog where the previous owner stopped.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import faust

from posguard.streams.credentials import broker_credentials as _broker_credentials
from posguard.streams.topics import Topics

__all__ = ["WorkerConfig", "WorkerContext", "create_app", "Extension", "raw_schema"]

log = logging.getLogger(__name__)


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
    # cashier/card rules hold events this long (reception time) to step them in archive order
    cross_terminal_lateness_ms: int = 2000


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
    """Build the Faust app, its topics and the extensions' agents and tables.

    Args:
        config: broker, topics and timeouts.
        extensions: callables that add agents/tables to the app; the worker's own are
            `extensions.default_extensions()` (receipt assembly and detectors).
    """
    # posguard:// = Faust's aiokafka transport with a short fetch wait (streams/transport.py)
    brokers = ";".join(f"posguard://{h}" for h in config.bootstrap.split(","))
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
    for ext in extensions:
        ext(ctx)
    return ctx


def raw_schema() -> faust.Schema:
    """Bytes keys and values: we (de)serialise with msgspec, faster than Faust Records.

    Tables also need key_type/value_type=bytes: Faust picks a table's changelog serializers
    from those, not from the schema, and would read the changelog back as JSON."""
    return faust.Schema(key_type=bytes, value_type=bytes, key_serializer="raw",
                        value_serializer="raw")
