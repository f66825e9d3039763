"""`posguard ingest --http HOST:PORT` as a process: /api/health answers without a token,
/metrics wants the token of its data folder and shows the adapters' counters moving as a
terminal sends events; Ctrl-C stops it cleanly."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from ingest_it import send_tcp, wait_for

from posguard.ingest.encoders import to_ndjson
from posguard.model.events import PosEvent
from posguard.streams.broker import free_port
from posguard.streams.topics import Topics
from tests.process_testkit import interrupt, running

pytestmark = pytest.mark.integration
T0 = 1_796_000_000_000_000


def metric(text: str, name: str) -> float:
    """The value of an unlabelled series in Prometheus text (-1 when absent)."""
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return -1


def wait_http(url: str, proc: subprocess.Popen[str], timeout: float = 30.0) -> httpx.Response:
    deadline = time.monotonic() + timeout
    while True:
        try:
            return httpx.get(url, timeout=2)
        except httpx.TransportError:
            if proc.poll() is not None:
                raise AssertionError(f"the process exited: {proc.communicate()[0]}") from None
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def test_ingest_serves_health_and_metrics_on_http(kafka_bootstrap: str, topics: Topics,
                                                  tmp_path: Path) -> None:
    port, http = free_port(), free_port()
    data = tmp_path / "data"
    data.mkdir()
    (data / "api-token").write_text("s3cret\n")
    config = tmp_path / "posguard.toml"
    config.write_text(f'[ingest]\nbind = "127.0.0.1"\n\n[[terminals]]\nguid = "PROBE001"\n'
                      f'protocol = "json"\nport = {port}\n')
    proc = subprocess.Popen(
        [sys.executable, "-m", "posguard.console.cli", "ingest", "--kafka", kafka_bootstrap,
         "--topic-prefix", topics.prefix, "--data", str(data), "--config", str(config),
         "--http", f"127.0.0.1:{http}"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{http}"
    auth = {"Authorization": "Bearer s3cret"}
    with running(proc):
        health = wait_http(f"{base}/api/health", proc)
        assert health.status_code == 200
        body = health.json()
        assert body["runs"] == "ingest" and body["kafka"] == kafka_bootstrap
        assert httpx.get(f"{base}/metrics", timeout=5).status_code == 401
        assert httpx.get(f"{base}/metrics", timeout=5,
                         headers={"Authorization": "Bearer wrong"}).status_code == 401
        wait_for(lambda: httpx.get(f"{base}/api/health", timeout=5).json()["listeners"]
                 == [f"tcp:{port}"], 20, "the listener")
        before = httpx.get(f"{base}/metrics", timeout=5, headers=auth)
        assert before.status_code == 200
        assert before.headers["content-type"].startswith("text/plain")
        assert metric(before.text, "posguard_ingest_accepted") == 0
        events = [PosEvent(type="POS_POSITION_ADD", pos_terminal="PROBE001",
                           ts_in_receipt=T0 + i, ts_received=0, op_id=f"{i}", position=i + 1,
                           price=100, text="milk") for i in range(2)]
        send_tcp(port, b"".join(to_ndjson(e) for e in events))

        def moved() -> bool:
            text = httpx.get(f"{base}/metrics", timeout=5, headers=auth).text
            return (metric(text, "posguard_ingest_accepted") == 2
                    and metric(text, "posguard_ingest_publisher_sent") == 2)

        wait_for(moved, 20, "the ingest counters to count 2 events")
        text = httpx.get(f"{base}/metrics", timeout=5, headers=auth).text
        assert metric(text, "posguard_ingest_bytes_in") > 0
        assert metric(text, "posguard_ingest_connections_total") == 1
        health = httpx.get(f"{base}/api/health", timeout=5).json()
        assert health["status"] == "ok" and health["kafka_reachable"] is True
        assert health["publisher"] == "direct"
        out = interrupt(proc, timeout=30)
    assert proc.returncode == 0, out


def test_ingest_http_port_taken_is_an_error(kafka_bootstrap: str, topics: Topics,
                                            tmp_path: Path) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        taken = s.getsockname()[1]
        p = subprocess.run(
            [sys.executable, "-m", "posguard.console.cli", "ingest", "--kafka",
             kafka_bootstrap, "--topic-prefix", topics.prefix, "--data", str(tmp_path),
             "--http", f"127.0.0.1:{taken}"], capture_output=True, text=True, timeout=60)
    assert p.returncode == 1
    assert f"cannot serve /api/health and /metrics on 127.0.0.1:{taken}" in p.stderr
