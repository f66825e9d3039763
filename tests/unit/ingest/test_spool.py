"""The spool file: append, read back in order, commit, truncate, survive torn writes."""

from __future__ import annotations

from pathlib import Path

from posguard.ingest.spool import Spool, SpoolRecord, encode_record


def fill(s: Spool, n: int, start: int = 0) -> None:
    for i in range(start, start + n):
        s.append("events", f"T{i % 3}".encode(), f"value-{i}".encode())
    s.sync()


def values(s: Spool) -> list[bytes]:
    out, pos = [], s.cursor
    while True:
        batch = s.read(pos, 100)
        if not batch:
            return out
        out += [r.value for _, r in batch]
        pos = batch[-1][0]


def test_append_read_commit(tmp_path: Path) -> None:
    s = Spool(tmp_path)
    assert s.empty and s.records == 0
    fill(s, 10)
    assert not s.empty and s.records == 10
    assert values(s) == [f"value-{i}".encode() for i in range(10)]
    batch = s.read(0, 50)
    s.commit(batch[-1][0], len(batch))
    assert s.records == 10 - len(batch)
    assert values(s)[0] == f"value-{len(batch)}".encode()
    s.commit(s.end, s.records)
    assert s.empty and s.end == 0 and not s.cursor_path.exists()
    fill(s, 2, 100)  # appending after a truncation starts at 0 again
    assert values(s) == [b"value-100", b"value-101"]
    s.close()


def test_reopen_keeps_the_cursor(tmp_path: Path) -> None:
    s = Spool(tmp_path)
    fill(s, 5)
    first = s.read(0)[1][0]
    s.commit(first, 2)
    s.close()
    s = Spool(tmp_path)
    assert s.cursor == first and s.records == 3
    assert values(s) == [b"value-2", b"value-3", b"value-4"]
    s.close()


def test_torn_tail_is_cut_and_kept_aside(tmp_path: Path) -> None:
    s = Spool(tmp_path)
    fill(s, 3)
    s.close()
    good = (tmp_path / "events.spool").read_bytes()
    torn = encode_record(SpoolRecord("events", b"T", b"half"))[:-2]
    (tmp_path / "events.spool").write_bytes(good + torn)
    s = Spool(tmp_path)
    assert values(s) == [b"value-0", b"value-1", b"value-2"]
    assert (tmp_path / f"events.spool.corrupt-{len(good)}").read_bytes() == torn
    fill(s, 1, 3)
    assert values(s)[-1] == b"value-3"
    s.close()


def test_a_flipped_bit_stops_the_read_at_that_record(tmp_path: Path) -> None:
    s = Spool(tmp_path)
    fill(s, 3)
    s.close()
    data = bytearray((tmp_path / "events.spool").read_bytes())
    data[len(data) // 2] ^= 0x40
    (tmp_path / "events.spool").write_bytes(bytes(data))
    s = Spool(tmp_path)
    assert len(values(s)) < 3
    s.close()


def test_large_records_and_cursor_file_garbage(tmp_path: Path) -> None:
    s = Spool(tmp_path)
    big = b"x" * (5 * 1024 * 1024)
    s.append("deadletter", b"", big)
    s.sync()
    [(end, rec)] = s.read(0, 1024)  # a record larger than the read size still comes whole
    assert rec.value == big and rec.kind == "deadletter" and end == s.end
    s.close()
    (tmp_path / "events.cursor").write_text("not a number")
    s = Spool(tmp_path)
    assert s.cursor == 0 and s.records == 1
    s.close()
