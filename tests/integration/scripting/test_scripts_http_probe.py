"""`posguard scripts --dir DIR --http HOST:PORT` as a process: /api/health names the
scripts and says Kafka answers, /metrics (open: no token in its data folder) shows the
script's event counter moving and the lag of its consumer group."""

from __future__ import annotations

import subprocess
import sys
import uuid

import httpx
import pytest

from posguard.streams.broker import free_port
from tests.process_testkit import interrupt, running

pytestmark = pytest.mark.integration

SCRIPT = "activate_on_pos_events(lambda ev: None)\n"


def metric(text: str, name: str) -> float:
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return -1


def test_scripts_serve_health_and_metrics_on_http(kafka_bootstrap, topics, tmp_path, h) -> None:
    scripts = tmp_path / "scripts"
    scripts.mkdir()
    name = f"probe{uuid.uuid4().hex[:8]}"  # its group, posguard.script.<name>, is not prefixed
    (scripts / f"{name}.py").write_text(SCRIPT)
    http = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "posguard.console.cli", "scripts", "--dir", str(scripts),
         "--kafka", kafka_bootstrap, "--topic-prefix", topics.prefix,
         "--data", str(tmp_path / "data"), "--session-timeout", "6",
         "--http", f"127.0.0.1:{http}"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{http}"

    def get(path: str) -> httpx.Response:
        return httpx.get(base + path, timeout=10)

    def up() -> bool:
        try:
            return get("/api/health").status_code == 200
        except httpx.TransportError:
            return proc.poll() is not None

    with running(proc):
        assert h.wait_for(up, 60)
        assert proc.poll() is None, proc.communicate()[0]
        health = get("/api/health")
        assert health.status_code == 200, proc.poll()
        assert health.json()["runs"] == "scripts"
        assert health.json()["scripts"] == {name: "running"}
        def counted() -> float:
            r = get("/metrics")
            assert r.status_code == 200
            return metric(r.text, f"posguard_scripts_{name}_events")

        assert h.publish_until_seen(kafka_bootstrap, topics, lambda: counted() >= 1)
        assert metric(get("/metrics").text, "posguard_scripts_scripts") == 1
        # Its group commits (auto-commit, 5 s): then its lag series shows up.
        assert h.wait_for(lambda: f'posguard_consumer_lag{{group="posguard.script.{name}"'
                          in get("/metrics").text, 20)
        text = get("/metrics").text
        assert "posguard_consumer_lag_up 1" in text
        health = get("/api/health")
        assert health.json()["status"] == "ok" and health.json()["kafka_reachable"] is True
        out = interrupt(proc)
    assert proc.returncode == 0, out
