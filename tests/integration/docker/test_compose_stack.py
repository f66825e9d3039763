"""The deploy/compose stack brought up for real: 3 Kafka brokers, 2x2 ClickHouse with Keeper,
workers, ingest, console, scripts; then events published from the host end up stored once,
through the Distributed tables `posguard db init --cluster` created.

Opt-in: needs a Docker engine with the compose plugin and POSGUARD_DOCKER_TESTS=1 (it builds
the image and pulls about 2 GB of server images); skipped with the reason elsewhere.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import docker_available

COMPOSE = Path(__file__).resolve().parents[3] / "deploy" / "compose" / "docker-compose.yml"
PASSWORD = "compose-test"


def _reason() -> str | None:
    reason = docker_available()
    if reason:
        return reason
    if not shutil.which("docker"):
        return "no docker client here"
    if subprocess.run(["docker", "compose", "version"], capture_output=True).returncode:
        return "the docker client has no compose plugin"
    return None


REASON = _reason()
pytestmark = [pytest.mark.docker, pytest.mark.timeout(1800),
              pytest.mark.skipif(REASON is not None, reason=str(REASON))]


def _compose(*args: str, env: dict[str, str], timeout: float = 900) -> str:
    p = subprocess.run(["docker", "compose", "-f", str(COMPOSE), "-p", env["PROJECT"], *args],
                       capture_output=True, text=True, timeout=timeout, env=env)
    assert p.returncode == 0, f"docker compose {' '.join(args)}:\n{p.stdout}\n{p.stderr}"
    return p.stdout


@pytest.fixture(scope="module")
def stack() -> Iterator[dict[str, str]]:
    env = {**os.environ, "PROJECT": f"posguard-test-{uuid.uuid4().hex[:6]}",
           "CLICKHOUSE_PASSWORD": PASSWORD, "POSGUARD_WORKERS": "2",
           "POSGUARD_PARTITIONS": "8"}
    try:
        _compose("up", "-d", "--build", "--wait", "--wait-timeout", "600", env=env,
                 timeout=1500)
        yield env
    finally:
        _compose("down", "-v", "--remove-orphans", env=env, timeout=300)


def test_events_flow_through_the_cluster_and_are_stored_once(stack: dict[str, str]) -> None:
    from posguard.ingest.publisher import EventPublisher
    from posguard.ingest.simulator import ChainSimulator
    from posguard.store.backends.http_backend import HttpBackend
    from posguard.streams.topics import Topics

    n = 5000
    events = list(ChainSimulator(3, 4, seed=21).events(n, 1_796_000_000_000_000))
    pub = EventPublisher("localhost:19092,localhost:29092,localhost:39092", Topics())
    pub.publish_many(events)
    assert pub.flush(120) == 0
    ch = HttpBackend(f"http://posguard:{PASSWORD}@localhost:8123", "posguard")
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            if ch.query("SELECT count() FROM posguard.events").scalar() >= n:
                break
            time.sleep(2)
        time.sleep(5)
        assert ch.query("SELECT count(), uniqExact(event_id) FROM posguard.events").rows[0] == (
            n, n)
        # Both shards hold rows: the Distributed table spread them by terminal.
        per_shard = ch.query("SELECT shardNum() AS s, count() FROM posguard.events "
                             "GROUP BY s ORDER BY s").rows
        assert len(per_shard) == 2 and all(c > 0 for _, c in per_shard)
        assert ch.query("SELECT count() FROM posguard.receipts FINAL").scalar() > 0
    finally:
        ch.close()
