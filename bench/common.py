"""Shared set-up for benchmarks: one chDB engine per process, a broker, filled topics."""

from __future__ import annotations

import os
import tempfile
import uuid
from functools import cache

from posguard.ingest.publisher import EventPublisher
from posguard.ingest.simulator import ChainSimulator
from posguard.model.events import PosEvent
from posguard.store.backends.chdb_backend import ChdbBackend
from posguard.store.migrations import migrate
from posguard.streams.broker import EmbeddedBroker
from posguard.streams.topics import Topics, ensure_topics

__all__ = ["engine", "fresh_store", "broker", "filled_topics", "sim_events", "size"]

T0 = 1_796_000_000_000_000


def size(name: str, default: int) -> int:
    """A benchmark size, overridable as POSGUARD_BENCH_<NAME>."""
    return int(os.environ.get(f"POSGUARD_BENCH_{name.upper()}", default))


@cache
def engine() -> ChdbBackend:
    """The process's one chDB engine (chDB allows one data folder per process)."""
    return ChdbBackend(tempfile.mkdtemp(prefix="posguard-bench-"), database="bench")


def fresh_store() -> ChdbBackend:
    b = engine().sibling(f"b_{uuid.uuid4().hex[:10]}")
    migrate(b)
    return b


@cache
def broker() -> EmbeddedBroker:
    return EmbeddedBroker().start()


def sim_events(n: int, seed: int = 1) -> list[PosEvent]:
    return list(ChainSimulator(10, 10, seed=seed).events(n, T0, 100))


def filled_topics(events: list[PosEvent], partitions: int = 8) -> Topics:
    b = broker()
    topics = Topics(prefix=f"b{uuid.uuid4().hex[:8]}.")
    ensure_topics(b.bootstrap, topics, partitions)
    pub = EventPublisher(b.bootstrap, topics, {"linger.ms": 50, "batch.num.messages": 10000})
    pub.publish_many(events)
    assert pub.flush(120) == 0
    return topics
