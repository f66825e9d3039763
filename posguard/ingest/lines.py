"""Incremental line splitter with a maximum line length (NDJSON, printer text)."""

from __future__ import annotations

from posguard.ingest.rejects import MAX_RAW_BYTES
from posguard.ingest.xml_splitter import Bad

__all__ = ["LineSplitter"]


class LineSplitter:
    """Cut a byte stream into lines (LF or CR LF; the end of line is not part of the line).

    A line longer than `max_line_bytes` is reported once as a `Bad` ("oversized") and the
    rest of it, up to the next LF, is dropped.

    Example:
        >>> s = LineSplitter(100)
        >>> s.feed(b"a\\r\\nb") + s.feed(b"c\\n")
        [b'a', b'bc']
    """

    def __init__(self, max_line_bytes: int):
        self.max = max_line_bytes
        self._buf = bytearray()
        self._skipping = False

    def feed(self, chunk: bytes | bytearray | memoryview) -> list[bytes | Bad]:
        """Add bytes; return the complete lines (and oversized ones as Bad), in order."""
        buf = self._buf
        start = len(buf)
        buf += chunk
        out: list[bytes | Bad] = []
        pos = 0
        while True:
            nl = buf.find(b"\n", max(pos, start))
            if nl < 0:
                break
            start = 0
            line = buf[pos:nl]
            if self._skipping:
                self._skipping = False
            elif len(line) > self.max:
                out.append(Bad("oversized", f"line longer than {self.max} bytes",
                               bytes(line[:MAX_RAW_BYTES]), len(line)))
            else:
                out.append(bytes(line[:-1] if line.endswith(b"\r") else line))
            pos = nl + 1
        del buf[:pos]
        if len(buf) > self.max and not self._skipping:
            out.append(Bad("oversized", f"line longer than {self.max} bytes",
                           bytes(buf[:MAX_RAW_BYTES]), len(buf)))
            self._skipping = True
        if self._skipping:
            buf.clear()
        return out

    def close(self) -> list[bytes | Bad]:
        """The end of the stream: a last line without its LF is still a line."""
        rest, skipping = bytes(self._buf), self._skipping
        self._buf = bytearray()
        self._skipping = False
        if skipping or not rest:
            return []
        return [rest[:-1] if rest.endswith(b"\r") else rest]
