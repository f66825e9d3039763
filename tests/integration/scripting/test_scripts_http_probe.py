"""`posguard scripts --dir DIR --http HOST:PORT` as a process: /api/health names the
scripts and says Kafka answers, /metrics (open: no token in its data folder) shows the
script's event counter moving and the lag of its consumer group."""

from __future__ import annotations

import subprocess
import sys
import time
import uuid

import httpx
import pytest

from posguard.ingest.publisher import EventPublisher
from posguard.model.events import PosEvent
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
        pub = EventPublisher(kafka_bootstrap, topics)
        n = 0

        def counted() -> float:
            r = get("/metrics")
            assert r.status_code == 200
            return metric(r.text, f"posguard_scripts_{name}_events")

        # The script's consumer joins its group a moment after start: publish until it counts.
        while counted() < 1 and n < 60:
            pub.publish(PosEvent(type="POS_POSITION_ADD", pos_terminal="T1", op_id=f"L{n}",
                                 ts_in_receipt=1_796_000_000_000_000 + n,
                                 ts_received=1_796_000_000_000_000 + n, event_id=f"L{n}"))
            pub.flush(5)
            n += 1
            time.sleep(0.25)
        assert counted() >= 1
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
