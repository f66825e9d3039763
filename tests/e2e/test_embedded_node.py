"""`posguard up --demo` as `make run` starts it: no --kafka (the embedded Tansu broker as a
child process), chDB under --data, demo traffic, a user script folder. Checks what the
README promises: the node is up in under a minute, `posguard search --last 1h --limit 5`
prints simulated events with the documented columns, the folder's script receives live
events, and a stop takes the broker down with the node.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from posguard.streams.broker import free_port

pytestmark = [pytest.mark.integration, pytest.mark.e2e, pytest.mark.timeout(240)]

SCRIPT = '''
def on_event(ev):
    with open({out!r}, "a") as f:
        f.write(ev.type + "\\n")

activate_on_pos_events(on_event)
'''


def _children(pid: int) -> set[int]:
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True,
                         text=True, check=False).stdout
    return {int(p) for p in out.split()}


def test_make_run_node_comes_up_and_serves_search(tmp_path: Path) -> None:
    data, scripts, seen = tmp_path / "data", tmp_path / "scripts", tmp_path / "seen.txt"
    scripts.mkdir()
    (scripts / "count_events.py").write_text(SCRIPT.format(out=str(seen)))
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("POSGUARD_")}
    cli = [sys.executable, "-m", "posguard.console.cli"]
    log = (tmp_path / "node.log").open("wb")
    t0 = time.monotonic()
    node = subprocess.Popen(cli + ["up", "--demo", "--demo-rate", "200", "--data", str(data),
                                   "--http", f"127.0.0.1:{port}", "--scripts", str(scripts)],
                            stdout=log, stderr=subprocess.STDOUT, env=env)
    try:
        def logged() -> str:
            return (tmp_path / "node.log").read_text(errors="replace")

        while True:
            assert node.poll() is None, logged()[-3000:]
            try:
                if httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=1).is_success:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() - t0 < 60, "not up in a minute:\n" + logged()[-3000:]
            time.sleep(0.3)
        assert "posguard node up" in logged()

        search = cli + ["search", "--last", "1h", "--limit", "5", "--format", "csv",
                        "--data", str(data), "--http", f"127.0.0.1:{port}"]
        deadline = time.monotonic() + 90
        while True:
            r = subprocess.run(search, capture_output=True, text=True, env=env, timeout=60)
            rows = [ln for ln in r.stdout.splitlines() if ln.strip()]
            if r.returncode == 0 and len(rows) == 6:  # header + 5 events
                break
            assert time.monotonic() < deadline, f"search gave {r.returncode}: {r.stdout}{r.stderr}"
            time.sleep(1)
        header = rows[0].split(",")
        for column in ("ts_received", "pos_terminal", "op_id", "cashier_name", "type", "text",
                       "price"):
            assert column in header, header
        types = [row.split(",")[header.index("type")] for row in rows[1:]]
        assert all(t.startswith("POS_") for t in types), rows

        deadline = time.monotonic() + 60
        while not (seen.exists() and seen.read_text().count("POS_") >= 10):
            assert time.monotonic() < deadline, "the script got no live events:\n" + logged()[-3000:]
            time.sleep(0.5)
        children = _children(node.pid)
        assert children, "the embedded broker runs as a child of the node"
    finally:
        if node.poll() is None:
            node.send_signal(signal.SIGTERM)
        try:
            node.wait(60)
        except subprocess.TimeoutExpired:
            node.kill()
            node.wait(10)
        log.close()
    deadline = time.monotonic() + 15
    while any(Path(f"/proc/{p}").exists() for p in children) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not any(Path(f"/proc/{p}").exists() for p in children), "a child outlived the node"
