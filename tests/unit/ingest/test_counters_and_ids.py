"""Counters, the once-per-burst logger, event ids, the TOML writer, raw dumps."""

from __future__ import annotations

import logging
import tomllib
from pathlib import Path

import pytest

from posguard.ingest.counters import BurstLog, IngestCounters
from posguard.ingest.ids import EventIds
from posguard.ingest.rawdump import RawDumper
from posguard.ingest.tomlw import toml_table, toml_value


def test_counters_snapshot_and_per_terminal() -> None:
    c = IngestCounters()
    c.accepted.update(["T1", "T1", "T2"])
    c.count_rejects("T1", "malformed")
    c.count_rejects("tcp:5001", "garbage", 2)
    c.refused.update(["T1", "T3"])
    snap = c.snapshot()
    assert (snap["accepted"], snap["rejected"], snap["refused"]) == (3, 3, 2)
    assert (snap["rejected_garbage"], snap["rejected_malformed"]) == (2, 1)
    assert c.per_terminal()["T1"] == {"accepted": 2, "rejected": 1, "refused": 1,
                                      "rejected_by_code": {"malformed": 1}}
    assert c.per_terminal()["tcp:5001"]["rejected"] == 2
    assert c.per_terminal()["T3"]["refused"] == 1


def test_burst_log(caplog: pytest.LogCaptureFixture) -> None:
    b = BurstLog(logging.getLogger("burst-test"), window=10.0)
    with caplog.at_level(logging.WARNING, "burst-test"):
        for t in (0.0, 1.0, 2.0, 3.0):
            b.warning("T1", t, "bad input from %s", "T1")
        b.warning("T2", 3.5, "bad input from %s", "T2")
        b.warning("T1", 12.0, "bad input from %s", "T1")
    msgs = [r.getMessage() for r in caplog.records]
    assert msgs == ["bad input from T1", "bad input from T2",
                    "bad input from T1 (and 3 more like it since the last report)"]


def test_event_ids_are_unique_across_instances() -> None:
    a, b = EventIds(), EventIds()
    ids = {a() for _ in range(1000)} | {b() for _ in range(1000)}
    assert len(ids) == 2000
    assert EventIds("p")() == "p-1"


def test_toml_writer_round_trips() -> None:
    values = {"s": 'q"u\\o\nte\x01\u00e9', "i": -3, "f": 1.5, "b": False, "l": ["a", 1, True],
              "key with space": "x"}
    assert tomllib.loads(toml_table("[t]", values)) == {"t": values}
    with pytest.raises(TypeError):
        toml_value({"nested": 1})


def test_raw_dump(tmp_path: Path) -> None:
    d = RawDumper(tmp_path, max_open=1)
    d.write("T1", b"abc", now=0)
    d.write("../evil", b"x", now=0)
    d.write("T1", b"def", now=0)
    d.write("T1", b"next day", now=86400)
    d.close()
    assert (tmp_path / "T1" / "1970-01-01.raw").read_bytes() == b"abcdef"
    assert (tmp_path / "T1" / "1970-01-02.raw").read_bytes() == b"next day"
    assert (tmp_path / ".._evil" / "1970-01-01.raw").exists()
