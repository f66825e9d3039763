"""Fixtures of the script host tests: a host on the session's broker and a fresh store, a
running ClickHouse sink, notifications collected in a list, and an injectable clock."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import msgspec
import pytest
from confluent_kafka import Consumer

from posguard.ingest.publisher import EventPublisher
from posguard.model.events import PosEvent
from posguard.scripting import ScriptHost, ScriptServices
from posguard.scripting.clock import ScriptClock
from posguard.streams.sink import ClickHouseSink
from tests.conftest import TEST_SESSION_TIMEOUT_MS

SCRIPTS = Path(__file__).resolve().parents[2] / "scripts"
TZ = "Europe/Moscow"


def local_ts(y: int, mo: int, d: int, h: int, mi: int = 0, s: int = 0) -> float:
    """Epoch seconds of a wall time in the test timezone."""
    return datetime(y, mo, d, h, mi, s, tzinfo=ZoneInfo(TZ)).timestamp()


@dataclass
class Notes:
    """Notifications (level, text, source) raised by scripts, in order."""

    items: list[tuple[str, str, str]] = field(default_factory=list)
    cond: threading.Condition = field(default_factory=threading.Condition)

    def __call__(self, level: str, text: str, source: str) -> None:
        with self.cond:
            self.items.append((level, text, source))
            self.cond.notify_all()

    def of(self, level: str, source: str | None = None) -> list[str]:
        with self.cond:
            return [t for lv, t, s in self.items if lv == level and (source is None or s == source)]

    def wait_for(self, pred: Callable[[], bool], timeout: float = 30.0) -> bool:
        deadline = time.monotonic() + timeout
        with self.cond:
            while not pred():
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self.cond.wait(min(left, 0.2))
            return True


def wait_for(pred: Callable[[], bool], timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(0.1)
    return pred()


@dataclass
class HostFactory:
    bootstrap: str
    topics: Any
    store: Any
    workdir: Path
    notes: Notes
    hosts: list[ScriptHost] = field(default_factory=list)
    services: list[ScriptServices] = field(default_factory=list)

    def __call__(self, *, now: Callable[[], float] = time.time, tz: str = TZ,
                 queue_size: int = 10_000, **kw: Any) -> ScriptHost:
        services = ScriptServices.connect(
            self.bootstrap, self.topics, self.store, notify=self.notes,
            consumer_config={"session.timeout.ms": TEST_SESSION_TIMEOUT_MS},
            clock=ScriptClock(now=now, tz=tz), workdir=self.workdir, queue_size=queue_size,
            group_prefix=f"{self.topics.prefix}posguard.script.", **kw)
        host = ScriptHost(services)
        self.hosts.append(host)
        self.services.append(services)
        return host


def read_topic(bootstrap: str, topic: str, n: int, timeout: float = 20.0) -> list[Any]:
    """The first `n` JSON values of a topic (all partitions, from the beginning)."""
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": f"r{uuid.uuid4().hex}",
                  "auto.offset.reset": "earliest", "enable.auto.commit": False,
                  "session.timeout.ms": TEST_SESSION_TIMEOUT_MS})
    c.subscribe([topic])
    out: list[Any] = []
    deadline = time.monotonic() + timeout
    try:
        while len(out) < n and time.monotonic() < deadline:
            m = c.poll(0.2)
            if m is not None and m.error() is None:
                out.append(msgspec.json.decode(m.value()))
    finally:
        c.close()
    return out


def publish_until_seen(bootstrap: str, topics: Any, seen: Callable[[], bool],
                       attempts: int = 60, pause: float = 0.25) -> bool:
    """Publish one POS_POSITION_ADD after another until `seen()` holds: a script's consumer
    joins its group a moment after the script starts, and reads only what comes after."""
    pub = EventPublisher(bootstrap, topics)
    for n in range(attempts):
        if seen():
            return True
        pub.publish(PosEvent(type="POS_POSITION_ADD", pos_terminal="T1", op_id=f"L{n}",
                             ts_in_receipt=1_796_000_000_000_000 + n,
                             ts_received=1_796_000_000_000_000 + n, event_id=f"L{n}"))
        pub.flush(5)
        time.sleep(pause)
    return seen()


class Helpers:
    """Helper functions for the tests (conftest modules are not importable by name)."""

    scripts = SCRIPTS
    tz = TZ
    local_ts = staticmethod(local_ts)
    wait_for = staticmethod(wait_for)
    read_topic = staticmethod(read_topic)
    publish_until_seen = staticmethod(publish_until_seen)


@pytest.fixture
def h() -> type[Helpers]:
    return Helpers


@pytest.fixture
def notes() -> Notes:
    return Notes()


@pytest.fixture
def make_host(kafka_bootstrap: str, topics: Any, store: Any, tmp_path: Path,
              notes: Notes) -> Iterator[HostFactory]:
    """Build script hosts on the test's topics and store; all stopped at the end."""
    f = HostFactory(kafka_bootstrap, topics, store, tmp_path, notes)
    yield f
    for h in f.hosts:
        h.stop(grace=2)


@pytest.fixture
def sink(kafka_bootstrap: str, topics: Any, store: Any) -> Iterator[ClickHouseSink]:
    """The ClickHouse sink, storing pos.events / pos.incidents into the test's store."""
    s = ClickHouseSink(kafka_bootstrap, topics, store, group=f"g{uuid.uuid4().hex}",
                       batch_size=1000,
                       consumer_config={"session.timeout.ms": TEST_SESSION_TIMEOUT_MS})
    t = threading.Thread(target=s.run, daemon=True)
    t.start()
    yield s
    s.stop()
    t.join(30)
