"""The host without a broker or store: namespaces, host module, pos_utils, Python 2 names,
timers, finalizers, argument checks and error reports."""

from __future__ import annotations

from pathlib import Path

import pytest

from posguard.model.events import PosEvent
from posguard.model.incidents import Incident
from posguard.scripting import ScriptHost, ScriptServices
from posguard.scripting.host import ERROR_REPORTS_PER_WINDOW
from posguard.scripting.py2compat import Text
from posguard.scripting.values import (
    EVENT_FIELDS,
    INCIDENT_FIELDS,
    event_for_script,
    incident_for_script,
)
from posguard.streams.topics import Topics


@pytest.fixture
def run(tmp_path: Path):  # type: ignore[no-untyped-def]
    """run(source) -> (script, notes): load a script in a host with no broker or store."""
    notes: list[tuple[str, str, str]] = []
    hosts: list[ScriptHost] = []

    def go(source: str, name: str = "s"):  # type: ignore[no-untyped-def]
        services = ScriptServices(bootstrap="127.0.0.1:9", topics=Topics("unit."),
                                  notify=lambda *a: notes.append(a), workdir=tmp_path)
        host = ScriptHost(services)
        hosts.append(host)
        path = tmp_path / f"{name}.py"
        path.write_text(source)
        script = host.add(path)
        assert host.wait_ready(10) and host.wait_idle(10)
        return script, notes

    yield go
    for h in hosts:
        h.stop(grace=2)


def test_api_as_bare_globals_and_host_module_and_pos_utils(run) -> None:  # type: ignore[no-untyped-def]
    script, notes = run(
        "import host\n"
        "from host import alert as a2\n"
        "from pos_utils import *\n"
        "message('m')\n"
        "host.alert('a')\n"
        "a2('a2')\n"
        "error('e', 3000)\n"
        "log_message('only logged')\n"
        "flags = IncidentFlag.FILTER_CONFIRMED | IncidentFlag.FILTER_NONEMPTY_ESTIMATE\n"
        "sf = StringFilter('Milk', SearchFlags.STARTS_WITH | SearchFlags.CASE_SENSITIVE)\n"
        "rt = ReportType.VIOLATIONS_REPORT\n"
        "py2 = (unicode('x'), isinstance(u'x', basestring), long(2), list(xrange(2)), unichr(65))\n"
    )
    assert notes == [("message", "m", "s"), ("alert", "a", "s"), ("alert", "a2", "s"),
                     ("error", "e", "s")]
    ns = script.namespace
    assert int(ns["flags"]) == 9 and ns["sf"].flags == 9 and ns["rt"].name == "VIOLATIONS_REPORT"
    assert ns["py2"] == ("x", True, 2, [0, 1], "A")
    assert script.stats()["errors"] == 0 and script.state == "running"


def test_timeout_fires_once_on_the_scripts_thread_and_finalizers_run_on_stop(run) -> None:  # type: ignore[no-untyped-def]
    import time

    script, notes = run(
        "import threading\n"
        "fired = []\n"
        "timeout(10, lambda: fired.append(threading.current_thread().name))\n"
        "def bad(): raise RuntimeError('finalizer failed')\n"
        "register_finalizer(bad)\n"
        "register_finalizer(lambda: message('bye'))\n")
    deadline = time.monotonic() + 10
    while not script.namespace["fired"] and time.monotonic() < deadline:
        time.sleep(0.01)
    assert script.namespace["fired"] == ["script:s"]
    script.host.stop()
    assert ("message", "bye", "s") in notes  # the second runs though the first failed
    assert "RuntimeError: finalizer failed" in script.errors[0]
    assert script.state == "stopped"


@pytest.mark.parametrize(("call", "expected"), [
    ("activate_on_pos_events(42)",
     "activate_on_pos_events(): callback must be callable (a function or lambda), not int 42"),
    ("activate_on_pos_incidents(None, print)",
     "activate_on_pos_incidents(): detector_guid must be a string, not NoneType None"),
    ("search_pos_events(print, 'yesterday', 0)",
     "search_pos_events(): t0 (start): time bound 'yesterday' is not a number"),
    ("search_pos_events(print, 10, 5)", "search_pos_events(): the end 5 is before the start 10"),
    ("search_pos_events(print, 0, 1, [1])",
     "search_pos_events(): filter must be a dict, not list [1]"),
    ("search_pos_events(print, 0, 1, {'colour': 'red'})",
     "search_pos_events(): bad filter: \"unknown filter key(s) ['colour']"),
    ("search_pos_events(print, 0, 1, {'cashiers': 5})",
     "search_pos_events(): bad filter: filter key 'cashiers': expected a string or a list"),
    ("search_pos_incidents(print, 0, 1, {'flags': 'x'})",
     "search_pos_incidents(): bad filter: filter key 'flags': expected an integer"),
    ("pos_fraud('ev', 'text')", "pos_fraud(): ev must be an event received by the script"),
    ("pos_incident_create(1, 'x', 'y', print)",
     "pos_incident_create(): terminal_guid must be a string, not int 1"),
    ("pos_incident_create('T', 'x', 'y', 'print')",
     "pos_incident_create(): err_callback must be callable"),
    ("pos_import_detector(12)", "pos_import_detector(): xml must be the XML text, not int"),
    ("pos_process_archive('G', 0, 'now')",
     "pos_process_archive(): t1 (end): time bound 'now' is not a number"),
    ("generate_pos_report('NO_SUCH', 0, 1, print)", "generate_pos_report(): unknown report"),
    ("generate_pos_report(5, 0, 1, print)",
     "generate_pos_report(): report_type must be a ReportType, not int 5"),
    ("timeout('soon', print)", "timeout(): ms must be a non-negative number of milliseconds"),
    ("timeout(5, None)", "timeout(): callback must be callable"),
    ("error('x', 'long')", "error(): timeout must be milliseconds"),
    ("register_finalizer('bye')", "register_finalizer(): fn must be callable"),
])
def test_wrong_argument_types_get_a_clear_error(run, call: str, expected: str) -> None:  # type: ignore[no-untyped-def]
    script, notes = run(f"try:\n    {call}\nexcept TypeError as e:\n    caught = e\n{call}\n")
    assert type(script.namespace["caught"]).__name__ == "ScriptApiError"
    assert str(script.namespace["caught"]).startswith(expected), script.namespace["caught"]
    [(level, text, source)] = notes
    assert (level, source) == ("error", "s")
    assert text.startswith(f"script s: error in loading: ScriptApiError: {expected}")
    assert f's.py", line 5, in <module>\n    {call}' in script.errors[0]


def test_functions_needing_a_store_say_so(run) -> None:  # type: ignore[no-untyped-def]
    script, _ = run("search_pos_events(print, 0, 1)\n")
    assert "ScriptingError: search_pos_events(): this script host has no store" in \
        script.errors[0]


def test_a_syntax_error_is_reported_and_the_script_marked_failed(run) -> None:  # type: ignore[no-untyped-def]
    script, notes = run("print 'python 2 print statement'\n", name="old")
    assert script.state == "failed"
    assert notes[0][1].startswith("script old: cannot load ") and "SyntaxError" in notes[0][1]


def test_errors_are_rate_limited_but_counted(run) -> None:  # type: ignore[no-untyped-def]
    script, notes = run("for i in range(20):\n    timeout(0, lambda: 1 / 0)\n")
    script.host.wait_idle(10)
    import time

    deadline = time.monotonic() + 10
    while script.stats()["errors"] < 20 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert script.stats()["errors"] == 20
    assert len(notes) == ERROR_REPORTS_PER_WINDOW
    assert all("ZeroDivisionError" in t for _, t, _ in notes)


def test_event_and_incident_objects_have_exactly_the_documented_fields() -> None:
    ev = PosEvent(type="POS_POSITION_ADD", pos_terminal="T1", ts_in_receipt=1, ts_received=2,
                  text="Пиво", price=10398, weight=1250, event_id="e1", store="S1", volume=3)
    obj = event_for_script(ev)
    public = {a for a in dir(obj) if not a.startswith("_") and a != "source"}
    assert public == set(EVENT_FIELDS) and len(EVENT_FIELDS) == 20
    assert (obj.price, obj.weight, obj.ts_received) == (10398, 1250, 2)
    assert isinstance(obj.text, Text) and obj.text.decode("utf-8") == "Пиво"
    assert not hasattr(obj, "event_id") and obj.source is ev
    inc = Incident(id="i1", detector="D1", type_name="Delete", terminal_guid="T1", ts_created=5,
                   related_ts=[1, 2], custom_columns={"k": "v"}, status=1, expert_estimate=500)
    iobj = incident_for_script(inc)
    assert {a for a in dir(iobj) if not a.startswith("_")} == set(INCIDENT_FIELDS)
    assert len(INCIDENT_FIELDS) == 20
    assert (iobj.related_ts, iobj.custom_columns, iobj.status, iobj.expert_estimate) == (
        [1, 2], {"k": "v"}, 1, 500)
    assert iobj.type_name.decode("utf-8").upper().encode("utf-8").find("DEL") == 0


def test_event_objects_are_read_only_views() -> None:
    obj = event_for_script(PosEvent(type="POS_POSITION_ADD", pos_terminal="T1", ts_in_receipt=1,
                                    ts_received=2, text="Milk"))
    with pytest.raises(AttributeError):
        obj.text = "Beer"  # type: ignore[misc]
    assert obj == event_for_script(obj.source) and "text=" in repr(obj)


def test_registry_access_reads_the_nodes_terminal_registry(tmp_path: Path) -> None:
    from posguard.ingest.files import save_registry
    from posguard.ingest.registry import Terminal, TerminalRegistry
    from posguard.scripting.services import registry_access

    path = tmp_path / "posguard.toml"
    registered, zones = registry_access(path)  # no file yet
    assert not registered("ZyPx6vF0") and zones.of("ZyPx6vF0") == "UTC"
    save_registry(path, TerminalRegistry().add(Terminal(
        guid="ZyPx6vF0", name="Till 9", protocol="json", transport="tcp", port=5001,
        timezone="Europe/Moscow")))
    assert registered("ZyPx6vF0") and not registered("T1")  # re-read on each check
    _, zones = registry_access(path)
    assert zones.of("ZyPx6vF0") == "Europe/Moscow" and zones.of("T1") == "UTC"


def test_a_failing_feed_is_reported_and_retried(tmp_path: Path) -> None:
    import time

    notes: list[tuple[str, str, str]] = []
    services = ScriptServices(bootstrap="127.0.0.1:9", topics=Topics("unit."),
                              notify=lambda *a: notes.append(a),
                              consumer_config={"no.such.property": "1"})
    host = ScriptHost(services)
    (tmp_path / "feed.py").write_text("activate_on_pos_events(print)\n")
    script = host.add(tmp_path / "feed.py")
    try:
        deadline = time.monotonic() + 10
        while (script.feed is None or script.feed.restarts < 2) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert script.feed is not None and script.feed.restarts >= 2
        assert notes[0][0] == "error" and notes[0][1].startswith(
            "script feed: event feed failed (KafkaException: ")
        assert "no.such.property" in notes[0][1]
    finally:
        host.stop(grace=2)


def test_metrics_are_flat_counters(run) -> None:  # type: ignore[no-untyped-def]
    script, _ = run("1 / 0\n", name="bad")
    m = script.host.metrics()
    assert m["scripts"] == 1 and m["scripts_failed"] == 1 and m["bad_errors"] == 1
    assert all(isinstance(v, int) for v in m.values())
