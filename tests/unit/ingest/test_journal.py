"""The delivered-records journal: segments per topic id, replay after a log loss, retention
(window from the last confirmation, byte cap, whole segments), restart after a kill, torn and
damaged segments."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from posguard.ingest.journal import Journal, Message
from posguard.ingest.spool import frame


class Clock:
    def __init__(self, t: float = 1_800_000_000.0):
        self.t = t

    def __call__(self) -> float:
        return self.t


def msgs(start: int, n: int) -> list[Message]:
    return [("events", f"T{i % 3}".encode(), f"value-{i}".encode()) for i in range(start, start + n)]


def replay_all(j: Journal) -> list[Message]:
    out: list[Message] = []
    for seg in j.pending():
        pos = 0
        while frames := j.read(seg, pos, 64):
            out += [m for _, ms in frames for m in ms]
            pos = frames[-1][0]
    return out


def test_what_was_delivered_under_the_old_id_is_replayed_in_order(tmp_path: Path) -> None:
    j = Journal(tmp_path, window=60)
    j.append(msgs(0, 5))  # before the id is known: tagged "unknown"
    j.confirm("TID-A")
    assert j.topic_id == "TID-A" and not j.changed("TID-A") and j.changed("TID-B")
    j.append(msgs(5, 5))
    j.append([("deadletter", b"", b"bad bytes")])
    j.flush()
    assert j.lost("TID-B") == 11
    assert j.topic_id == "TID-B" and not j.changed("TID-B")
    assert replay_all(j) == msgs(0, 10) + [("deadletter", b"", b"bad bytes")]
    j.append(msgs(10, 2))  # delivered under the new id: not pending
    for seg in j.pending():
        j.replayed(seg)
    assert j.pending() == [] and j.pending_records() == 0
    assert [p.suffix for p in tmp_path.iterdir()] == [".journal"]
    j.close()


def test_records_from_before_the_first_answer_take_its_id(tmp_path: Path) -> None:
    j = Journal(tmp_path)
    j.append(msgs(0, 3))  # sent at start, before the first topic id check answered
    j.confirm("TID-A")
    j.append(msgs(3, 1))
    j.close()
    j = Journal(tmp_path)  # a restart: the id is known from the segment names
    assert j.topic_id == "TID-A" and j.changed("TID-B")
    assert j.lost("TID-B") == 4
    j.close()


def test_an_unknown_id_is_no_change(tmp_path: Path) -> None:
    j = Journal(tmp_path)
    assert not j.changed("TID-A")  # nothing known yet: a first start learns the id
    j.close()


def test_segments_expire_whole_counted_from_the_last_confirmation(tmp_path: Path) -> None:
    clock = Clock()
    j = Journal(tmp_path, window=40, clock=clock)  # segments rotate every 10 s
    j.confirm("TID-A")
    for i in range(8):  # 80 s of traffic, one append per 10 s
        j.append(msgs(i, 1))
        j.flush()
        clock.t += 10
        j.maintain(confirmed_at=0.0)  # the broker never confirmed: nothing may expire
    assert len(j.segments) == 8
    j.maintain(confirmed_at=clock.t)
    # kept: what was written within 40 s of the confirmation (plus the active segment)
    assert [s.last_write for s in j.segments] == [clock.t - 40, clock.t - 30, clock.t - 20,
                                                   clock.t - 10]
    assert j.lost("TID-B") == 4
    assert replay_all(j) == msgs(4, 4)
    j.close()


def test_the_byte_cap_drops_the_oldest_segments(tmp_path: Path,
                                                caplog: pytest.LogCaptureFixture) -> None:
    clock = Clock()
    j = Journal(tmp_path, window=3600, max_bytes=1024 * 1024, clock=clock)
    assert j.segment_bytes == 64 * 1024  # a sixteenth of the cap
    j.confirm("TID-A")
    big = [("events", b"T1", b"x" * 300_000)]
    for _ in range(8):
        j.append(big)
        j.flush()
        j.maintain(confirmed_at=clock.t)
    assert j.bytes <= 1024 * 1024 and len(j.segments) == 3  # one append per segment
    assert "over 1048576 bytes" in caplog.text
    j.close()


def test_a_new_process_knows_the_id_and_replays_the_old_segments(tmp_path: Path) -> None:
    j = Journal(tmp_path)
    j.confirm("TID-A")
    j.append(msgs(0, 3))
    j.flush()  # what a keeper tick does; then the process is killed (no close)
    j2 = Journal(tmp_path)
    assert j2.topic_id == "TID-A" and j2.holds_records
    j2.append(msgs(3, 2))  # never appends to the old segment
    assert len(j2.segments) == 2
    assert j2.lost("TID-B") == 5
    assert replay_all(j2) == msgs(0, 5)
    j2.close()
    j3 = Journal(tmp_path)  # killed during the replay: still pending at the next start
    assert j3.pending_records() == 5 and j3.topic_id == ""
    j3.close()


def test_a_torn_tail_is_cut_off_and_kept_aside(tmp_path: Path,
                                               caplog: pytest.LogCaptureFixture) -> None:
    j = Journal(tmp_path)
    j.confirm("TID-A")
    j.append(msgs(0, 3))
    j.append(msgs(3, 3))
    j.close()
    [seg] = list(tmp_path.glob("*.journal"))
    good = seg.read_bytes()
    torn = frame(b"\x93\xa6events")[:-3]  # a kill in the middle of a write
    seg.write_bytes(good + torn)
    with caplog.at_level(logging.ERROR, "posguard.ingest.spool"):
        j = Journal(tmp_path)
    assert "unreadable (a torn write?)" in caplog.text and seg.name in caplog.text
    assert (tmp_path / f"{seg.name}.corrupt-{len(good)}").read_bytes() == torn
    assert j.lost("TID-B") == 6
    assert replay_all(j) == msgs(0, 6)  # nothing before the tear is lost
    j.close()


def test_a_damaged_segment_replays_what_precedes_the_damage(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    j = Journal(tmp_path)
    j.confirm("TID-A")
    for i in range(4):
        j.append(msgs(i * 10, 10))
    j.rotate()
    j.append(msgs(40, 1))  # the newest segment is the one checked at start; this one is not
    j.close()
    first = sorted(tmp_path.glob("*.journal"))[0]
    data = bytearray(first.read_bytes())
    data[len(data) * 3 // 4] ^= 0x40  # in the fourth frame
    first.write_bytes(bytes(data))
    j = Journal(tmp_path)
    j.lost("TID-B")
    with caplog.at_level(logging.ERROR, "posguard.ingest.journal"):
        got = replay_all(j)
    assert got[:30] == msgs(0, 30) and msgs(30, 10)[0] not in got
    assert got[-1] == msgs(40, 1)[0]
    assert "unreadable (damaged on disk?)" in caplog.text
    j.close()


def test_the_ingest_settings() -> None:
    from posguard.ingest.config import IngestConfig, ingest_config_from_dict
    from posguard.ingest.errors import RegistryError

    assert (IngestConfig().replay_window, IngestConfig().replay_max_bytes) == (300.0, 1024**3)
    assert ingest_config_from_dict({"replay_window": 0}).replay_window == 0  # no journal
    for bad in ({"replay_window": -1}, {"replay_max_bytes": -1}):
        with pytest.raises(RegistryError, match="replay_window, replay_max_bytes"):
            ingest_config_from_dict(bad)


def test_a_publisher_without_a_window_keeps_no_journal(tmp_path: Path) -> None:
    from posguard.ingest.durable import DurablePublisher
    from posguard.ingest.spool import Spool
    from posguard.streams.broker import free_port
    from posguard.streams.topics import Topics

    pub = DurablePublisher(f"127.0.0.1:{free_port()}", Topics("j."), Spool(tmp_path),
                           replay_window=0)
    assert pub.journal is None and pub.mode == "direct"
    pub.close(timeout=0.1)
    pub = DurablePublisher(f"127.0.0.1:{free_port()}", Topics("j."), Spool(tmp_path))
    assert pub.journal is not None and (tmp_path / "events.journal").is_dir()
    pub.close(timeout=0.1)


def test_a_publisher_with_a_journal_from_before_waits_for_the_topic_id(tmp_path: Path) -> None:
    """A restart (perhaps after a kill) with records in the journal: nothing goes direct
    before the broker told pos.events' topic id, so a replay cannot be overtaken."""
    from posguard.ingest.durable import DurablePublisher
    from posguard.ingest.spool import Spool
    from posguard.streams.broker import free_port
    from posguard.streams.topics import Topics

    j = Journal(tmp_path / "events.journal")
    j.confirm("TID-A")
    j.append(msgs(0, 2))
    j.close()
    pub = DurablePublisher(f"127.0.0.1:{free_port()}", Topics("j."), Spool(tmp_path))
    try:
        assert pub.mode == "spooling" and pub.journal is not None
        assert pub.journal.topic_id == "TID-A"
        pub.publish_raw("T1", b"new")
        assert pub.spool.records == 1 and pub.stats.sent == 0
    finally:
        pub.close(timeout=0.1)
