"""Detector configuration, archive runs and incidents from scripts: the reference's examples
6, 7, 8 and 4, verbatim, against the real broker and store."""

from __future__ import annotations

import logging
import shutil

import pytest

from posguard.detectors.config import default_config, parse_config
from posguard.detectors.testing import receipt
from posguard.model.incident_filters import IncidentFilter
from posguard.scripting.detector_store import KafkaDetectorConfig
from posguard.store.incidents import search_incidents
from posguard.store.writer import insert_events

pytestmark = pytest.mark.integration

US = 1_000_000
NOW = 1_796_000_000.0


def test_example_8_replaces_the_configuration_and_a_bad_file_keeps_it(
        make_host, kafka_bootstrap, topics, tmp_path, notes, h) -> None:
    configs = KafkaDetectorConfig(kafka_bootstrap, topics, max_age=0)
    assert configs.get() == default_config()  # nothing on pos.detectors yet
    shutil.copy(h.scripts / "data" / "pos_detectors.xml", tmp_path / "pos_detectors.xml")
    host = make_host()
    script = host.add(h.scripts / "ex8_pos_import_detector.py")
    assert host.wait_ready(30) and host.wait_idle(30)
    assert script.stats()["errors"] == 0, script.errors
    got = configs.get()
    assert [d.guid for d in got.detectors] == ["T1RuoVF7", "LgDisc01"]
    assert got == parse_config((h.scripts / "data" / "pos_detectors.xml").read_bytes())

    # A hostile file (entities) is refused with the reason; the configuration stays.
    (tmp_path / "pos_detectors.xml").write_text(
        '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><posguard_detectors '
        'version="1">&a;</posguard_detectors>')
    again = host.add(h.scripts / "ex8_pos_import_detector.py")
    assert host.wait_ready(30) and host.wait_idle(30)
    assert again.stats()["errors"] == 1
    assert "ConfigError" in again.errors[0] and "ex8_pos_import_detector.py" in again.errors[0]
    assert configs.get() == got


def _archive(store) -> list:  # type: ignore[no-untyped-def]
    """A day-old receipt with a position deleted without an administrator, and a clean one."""
    at = int((NOW - 86400) * US)
    bad = receipt("T1RuoVF7", op_id="1001", at=at).item("Beer", 8990).item("Milk", 5990) \
        .delete(1).pay().close().events()
    good = receipt("T1RuoVF7", op_id="1002", at=at + 600 * US).item("Bread", 3990).admin_login() \
        .delete(1).pay().close().events()
    old = receipt("T1RuoVF7", op_id="0999", at=int((NOW - 3 * 86400) * US)).item("Tea", 100) \
        .delete(1).pay().close().events()  # outside the 48 hours
    evs = bad + good + old
    insert_events(store, evs)
    return evs


def test_examples_6_and_4_archive_run_raises_incidents_the_incident_script_sees(
        make_host, kafka_bootstrap, topics, store, sink, tmp_path, notes, h, caplog) -> None:
    caplog.set_level(logging.INFO, logger="posguard.script")
    configs = KafkaDetectorConfig(kafka_bootstrap, topics, max_age=0)
    configs.replace(parse_config((h.scripts / "data" / "pos_detectors.xml").read_bytes()))
    _archive(store)
    host = make_host(now=lambda: NOW)
    watcher = host.add(h.scripts / "ex4_activate_on_pos_incidents.py")
    for guid in ("T1RuoVF7", "LgDisc01"):  # subscriptions to one detector's incidents
        (tmp_path / f"only_{guid}.py").write_text(
            f"activate_on_pos_incidents({guid!r}, lambda i: alert(i.detector + ' ' + i.id))\n")
        host.add(tmp_path / f"only_{guid}.py")
    assert host.wait_ready(60)
    runner = host.add(h.scripts / "ex6_pos_process_archive.py")
    assert host.wait_ready(60)
    assert runner.stats()["errors"] == 0, runner.errors
    assert notes.wait_for(lambda: len(notes.of("alert", "ex4_activate_on_pos_incidents")) >= 1)
    assert host.wait_idle(10)
    assert notes.of("alert", "ex4_activate_on_pos_incidents") == [
        "Cancel position without the administrator"]
    assert watcher.stats()["errors"] == 0
    assert notes.wait_for(lambda: len(notes.of("alert", "only_T1RuoVF7")) == 1)
    # Stored by the sink, once, and a second run gives the same incident (same id).
    assert h.wait_for(lambda: len(search_incidents(store, IncidentFilter())) == 1)
    (inc, _), = search_incidents(store, IncidentFilter())
    assert (inc.detector, inc.type_id, inc.terminal_guid, inc.op_id) == (
        "T1RuoVF7", "ZyInc001", "T1RuoVF7", "1001")
    # A second run finds the same incident (same id): nothing new is published or stored.
    again = host.add(h.scripts / "ex6_pos_process_archive.py")
    assert host.wait_ready(60) and host.wait_idle(10)
    assert again.stats()["errors"] == 0
    assert "processed by detector T1RuoVF7: 1 incidents, 0 new" in caplog.text
    assert [i.id for i, _ in search_incidents(store, IncidentFilter())] == [inc.id]
    assert notes.of("alert", "only_T1RuoVF7") == [f"T1RuoVF7 {inc.id}"]
    assert notes.of("alert", "only_LgDisc01") == []


def test_example_7_creates_an_incident_or_calls_the_error_callback(
        make_host, kafka_bootstrap, topics, store, sink, tmp_path, notes, h) -> None:
    configs = KafkaDetectorConfig(kafka_bootstrap, topics, max_age=0)
    configs.replace(parse_config((h.scripts / "data" / "pos_detectors.xml").read_bytes()))
    host = make_host(now=lambda: NOW)
    # No event of ZyPx6vF0 is stored: the terminal is unknown.
    first = host.add(h.scripts / "ex7_pos_incident_create.py")
    assert host.wait_ready(30) and host.wait_idle(30)
    assert notes.of("alert", first.name) == ["unknown terminal 'ZyPx6vF0'"]

    insert_events(store, receipt("ZyPx6vF0", op_id="77").item("Milk", 5990).events())
    second = host.add(h.scripts / "ex7_pos_incident_create.py")
    assert host.wait_ready(30) and host.wait_idle(30)
    assert notes.of("alert", second.name) == []
    assert h.wait_for(lambda: len(search_incidents(store, IncidentFilter())) == 1)
    (inc, _), = search_incidents(store, IncidentFilter())
    assert (inc.type_name, inc.type_id, inc.terminal_guid, inc.cashier_name, inc.status,
            inc.ts_created) == ("Cancel position without the administrator", "ZyInc001",
                                "ZyPx6vF0", "Ivanov I", 0, int(NOW * US))
    assert inc.operator == f"script:{second.name}"

    # An unknown incident type also goes to the error callback.
    path = tmp_path / "bad_type.py"
    path.write_text('pos_incident_create("ZyPx6vF0", "No such type", "Ivanov I", '
                    'lambda err: alert(err.msg))\n')
    third = host.add(path)
    assert host.wait_ready(30) and host.wait_idle(30)
    [msg] = notes.of("alert", third.name)
    assert msg.startswith("unknown incident type 'No such type'")
