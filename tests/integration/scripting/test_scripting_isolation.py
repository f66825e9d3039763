"""Isolation: a script that raises in every callback, one that sleeps (60 s) in a callback and
one that calls the API with wrong types each get a clear error, while the other scripts and
the pipeline (the ClickHouse sink) keep going."""

from __future__ import annotations

import pytest

from posguard.ingest.publisher import EventPublisher
from posguard.model.events import PosEvent
from posguard.store.search import count_events

pytestmark = pytest.mark.integration

N = 200

SCRIPTS = {
    "raiser.py": "def f(ev):\n    return 1 / 0\nactivate_on_pos_events(f)\n",
    "sleeper.py": (
        "import time\n"
        "slept = []\n"
        "def f(ev):\n"
        "    if not slept:\n"
        "        slept.append(ev.op_id)\n"
        "        time.sleep(60)\n"  # far longer than the test, even on a loaded CI machine
        "activate_on_pos_events(f)\n"),
    "wrong_types.py": (
        "def f(ev):\n"
        "    search_pos_events(ev, 'yesterday', None, {'colour': 'red'})\n"
        "activate_on_pos_events(f)\n"
        "pos_fraud('not an event', 42)\n"),
    "good.py": (
        "import host\n"
        "from pos_utils import *\n"
        "seen = []\n"
        "def f(ev):\n"
        "    seen.append(ev.op_id)\n"
        "    if len(seen) == N:\n"
        "        host.message('all %d events seen' % len(seen))\n"
        "activate_on_pos_events(f)\n").replace("N", str(N)),
}


def test_failing_slow_and_wrong_scripts_do_not_stop_the_others_or_the_pipeline(
        make_host, kafka_bootstrap, topics, store, sink, tmp_path, notes, h) -> None:
    for name, text in SCRIPTS.items():
        (tmp_path / name).write_text(text)
    host = make_host()
    scripts = {s.name: s for s in host.load_dir(tmp_path)}
    assert sorted(scripts) == ["good", "raiser", "sleeper", "wrong_types"]
    assert host.wait_ready(60)
    # The wrong call at the top level is reported; the subscription made before it stands.
    load_error = scripts["wrong_types"].errors[0]
    assert load_error.startswith("script wrong_types: error in loading: ScriptApiError: "
                                 "pos_fraud(): ev must be an event received by the script")
    assert 'wrong_types.py", line 4' in load_error

    pub = EventPublisher(kafka_bootstrap, topics)
    for i in range(N):
        pub.publish(PosEvent(type="POS_POSITION_ADD", pos_terminal=f"T{i % 4}",
                             ts_in_receipt=1_796_000_000_000_000 + i,
                             ts_received=1_796_000_000_000_000 + i, op_id=str(i),
                             event_id=f"iso{i}", text="Milk"))
    assert pub.flush(10) == 0

    assert notes.wait_for(lambda: notes.of("message", "good") == [f"all {N} events seen"])
    good = scripts["good"]
    assert sorted(good.namespace["seen"], key=int) == [str(i) for i in range(N)]
    assert good.stats()["errors"] == 0
    # The pipeline stored everything while the sleeper still sleeps in its first callback
    # (its own feed may reach it after the good script's: it is waited for, not assumed).
    assert h.wait_for(lambda: count_events(store, 0, 2**62) == N)
    sleeper = scripts["sleeper"]
    assert h.wait_for(lambda: sleeper.namespace["slept"] and sleeper.worker.pending() > 0)
    # The raiser got every event and failed on each: reported with name and traceback,
    # rate-limited (5 in full per window), all counted.
    raiser = scripts["raiser"]
    assert h.wait_for(lambda: raiser.events_received == N)
    assert raiser.stats()["errors"] == N
    first = raiser.errors[0]
    assert first.startswith("script raiser: error in event callback: ZeroDivisionError: "
                            "division by zero\nTraceback (most recent call last):\n")
    assert 'raiser.py", line 2, in f' in first and "posguard/scripting" not in first
    assert len(notes.of("error", "raiser")) == 5
    # Wrong types in a callback: a clear error each time, and the script keeps receiving.
    wrong = scripts["wrong_types"]
    assert h.wait_for(lambda: wrong.events_received == N)
    assert wrong.stats()["errors"] == N + 1
    assert "search_pos_events(): callback must be callable (a function or lambda), not " \
           "ScriptEvent" in wrong.errors[1]

    # Stopping does not wait for the sleeper's 60 s: it is reported and abandoned.
    host.stop(grace=0.5)
    assert sleeper.errors[-1].startswith("script sleeper was still busy in a callback when "
                                         "stopped (waited 0.")
    assert sleeper.errors[-1].endswith("s); its finalizers were not run")
    assert good.state == "stopped"
