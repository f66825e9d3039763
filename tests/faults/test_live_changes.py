"""Changes and slow parts during traffic (publisher-driven, one `posguard worker`):

6. the detector configuration is changed through `PUT /api/detectors` of a `posguard console`
   (node token) while events flow: one detector is disabled. Events stay exactly once; every
   other detector's incidents are exactly what the archive run gives (their state is carried
   over by GUID); the disabled one raises nothing on events after the workers loaded the
   change, and everything it should have raised before the change is there.
7. a user script blocks forever in its first callback, beside one that records every event:
   the pipeline (events, incidents) and the recording script miss nothing.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
import pytest

from posguard.detectors.config import default_config
from posguard.detectors.engine import DetectorEngine, run_archive
from tests.faults.harness import (
    SUMMARY,
    Outcome,
    PublisherTraffic,
    Stack,
    api,
    chain_events,
    ready,
    reconcile,
    settle,
    stored_events,
    wait_until,
)

pytestmark = [pytest.mark.timeout(300)]
DISABLED = "PGD00002"  # delete without an administrator: the simulated fraud raises it often


class ConfigChange:
    def __init__(self, out: Outcome, rows: list[tuple[str, str, list[str]]], expected: Any,
                 n_put: int, n_loaded: int):
        self.out, self.rows, self.expected = out, rows, expected
        self.n_put, self.n_loaded = n_put, n_loaded


def _index(event_id: str) -> int:
    return int(event_id.rsplit("-", 1)[1])


@pytest.fixture(scope="module")
def config_change(make_stack: Any) -> ConfigChange:
    stack: Stack = make_stack("detector-change")
    w = stack.worker("w1").start()
    console, url = stack.console("console")
    console.start()
    token_file = stack.tmp / "console" / "api-token"
    wait_until(lambda: token_file.exists() and _healthy(url), 60, "console up", [console])
    ready(stack, w)
    events = chain_events(2400, seed=106)
    traffic = PublisherTraffic(stack.bootstrap, stack.topics, events, rate=150).start()
    wait_until(lambda: traffic.progress() >= 0.4, 60, "traffic progress", [w])
    with api(url, token_file.read_text().strip()) as c:
        xml = c.get("/api/detectors").raise_for_status().content
        changed = re.sub(rb'(<detector guid="' + DISABLED.encode() + rb'"[^>]*?enabled=")true',
                         rb"\1false", xml)
        assert changed != xml
        c.put("/api/detectors", content=changed,
              headers={"content-type": "application/xml"}).raise_for_status()
    n_put = len(traffic.acked)
    wait_until(lambda: "detector configuration loaded" in w.log(), 30, "worker reloads", [w])
    n_loaded = len(traffic.acked)
    traffic.join()
    settle(stack, len(traffic.acked), procs=[w])
    out = reconcile(stack, events, traffic.acked)
    rows = [(str(i), str(d), list(r)) for i, d, r in stack.backend.query(
        f"SELECT id, detector, related_events FROM {stack.db}.incidents WHERE version = 0"
    ).rows]
    expected = run_archive(DetectorEngine.from_config(default_config()),
                           _unique(stored_events(stack)))
    SUMMARY.add("6 detector change in traffic", out,
                f"{DISABLED} disabled after event {n_put}..{n_loaded}; incidents rows "
                f"{out.incidents_rows}")
    return ConfigChange(out, rows, expected, n_put, n_loaded)


def _unique(evs: list[Any]) -> list[Any]:
    seen: set[str] = set()
    return [e for e in evs if not (e.event_id in seen or seen.add(e.event_id))]  # type: ignore[func-returns-value]


def _healthy(url: str) -> bool:
    try:
        return httpx.get(f"{url}/api/health", timeout=1).is_success
    except httpx.HTTPError:
        return False


def test_config_change_events(config_change: ConfigChange) -> None:
    assert config_change.out.events_clean, config_change.out.explain()


def test_config_change_other_detectors_unaffected(config_change: ConfigChange) -> None:
    want = {i.id for i in config_change.expected if i.detector != DISABLED}
    got = [i for i, d, _ in config_change.rows if d != DISABLED]
    assert len(got) == len(set(got)), "an incident stored twice"
    assert set(got) == want, config_change.out.explain()


def test_config_change_disabled_detector(config_change: ConfigChange) -> None:
    c = config_change
    raised = {i.id: i for i in c.expected if i.detector == DISABLED}
    before = {i for i, inc in raised.items()
              if max(_index(e) for e in inc.related_events) < c.n_put - 50}
    after = {i for i, inc in raised.items()
             if min(_index(e) for e in inc.related_events) > c.n_loaded + 50}
    assert before and after, "the traffic must raise it before and after the change"
    stored = {i for i, d, _ in c.rows if d == DISABLED}
    assert before <= stored, f"missing before the change: {len(before - stored)}"
    assert not stored & after, f"raised after the change: {len(stored & after)}"
    assert stored <= set(raised)


SCRIPTS = {
    "blocker.py": (
        "import time\n"
        "def f(ev):\n"
        "    while True:\n"
        "        time.sleep(0.2)\n"
        "activate_on_pos_events(f)\n"),
    "recorder.py": (
        "out = open(OUT, 'a')\n"
        "def f(ev):\n"
        "    out.write(ev.article + '\\n')\n"
        "    out.flush()\n"
        "activate_on_pos_events(f)\n"),
}


@pytest.fixture(scope="module")
def blocking_script(make_stack: Any) -> tuple[Outcome, set[str]]:
    stack: Stack = make_stack("blocking-script")
    folder = stack.tmp / "scripts"
    folder.mkdir()
    seen_file = stack.tmp / "recorded.txt"
    for name, text in SCRIPTS.items():
        (folder / name).write_text(text.replace("OUT", repr(str(seen_file))))
    w = stack.worker("w1").start()
    host = stack.scripts("scripts", folder).start()
    ready(stack, w)
    warm = PublisherTraffic(stack.bootstrap, stack.topics, chain_events(200, seed=99))
    pending = iter(warm.events)
    warmed: list[Any] = []

    def recorder_live() -> bool:  # the scripts subscribe from "now": warm up until they see
        warmed.append(next(pending))
        warm.pub.publish_many(warmed[-1:])
        warm.pub.flush(5)
        return seen_file.exists() and seen_file.stat().st_size > 0

    wait_until(recorder_live, 90, "the recorder script to receive events", [host, w], 1.0)
    events = chain_events(2000, seed=107)
    traffic = PublisherTraffic(stack.bootstrap, stack.topics, events, rate=200).start()
    traffic.join()
    took = settle(stack, len(traffic.acked) + len(warmed), procs=[w, host])
    wait_until(lambda: {e.event_id for e in traffic.acked} <= _recorded(seen_file), 30,
               "the recorder to see every event", [host], soft=True)
    recorded = _recorded(seen_file)
    out = reconcile(stack, [*warmed, *events], [*warmed, *traffic.acked])
    out.recover_seconds = took
    missed = len({e.event_id for e in traffic.acked} - recorded)
    SUMMARY.add("7 blocking user script", out,
                f"recorder missed {missed}; incidents {out.incidents_rows}/"
                f"{out.incidents_expected}")
    host.check()
    return out, recorded & {e.event_id for e in traffic.acked}


def _recorded(path: Path) -> set[str]:
    return set(path.read_text().split()) if path.exists() else set()


def test_blocking_script_pipeline_unaffected(blocking_script: tuple[Outcome, set[str]]) -> None:
    out, _ = blocking_script
    assert out.events_clean, out.explain()
    assert out.incidents_clean, out.explain()


def test_blocking_script_other_script_unaffected(
        blocking_script: tuple[Outcome, set[str]]) -> None:
    out, recorded = blocking_script
    assert len(recorded) == out.acked - (out.sent - 2000), \
        f"the recorder saw {len(recorded)} of the acknowledged events"
