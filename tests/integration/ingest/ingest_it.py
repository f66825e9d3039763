"""Helpers of the ingest integration tests: read a topic back, talk to listeners."""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Callable
from typing import Any

import msgspec
from confluent_kafka import Consumer, KafkaException, TopicPartition

QUIET = logging.getLogger("posguard.ingest.kafka")


def read_topic(bootstrap: str, topic: str, want: int, timeout: float = 60.0,
               settle: float = 1.0) -> list[tuple[bytes, dict[str, Any]]]:
    """(key, decoded JSON value) of every message of `topic` from offset 0, partition by
    partition in order; waits until `want` arrived (then `settle` s more, to see doubles)."""
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": f"read-{time.monotonic_ns()}",
                  "enable.auto.commit": False, "logger": QUIET})
    deadline = time.monotonic() + timeout
    parts: list[int] = []
    while not parts and time.monotonic() < deadline:
        try:
            md = c.list_topics(topic, timeout=5).topics[topic]
            parts = [] if md.error else sorted(md.partitions)
        except KafkaException:
            parts = []
        if not parts:
            time.sleep(0.2)
    c.assign([TopicPartition(topic, p, 0) for p in parts])
    out: list[tuple[bytes, dict[str, Any]]] = []
    settle_until = None
    while time.monotonic() < deadline:
        for m in c.consume(1000, 0.2):
            if m.error() is None:
                out.append((m.key() or b"", msgspec.json.decode(m.value())))
        if len(out) >= want:
            settle_until = settle_until or time.monotonic() + settle
            if time.monotonic() >= settle_until:
                break
    c.close()
    return out


def send_tcp(port: int, data: bytes, chunk: int = 0, pause: float = 0.0) -> None:
    """Send bytes to a local TCP listener (in `chunk`-byte writes when given)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        step = chunk or len(data) or 1
        for i in range(0, len(data), step):
            s.sendall(data[i:i + step])
            if pause:
                time.sleep(pause)


def wait_for(cond: Callable[[], bool], timeout: float = 30.0, what: str = "condition") -> None:
    """Poll until `cond()` holds; fail with `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)
