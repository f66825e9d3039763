"""The delivered-records journal: what the publisher handed to Kafka lately, kept on disk so it
can be sent again when the broker loses its log (an in-memory broker restarted empty).

A broker acknowledgement is not storage: until the sink has stored an event, the broker's log
is its only copy. The journal keeps every record handed to the producer for `window` seconds
(and at most `max_bytes`), tagged with the topic id (KIP-516) of pos.events it went to. When
that id changes, the records journaled under another id are replayed (`lost` / `pending`).

Layout: a folder of segment files `<seq>-<created ms>-<topic id hex | unknown>.journal`, one
topic id per segment (a new id starts a new segment). A segment is a sequence of the spool's
records (length, CRC-32, msgpack payload); each payload is one publish call's list of
(kind, key, value) messages, so the cost per event is one msgpack encode of its bytes. Old
segments are deleted whole: the active one is closed after `window / 4` or `segment_bytes`, and
a closed one is deleted once it is older than `window` before the last time the topic id was
confirmed unchanged (so nothing ages out while the broker is away), or when the folder is over
`max_bytes` (oldest first). Segments to replay are renamed `*.replay`, so a replay cut short by
a kill is resumed at the next start.

Durability: appends are buffered and handed to the OS every keeper tick (`flush`), so a killed
adapter loses none of them; a segment is fsynced when it is closed, so a machine crash can lose
the journal's last seconds (the spool, which holds what was never delivered, is fsynced every
tick). A new process never appends to an old segment;
the newest old segment's torn tail (a kill mid-write) is cut off and kept aside as
`<name>.corrupt-<offset>`.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import msgspec

from posguard.ingest.errors import SpoolError
from posguard.ingest.spool import SpoolRecord, cut_torn_tail, frame, read_frames

__all__ = ["Journal", "Segment"]

log = logging.getLogger(__name__)

Message = tuple[str, bytes, bytes]  # (kind, key, value), as the publisher hands them over
_enc = msgspec.msgpack.Encoder()
_dec = msgspec.msgpack.Decoder(list[SpoolRecord])
MIN_SEGMENT, MAX_SEGMENT = 64 * 1024, 64 * 1024 * 1024
LIVE, REPLAY = ".journal", ".replay"


@dataclass
class Segment:
    """One segment file (its name holds seq, creation time and topic id)."""

    path: Path
    seq: int
    created: float  # wall-clock seconds
    topic_id: str  # "" = not known when it was written
    size: int = 0
    last_write: float = 0.0
    records: int = -1  # messages in it; -1 = not counted

    @property
    def pending(self) -> bool:
        return self.path.suffix == REPLAY

    @classmethod
    def parse(cls, path: Path) -> Segment | None:
        parts = path.stem.split("-")
        if len(parts) != 3 or not parts[0].isdigit() or not parts[1].isdigit():
            return None
        try:
            tid = "" if parts[2] == "unknown" else bytes.fromhex(parts[2]).decode()
        except ValueError:
            return None
        st = path.stat()
        return cls(path, int(parts[0]), int(parts[1]) / 1000, tid, st.st_size, st.st_mtime)


def _name(seq: int, created: float, topic_id: str) -> str:
    return f"{seq:010d}-{int(created * 1000)}-{topic_id.encode().hex() or 'unknown'}{LIVE}"


class Journal:
    """The delivered-records journal of one publisher (one writer: calls hold its lock).

    Args:
        folder: where the segments live (created if missing).
        window: seconds a record is kept after the topic id was last confirmed.
        max_bytes: most bytes kept (0: no cap); the oldest segments go first.
        clock: wall-clock time (tests).
    """

    def __init__(self, folder: Path, window: float = 300.0, max_bytes: int = 1024**3,
                 clock: Callable[[], float] = time.time):
        self.folder = Path(folder)
        self.window, self.max_bytes, self.clock = window, max_bytes, clock
        self.segment_bytes = min(MAX_SEGMENT, max(MIN_SEGMENT, max_bytes // 16)) \
            if max_bytes else MAX_SEGMENT
        self.segment_age = max(1.0, window / 4)
        self.errors = 0
        self.segments: list[Segment] = []
        self._active: Segment | None = None
        self._f: IO[bytes] | None = None
        self._dirty = False
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            for p in sorted(self.folder.iterdir()):
                if p.suffix in (LIVE, REPLAY) and (seg := Segment.parse(p)) is not None:
                    self.segments.append(seg)
            self.segments.sort(key=lambda s: s.seq)
            if self.segments:  # the one written when the last process died
                last = self.segments[-1]
                if cut_torn_tail(last.path, "journal segment", _dec):
                    last.size = last.path.stat().st_size
        except OSError as e:
            raise SpoolError(f"cannot open the journal {self.folder}: {e}") from None
        known = [s.topic_id for s in self.segments if s.topic_id and not s.pending]
        self.topic_id = known[-1] if known else ""  # the id new records are tagged with

    # -- writing ---------------------------------------------------------------------------

    def append(self, messages: Sequence[Message]) -> None:
        """Journal one publish call's messages (buffered; `flush` hands them to the OS)."""
        try:
            if self._f is None:
                self._open()
            data = frame(_enc.encode(messages))
            self._f.write(data)  # type: ignore[union-attr]
        except OSError as e:  # a safety net must not stop publishing: count, tell, go on
            self.errors += 1
            if self.errors == 1 or self.errors % 10_000 == 0:
                log.error("cannot write the journal %s (%s): records delivered now cannot be "
                          "replayed if the broker loses its log (%d errors)", self.folder, e,
                          self.errors)
            return
        seg = self._active
        seg.size += len(data)  # type: ignore[union-attr]
        seg.records += len(messages)  # type: ignore[union-attr]
        self._dirty = True

    def _open(self) -> None:
        now = self.clock()
        seq = self.segments[-1].seq + 1 if self.segments else 1
        seg = Segment(self.folder / _name(seq, now, self.topic_id), seq, now, self.topic_id,
                      0, now, 0)
        self._f = open(seg.path, "ab")  # noqa: SIM115 (held open for appends)
        self.segments.append(seg)
        self._active = seg

    def rotate(self) -> None:
        """Close the active segment (the next append starts a new one)."""
        if self._f is not None:
            if self._dirty and self._active is not None:
                self._active.last_write = self.clock()
            self._f.close()
            self._f = None
            self._dirty = False
        self._active = None

    def flush(self) -> bool:
        """Hand buffered appends to the OS (survives a kill of the process); True when there
        was something to hand over."""
        if not self._dirty or self._f is None:
            return False
        self._dirty = False
        try:
            self._f.flush()
        except OSError as e:
            self.errors += 1
            log.error("cannot write the journal %s: %s", self.folder, e)
            return False
        if self._active is not None:
            self._active.last_write = self.clock()
        return True

    def fsync(self) -> None:
        """Make what the OS holds durable (may run outside the writer's lock)."""
        f = self._f
        if f is not None:
            try:
                os.fsync(f.fileno())
            except (OSError, ValueError):  # closed by a rotation meanwhile: synced there
                pass

    def close(self) -> None:
        if self._f is not None:
            self.flush()
            self.fsync()
        self.rotate()

    # -- the topic id ------------------------------------------------------------------------

    def confirm(self, topic_id: str) -> None:
        """The broker's pos.events has `topic_id`, the journal's own; or the journal had none
        yet: what it holds without an id was delivered there (written since this start,
        before the first answer; or by a run that never got one), and so is all after it."""
        if topic_id == self.topic_id:
            return
        if not self.topic_id:
            for seg in self.segments:
                if not seg.topic_id and not seg.pending:  # an open file may be renamed
                    target = seg.path.with_name(_name(seg.seq, seg.created, topic_id))
                    os.replace(seg.path, target)
                    seg.path, seg.topic_id = target, topic_id
        else:
            self.rotate()
        self.topic_id = topic_id

    def changed(self, topic_id: str) -> bool:
        """True when `topic_id` is not the id the journal's records were delivered under."""
        return bool(self.topic_id) and topic_id != self.topic_id

    def lost(self, topic_id: str) -> int:
        """The broker lost its log (pos.events now has `topic_id`): every segment delivered
        under another id is to be replayed. Returns how many messages are pending."""
        self.rotate()
        for seg in self.segments:
            if seg.topic_id != topic_id and not seg.pending:
                target = seg.path.with_suffix(REPLAY)
                os.replace(seg.path, target)
                seg.path = target
        self.topic_id = topic_id
        return self.pending_records()

    def pending(self) -> list[Segment]:
        """Segments to replay, oldest first."""
        return [s for s in self.segments if s.pending]

    def pending_records(self) -> int:
        n = 0
        for seg in self.pending():
            if seg.records < 0:
                seg.records = sum(len(m) for _, m in read_frames(seg.path, 0, seg.size, _dec))
            n += seg.records
        return n

    def read(self, seg: Segment, start: int, max_bytes: int) -> list[tuple[int, list[Message]]]:
        """Frames of `seg` from byte `start`: (offset after it, its messages); [] at its end
        (an unreadable rest is logged: what came before it is all that can be replayed)."""
        frames = read_frames(seg.path, start, max_bytes, _dec)
        if not frames and start < seg.size:
            log.error("journal segment %s: %d bytes after offset %d are unreadable (damaged "
                      "on disk?); the records before them were replayed, these cannot be",
                      seg.path, seg.size - start, start)
        return [(end, [(r.kind, r.key, r.value) for r in recs]) for end, recs in frames]

    def replayed(self, seg: Segment) -> None:
        """Every message of `seg` was delivered again: delete it."""
        seg.path.unlink(missing_ok=True)
        self.segments.remove(seg)

    # -- retention ---------------------------------------------------------------------------

    @property
    def bytes(self) -> int:
        return sum(s.size for s in self.segments)

    @property
    def holds_records(self) -> bool:
        """True when records are kept (a start-up must check the topic id before new ones)."""
        return any(s.size for s in self.segments)

    def maintain(self, confirmed_at: float) -> None:
        """Rotate the active segment when due; delete closed segments older than `window`
        before `confirmed_at` (the last time the topic id was confirmed unchanged); keep the
        folder under `max_bytes`, oldest first."""
        now = self.clock()
        a = self._active
        if a is not None and (a.size >= self.segment_bytes or now - a.created >= self.segment_age):
            self.rotate()
        for seg in list(self.segments):
            if seg is not self._active and not seg.pending and \
                    seg.last_write < confirmed_at - self.window:
                self._delete(seg)
        if self.max_bytes:
            total = self.bytes
            for seg in self.segments[:-1]:  # the newest is kept whatever its size
                if total <= self.max_bytes:
                    break
                if seg is self._active or seg.pending:
                    continue
                if seg.last_write >= now - self.window:
                    log.warning("journal %s over %d bytes: dropping %s (written %.0f s ago, "
                                "within the %.0f s window)", self.folder, self.max_bytes,
                                seg.path.name, now - seg.last_write, self.window)
                total -= seg.size
                self._delete(seg)

    def _delete(self, seg: Segment) -> None:
        try:
            seg.path.unlink(missing_ok=True)
        except OSError as e:
            log.error("cannot delete journal segment %s: %s", seg.path, e)
            return
        self.segments.remove(seg)
