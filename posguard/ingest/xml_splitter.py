"""Incremental splitter of a byte stream of concatenated XML documents.

Terminals send one XML document per operation, back to back on a TCP stream: each document
starts with its own `<?xml ...?>` declaration or directly with its root (`<transaction>` or
`<TransactionBlock>`), and ends with the root's closing tag. Chunks arrive cut anywhere: a
document in pieces, several documents in one packet.

`XmlSplitter.feed(chunk)` returns the complete documents (bytes) and `Bad` pieces:
- bytes between documents that start no document (`garbage`; whitespace is fine);
- a document cut off by the start of the next one (`truncated`): the sender dropped and
  started again, and the splitter resynchronises at the new start;
- a document longer than `max_document_bytes` (`oversized`): reported once, and everything
  up to the next declaration or root is dropped.
The splitter knows only the frame, not XML; the parser decides whether a document is valid.
Tag names are ASCII, so the splitter works for utf-8 and single-byte encodings alike.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from posguard.ingest.rejects import MAX_RAW_BYTES

__all__ = ["XmlSplitter", "Bad", "ROOTS"]

ROOTS = (b"transaction", b"TransactionBlock")
_TOKEN = re.compile(rb"<\?xml(?=[ \t\r\n?])|<(/?)(transaction|TransactionBlock)(?=[ \t\r\n>/])")
_LOOKBACK = 24  # longest token plus its look-ahead byte: a token cut at a chunk's end
_BLANK = b" \t\r\n\xef\xbb\xbf"  # whitespace and a UTF-8 byte-order mark


@dataclass(frozen=True, slots=True)
class Bad:
    """A piece of the stream that is not a document (raw capped at MAX_RAW_BYTES)."""

    code: str
    reason: str
    raw: bytes
    size: int


def _bad(code: str, reason: str, raw: bytes | bytearray | memoryview) -> Bad:
    return Bad(code, reason, bytes(raw[:MAX_RAW_BYTES]), len(raw))


class XmlSplitter:
    """Cut a stream of XML documents into documents (see the module docstring).

    Args:
        max_document_bytes: the longest document accepted.

    Example:
        >>> s = XmlSplitter(1024)
        >>> s.feed(b"<transaction><a>1</a></trans") + s.feed(b"action>\\n<transaction>")
        [b'<transaction><a>1</a></transaction>']
    """

    def __init__(self, max_document_bytes: int = 256 * 1024):
        self.max = max_document_bytes
        self._buf = bytearray()
        self._pos = 0  # start of what is not consumed yet
        self._scan = 0  # where the next token search starts
        self._doc = -1  # start of the open document, -1 when between documents
        self._root: bytes | None = None
        self._skipping = False  # dropping the rest of an oversized piece
        self._reset()

    @property
    def pending(self) -> int:
        """Bytes held for a document not finished yet."""
        return len(self._buf) - self._pos

    def feed(self, chunk: bytes | bytearray | memoryview) -> list[bytes | Bad]:
        """Add bytes; return the documents and bad pieces they complete, in stream order."""
        buf = self._buf
        buf += chunk
        out: list[bytes | Bad] = []
        search = _TOKEN.search
        while True:
            m = search(buf, self._scan)
            if self._doc < 0:
                if m is None:
                    self._scan = max(self._pos, len(buf) - _LOOKBACK)
                    if len(buf) - self._pos > self.max:
                        self._drop_garbage(out, self._scan)
                    break
                if m.group(1):  # a closing root tag between documents: not a start
                    self._scan = m.end()
                    continue
                self._drop_garbage(out, m.start())
                self._skipping = False
                self._open(m)
                continue
            if m is None:
                self._scan = max(self._scan, len(buf) - _LOOKBACK)
                if len(buf) - self._doc > self.max:
                    self._oversized(out, self._scan)
                break
            if m.group(1):  # closing tag of a root
                if self._root is not None and m.group(2) != self._root:
                    self._scan = m.end()
                    continue
                end = buf.find(b">", m.end())
                if end < 0:
                    self._scan = m.start()
                    if len(buf) - self._doc > self.max:
                        self._oversized(out, self._scan)
                    break
                end += 1
                if end - self._doc > self.max:
                    self._oversized(out, end)
                    self._skipping = False
                else:
                    out.append(bytes(buf[self._doc:end]))
                self._doc, self._root, self._pos, self._scan = -1, None, end, end
                continue
            if m.group(2) is not None and self._root is None:  # the root after a declaration
                self._root = m.group(2)
                self._scan = m.end()
                continue
            # a new document starts inside the open one: the open one was cut off
            out.append(_bad("truncated", "document cut off by the start of the next one",
                            buf[self._doc:m.start()]))
            self._open(m)
        if self._pos:
            cut = self._pos
            del buf[:cut]
            self._pos = 0
            self._scan -= cut
            if self._doc >= 0:
                self._doc -= cut
        return out

    def close(self) -> list[Bad]:
        """The end of the stream: report what is left unfinished, and start afresh."""
        rest = self._buf[self._pos:]
        out: list[Bad] = []
        if self._doc >= 0:
            out.append(_bad("truncated", "stream ended inside a document",
                            self._buf[self._doc:]))
        elif rest.strip(_BLANK) and not self._skipping:
            out.append(_bad("garbage", "bytes that start no document", rest))
        self._reset()
        return out

    def _reset(self) -> None:
        self._buf = bytearray()
        self._pos = self._scan = 0
        self._doc = -1
        self._root = None
        self._skipping = False

    def _open(self, m: re.Match[bytes]) -> None:
        self._doc = self._pos = m.start()
        self._root = m.group(2)
        self._scan = m.end()

    def _drop_garbage(self, out: list[bytes | Bad], upto: int) -> None:
        piece = self._buf[self._pos:upto]
        if piece.strip(_BLANK) and not self._skipping:
            out.append(_bad("garbage", "bytes that start no document", piece))
            self._skipping = upto - self._pos > self.max
        self._pos = upto

    def _oversized(self, out: list[bytes | Bad], upto: int) -> None:
        out.append(_bad("oversized", f"document longer than {self.max} bytes",
                        self._buf[self._doc:upto]))
        self._doc, self._root, self._pos, self._scan = -1, None, upto, upto
        self._skipping = True
