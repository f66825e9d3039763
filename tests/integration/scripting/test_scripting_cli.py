"""`posguard scripts --dir` in cluster mode (Kafka + ClickHouse over HTTP) as a process:
scripts run, search the store, and Ctrl-C runs their finalizers."""

from __future__ import annotations

import subprocess
import sys

import pytest

from posguard.model.events import PosEvent
from posguard.store.writer import insert_events
from tests.process_testkit import interrupt, running

pytestmark = pytest.mark.integration

SCRIPT = '''\
import time
from pos_utils import *

found = []
search_pos_events(found.append, 0, time.time(), {"text": [StringFilter("kefir")]})
with open("found.txt", "w") as f:
    f.write(",".join(e.op_id for e in found))

def on_event(ev):
    with open("live.txt", "a") as f:
        f.write(ev.op_id + "\\n")

def bye():
    with open("bye.txt", "w") as f:
        f.write("finalized")

activate_on_pos_events(on_event)
register_finalizer(bye)
'''


def test_scripts_command_runs_a_folder_until_sigint(kafka_bootstrap, topics, store,
                                                    clickhouse_url, tmp_path, h) -> None:
    insert_events(store, [PosEvent(type="POS_POSITION_ADD", pos_terminal="T1", text=t,
                                   op_id=str(n), ts_in_receipt=1_700_000_000_000_000 + n,
                                   ts_received=1_700_000_000_000_000 + n, event_id=f"k{n}")
                          for n, t in enumerate(["Kefir 1%", "Milk", "kefir 2.5%"])])
    scripts = tmp_path / "scripts"
    scripts.mkdir()
    (scripts / "watch.py").write_text(SCRIPT)
    proc = subprocess.Popen(
        [sys.executable, "-m", "posguard.console.cli", "scripts", "--dir", str(scripts),
         "--kafka", kafka_bootstrap, "--clickhouse", clickhouse_url, "--database",
         store.database, "--topic-prefix", topics.prefix, "--data", str(tmp_path / "data"),
         "--session-timeout", "6"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    with running(proc):
        assert h.wait_for(lambda: (scripts / "found.txt").exists(), 60)
        assert h.wait_for(lambda: (scripts / "found.txt").read_text() == "0,2", 5)
        live = scripts / "live.txt"
        assert h.publish_until_seen(kafka_bootstrap, topics, live.exists, attempts=120,
                                    pause=0.5)
        out = interrupt(proc)
    assert proc.returncode == 0, out
    assert "running 1 script(s)" in out and "watch" in out
    assert (scripts / "bye.txt").read_text() == "finalized"


def test_script_run_runs_one_file_and_ctrl_c_runs_its_finalizers(kafka_bootstrap, topics,
                                                                 tmp_path, h) -> None:
    path = tmp_path / "one.py"
    path.write_text(
        "open('started.txt', 'w').write('yes')\n"
        "register_finalizer(lambda: open('bye.txt', 'w').write('finalized'))\n")
    proc = subprocess.Popen(
        [sys.executable, "-m", "posguard.console.cli", "script", "run", str(path),
         "--kafka", kafka_bootstrap, "--topic-prefix", topics.prefix,
         "--data", str(tmp_path / "data")],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    with running(proc):
        assert h.wait_for(lambda: (tmp_path / "started.txt").exists(), 60)
        out = interrupt(proc)
    assert proc.returncode == 0, out
    assert (tmp_path / "bye.txt").read_text() == "finalized"
