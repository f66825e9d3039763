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
_WS = b" \t\r\n"
_CLOSE = {r: b"</" + r for r in ROOTS}
_GARBAGE = "bytes that start no document"
_STARTS = (b"<?xml", b"<transaction", b"<TransactionBlock")  # what a document starts with
_START = re.compile(rb"<(?:\?xml(?=[ \t\r\n?])|(transaction|TransactionBlock)(?=[ \t\r\n>/]))")
_ROOT_AFTER = re.compile(rb"[ \t\r\n]*<(transaction|TransactionBlock)(?=[ \t\r\n>/])")


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
        self._buf = b""  # bytes not consumed yet
        self._scan = 0  # where the next token search starts (in _buf)
        self._doc = -1  # start of the open document in _buf, -1 between documents
        self._root: bytes | None = None
        self._skipping = False  # dropping the rest of an oversized piece

    @property
    def pending(self) -> int:
        """Bytes held for a document not finished yet."""
        return len(self._buf)

    @property
    def holding(self) -> bool:
        """True while the next bytes belong to what came so far: inside a document, dropping
        the rest of an oversized one, or ending with what may be the first bytes of a
        declaration or root cut off (anything else held is garbage whatever follows)."""
        if self._doc >= 0 or self._skipping:
            return True
        lt = self._buf.rfind(b"<")
        tail = self._buf[lt:] if lt >= 0 else b""
        return bool(tail) and any(s.startswith(tail) for s in _STARTS)

    def feed(self, chunk: bytes | bytearray | memoryview) -> list[bytes | Bad]:
        """Add bytes; return the documents and bad pieces they complete, in stream order."""
        # Locals, not attributes, in the loop: this runs once per document at full rate.
        buf = self._buf + bytes(chunk) if self._buf else bytes(chunk)
        pos, scan, doc, root, skipping = 0, self._scan, self._doc, self._root, self._skipping
        limit = self.max
        out: list[bytes | Bad] = []
        search, find = _TOKEN.search, buf.find
        n = len(buf)
        while True:
            if root is not None and doc >= 0:
                # Fast path: the root's end tag found with plain searches and no start marker
                # before it: the document is complete. Anything else takes the regex path.
                close = _CLOSE[root]
                e = find(close, scan)
                if e >= 0 and find(b"<?xml", scan, e) < 0 and find(b"<transaction", scan, e) < 0 \
                        and find(b"<TransactionBlock", scan, e) < 0:
                    c = e + len(close)
                    gt = find(b">", c, c + 64)
                    if gt >= 0 and not buf[c:gt].strip(_WS):
                        end = gt + 1
                        if end - doc > limit:
                            out.append(_bad("oversized", f"document longer than {limit} bytes",
                                            buf[doc:end]))
                        else:
                            out.append(buf[doc:end])
                        doc, root, pos, scan, skipping = -1, None, end, end, False
                        continue
            if doc < 0 and not skipping:
                # Fast path between documents: the next '<' starts a declaration or a root.
                lt = find(b"<", scan)
                if lt >= 0 and lt + 18 <= n and (lt == pos or not buf[pos:lt].strip(_BLANK)):
                    if buf.startswith(b"<?xml version=", lt):
                        # the usual declaration, then the usual root: literal checks only
                        q = find(b"?>", lt, lt + 200)
                        if q >= 0 and buf.startswith(b"\n<transaction>", q + 2):
                            doc = pos = lt
                            root, scan = b"transaction", q + 15  # where _ROOT_AFTER would end
                            continue
                    r = _START.match(buf, lt)
                    if r is not None:
                        doc = pos = lt
                        root = r.group(1)
                        if root is None:  # a declaration: its root usually follows at once
                            q = find(b"?>", lt, lt + 200)
                            rr = _ROOT_AFTER.match(buf, q + 2) if q >= 0 else None
                            if rr is not None:
                                root, scan = rr.group(1), rr.end()
                            else:
                                scan = r.end()
                        else:
                            scan = r.end()
                        continue
            m = search(buf, scan)
            if doc < 0:
                if m is None:
                    scan = max(pos, n - _LOOKBACK)
                    if n - pos > limit:  # a long run of garbage: report it once
                        if not skipping and buf[pos:scan].strip(_BLANK):
                            out.append(_bad("garbage", _GARBAGE, buf[pos:scan]))
                            skipping = True
                        pos = scan
                    break
                if m.group(1):  # a closing root tag between documents: not a start
                    scan = m.end()
                    continue
                start = m.start()
                if start > pos and not skipping and buf[pos:start].strip(_BLANK):
                    out.append(_bad("garbage", _GARBAGE, buf[pos:start]))
                skipping = False
                doc = pos = start
                root, scan = m.group(2), m.end()
                continue
            if m is None:
                scan = max(scan, n - _LOOKBACK)
                if n - doc > limit:
                    out.append(_bad("oversized", f"document longer than {limit} bytes",
                                    buf[doc:scan]))
                    doc, root, pos, skipping = -1, None, scan, True
                break
            if m.group(1):  # closing tag of a root
                if root is not None and m.group(2) != root:
                    scan = m.end()
                    continue
                gt = find(b">", m.end())
                if gt < 0:
                    scan = m.start()
                    if n - doc > limit:
                        out.append(_bad("oversized", f"document longer than {limit} bytes",
                                        buf[doc:scan]))
                        doc, root, pos, skipping = -1, None, scan, True
                    break
                end = gt + 1
                if end - doc > limit:
                    out.append(_bad("oversized", f"document longer than {limit} bytes",
                                    buf[doc:end]))
                else:
                    out.append(buf[doc:end])
                doc, root, pos, scan, skipping = -1, None, end, end, False
                continue
            if m.group(2) is not None and root is None:  # the root after a declaration
                root, scan = m.group(2), m.end()
                continue
            # a new document starts inside the open one: the open one was cut off
            out.append(_bad("truncated", "document cut off by the start of the next one",
                            buf[doc:m.start()]))
            doc = pos = m.start()
            root, scan = m.group(2), m.end()
        self._buf = buf[pos:]
        self._scan = scan - pos
        self._doc = doc - pos if doc >= 0 else -1
        self._root, self._skipping = root, skipping
        return out

    def close(self) -> list[Bad]:
        """The end of the stream: report what is left unfinished, and start afresh."""
        rest = self._buf
        out: list[Bad] = []
        if self._doc >= 0:
            out.append(_bad("truncated", "stream ended inside a document", rest[self._doc:]))
        elif rest.strip(_BLANK) and not self._skipping:
            out.append(_bad("garbage", _GARBAGE, rest))
        self._buf, self._scan, self._doc, self._root, self._skipping = b"", 0, -1, None, False
        return out
