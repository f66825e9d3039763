"""console/probe_api over a real loopback socket (no Kafka): /api/health is open and says
degraded when Kafka is away or a problem is reported; /metrics wants the token when there is
one; a taken port is a SettingsError."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest

from posguard.console.errors import SettingsError
from posguard.console.probe_api import ProcessProbe, serve_probe
from posguard.streams.broker import free_port
from posguard.streams.consumer_lag import LagSnapshot, PartitionLag

pytestmark = pytest.mark.integration


@contextmanager
def served(probe: ProcessProbe) -> Iterator[httpx.Client]:
    port = free_port()
    server = serve_probe(probe, f"127.0.0.1:{port}")
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=5) as client:
            yield client
    finally:
        server.stop()


def test_health_is_open_and_metrics_want_the_token() -> None:
    lag = LagSnapshot((PartitionLag("posguard.script.s", "pos.events", 0, 3, 5, 2),), ok=True)
    probe = ProcessProbe("scripts", "k:9092", {"scripts": lambda: {"s_events": 4}},
                         kafka_reachable=lambda: True, details=lambda: {"problems": []},
                         lag=lambda: lag, token="t0k")
    with served(probe) as client:
        check_token_probe(client)


def check_token_probe(client: httpx.Client) -> None:
    health = client.get("/api/health")
    assert health.status_code == 200
    assert health.json()["status"] == "ok" and health.json()["kafka"] == "k:9092"
    assert client.get("/metrics").status_code == 401
    r = client.get("/metrics", headers={"Authorization": "Bearer t0k"})
    assert r.status_code == 200
    assert "posguard_scripts_s_events 4\n" in r.text
    assert ('posguard_consumer_lag{group="posguard.script.s",topic="pos.events",'
            'partition="0"} 2') in r.text
    assert client.get("/docs").status_code == 404  # only the two routes


def test_unreachable_kafka_or_a_problem_is_degraded_and_no_token_means_open() -> None:
    probe = ProcessProbe("ingest", "k:9092", kafka_reachable=lambda: False)
    with served(probe) as client:
        assert client.get("/api/health").json()["status"] == "degraded"
        assert client.get("/metrics").status_code == 200
    probe = ProcessProbe("ingest", "k:9092", details=lambda: {"problems": ["spool full"]})
    with served(probe) as client:
        body = client.get("/api/health").json()
    assert body["status"] == "degraded" and body["kafka_reachable"] is None
    assert body["problems"] == ["spool full"]


def test_a_taken_port_is_a_settings_error() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        with pytest.raises(SettingsError, match="cannot serve"):
            serve_probe(ProcessProbe("ingest", ""), f"127.0.0.1:{s.getsockname()[1]}",
                        timeout=10)
