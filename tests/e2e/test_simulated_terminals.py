"""`posguard simulate --protocol ... --transport ...` drives the node's real listeners."""

from __future__ import annotations

import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from posguard.streams.broker import free_port
from posguard.streams.topics import Topics, ensure_topics
from tests.e2e.test_pipeline import NodeProcess

pytestmark = [pytest.mark.integration, pytest.mark.e2e]


def test_terminal_protocols_reach_the_store(kafka_bootstrap: str, tmp_path: Path) -> None:
    topics = Topics(prefix=f"s{uuid.uuid4().hex[:8]}.")
    ensure_topics(kafka_bootstrap, topics, 4)
    data = tmp_path / "node"
    data.mkdir()
    tcp, udp = free_port(), free_port()
    (data / "posguard.toml").write_text(f"""
[ingest]
bind = "127.0.0.1"
auto_register = true

[[ingest.listeners]]
transport = "tcp"
port = {tcp}
protocol = "dssl-xml"

[[ingest.listeners]]
transport = "udp"
port = {udp}
protocol = "json"
""")
    node = NodeProcess(kafka_bootstrap, topics, data)
    node.start()
    try:
        sent = 0
        for proto, transport, target, seed in (
                ("dssl-xml", "tcp", f"127.0.0.1:{tcp}", 1),
                ("json", "udp", f"127.0.0.1:{udp}", 2),
                ("json", "http", f"http://127.0.0.1:{node.port}", 3)):
            out = subprocess.run(
                [sys.executable, "-m", "posguard.console.cli", "simulate", "--protocol", proto,
                 "--transport", transport, "--target", target, "--rate", "300", "--duration",
                 "1", "--stores", "1", "--terminals", "2", "--seed", str(seed)],
                capture_output=True, text=True, timeout=60)
            assert out.returncode == 0, out.stderr
            sent += int(out.stdout.split()[1])
        assert sent > 600
        assert node.wait_for_count(sent, 60) == {"count": sent, "distinct": sent}
    finally:
        node.stop()
