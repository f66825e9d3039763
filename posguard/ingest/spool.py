"""The local spool: an append-only file of messages not yet acknowledged by the broker.

Record = 8-byte header (payload length, CRC-32 of the payload; little-endian u32 each) +
payload (msgpack of `SpoolRecord`). Records are appended in the order they must reach the
broker; `sync()` flushes and fsyncs (one fsync per batch, called by the publisher). A reader
position (`cursor`: byte offset of the first record not yet delivered) is kept in a side file,
replaced atomically; the spool file is truncated only when every record in it has been
delivered.

After a crash the tail may hold a torn record: `open` keeps the records up to the first one
whose length or CRC is wrong and moves the rest to `<name>.corrupt-<offset>` for inspection.
"""

from __future__ import annotations

import logging
import os
import struct
import zlib
from pathlib import Path
from typing import Any

import msgspec

from posguard.ingest.errors import SpoolError

__all__ = ["Spool", "SpoolRecord", "MAX_RECORD_BYTES", "frame", "scan", "read_frames",
           "cut_torn_tail"]

log = logging.getLogger(__name__)

_HEADER = struct.Struct("<II")
MAX_RECORD_BYTES = 64 * 1024 * 1024


class SpoolRecord(msgspec.Struct, array_like=True, frozen=True):
    """One spooled message: topic kind ("events" or "deadletter"), key and value bytes."""

    kind: str
    key: bytes
    value: bytes


_enc = msgspec.msgpack.Encoder()
_dec = msgspec.msgpack.Decoder(SpoolRecord)


def frame(payload: bytes) -> bytes:
    """Header (length, CRC-32) + payload: one record as written to the file."""
    return _HEADER.pack(len(payload), zlib.crc32(payload)) + payload


def encode_record(rec: SpoolRecord) -> bytes:
    """Header + payload of one record."""
    return frame(_enc.encode(rec))


def scan(data: bytes, start: int = 0, dec: Any = _dec) -> tuple[list[tuple[int, Any]], int]:
    """Records of `data` from `start` as (end offset, decoded payload); and where valid data
    ends (the first record whose length, CRC or payload is wrong stops the scan)."""
    out: list[tuple[int, Any]] = []
    pos = start
    n = len(data)
    while pos + _HEADER.size <= n:
        length, crc = _HEADER.unpack_from(data, pos)
        end = pos + _HEADER.size + length
        if length > MAX_RECORD_BYTES or end > n:
            break
        payload = data[pos + _HEADER.size:end]
        if zlib.crc32(payload) != crc:
            break
        try:
            rec = dec.decode(payload)
        except msgspec.DecodeError:
            break
        out.append((end, rec))
        pos = end
    return out, pos


def cut_torn_tail(path: Path, what: str, dec: Any = _dec) -> int:
    """Keep the records of `path` up to the first unreadable one; move the rest to
    `<name>.corrupt-<offset>` (logged). Returns the bytes moved aside."""
    data = path.read_bytes()
    _, valid = scan(data, 0, dec)
    if valid < len(data):
        bad = path.with_name(f"{path.name}.corrupt-{valid}")
        bad.write_bytes(data[valid:])
        with open(path, "r+b") as f:
            f.truncate(valid)
            os.fsync(f.fileno())
        log.error("%s %s: %d bytes after offset %d were unreadable (a torn write?); "
                  "moved to %s", what, path, len(data) - valid, valid, bad)
    return len(data) - valid


def read_frames(path: Path, start: int, max_bytes: int, dec: Any = _dec) -> list[tuple[int, Any]]:
    """Records of the file `path` from byte offset `start`, each with the offset after it
    (at least one record when there is one, else about `max_bytes` worth)."""
    with open(path, "rb") as f:
        f.seek(start)
        data = f.read(max_bytes)
        while data and len(data) >= _HEADER.size:
            length, _ = _HEADER.unpack_from(data, 0)
            need = _HEADER.size + min(length, MAX_RECORD_BYTES)
            if len(data) >= need:
                break
            more = f.read(need - len(data))
            if not more:
                break
            data += more
    records, _ = scan(data, 0, dec)
    return [(start + end, rec) for end, rec in records]


class Spool:
    """An append-only spool file in a folder (one writer: the publisher).

    Args:
        folder: where `events.spool` and `events.cursor` live (created if missing).
        name: file name stem, for several spools in one folder.
    """

    def __init__(self, folder: Path, name: str = "events"):
        self.folder = Path(folder)
        self.path = self.folder / f"{name}.spool"
        self.cursor_path = self.folder / f"{name}.cursor"
        self._dirty = False
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            self._recover()
            self._f = open(self.path, "ab")  # noqa: SIM115 (held open for appends)
        except OSError as e:
            raise SpoolError(f"cannot open spool {self.path}: {e}") from None
        self.cursor = self._read_cursor()
        self.records = self._count(self.cursor)

    def _count(self, start: int) -> int:
        n = 0
        while True:
            batch = self.read(start)
            if not batch:
                return n
            n += len(batch)
            start = batch[-1][0]

    def _recover(self) -> None:
        if self.path.exists():
            cut_torn_tail(self.path, "spool")

    def _read_cursor(self) -> int:
        try:
            value = int(self.cursor_path.read_text().strip() or 0)
        except FileNotFoundError:
            return 0
        except (OSError, ValueError):
            log.error("spool cursor %s unreadable: replaying the whole spool", self.cursor_path)
            return 0
        return value if 0 <= value <= self.end else 0

    @property
    def empty(self) -> bool:
        """True when no record waits for delivery."""
        return self.end <= self.cursor

    @property
    def end(self) -> int:
        """Offset after the last record appended."""
        return self._f.tell()

    def append(self, kind: str, key: bytes, value: bytes) -> None:
        """Append one record (buffered; `sync` makes it durable)."""
        try:
            self._f.write(encode_record(SpoolRecord(kind, key, value)))
        except OSError as e:
            raise SpoolError(f"cannot write spool {self.path}: {e}") from None
        self._dirty = True
        self.records += 1

    def sync(self) -> None:
        """Flush and fsync what was appended since the last sync."""
        if self.flush():
            self.fsync()

    def flush(self) -> bool:
        """Hand buffered appends to the OS; True when there was something to hand over."""
        if not self._dirty:
            return False
        try:
            self._f.flush()
        except OSError as e:
            raise SpoolError(f"cannot write spool {self.path}: {e}") from None
        self._dirty = False
        return True

    def fsync(self) -> None:
        """Make what the OS holds durable (may run outside the writer's lock)."""
        try:
            os.fsync(self._f.fileno())
        except OSError as e:
            raise SpoolError(f"cannot sync spool {self.path}: {e}") from None

    def read(self, start: int, max_bytes: int = 4 * 1024 * 1024) -> list[tuple[int, SpoolRecord]]:
        """Records from byte offset `start`, each with the offset after it (at least one
        record when there is one, else about `max_bytes` worth)."""
        self._f.flush()
        return read_frames(self.path, start, max_bytes)

    def commit(self, offset: int, count: int) -> None:
        """Every record before `offset` (`count` records since the last commit) is delivered:
        remember it (atomically), and truncate the file when nothing is left."""
        self.cursor = offset
        self.records = max(0, self.records - count)
        try:
            if offset >= self.end:
                self._f.flush()
                self._f.truncate(0)
                self._f.seek(0)
                os.fsync(self._f.fileno())
                self.cursor = self.records = 0
                self.cursor_path.unlink(missing_ok=True)
                self._dirty = False
                return
            tmp = self.cursor_path.with_suffix(".tmp")
            with open(tmp, "w") as f:
                f.write(str(offset))
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.cursor_path)
        except OSError as e:
            raise SpoolError(f"cannot update spool cursor {self.cursor_path}: {e}") from None

    def pending_bytes(self) -> int:
        """Bytes of records not yet delivered."""
        return max(0, self.end - self.cursor)

    def close(self) -> None:
        """Sync and close the file."""
        try:
            self.sync()
        finally:
            self._f.close()
