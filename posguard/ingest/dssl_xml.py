"""DSSL XML: one XML document per POS operation (format in shared/spec/domain.md).

    <?xml version="1.0" encoding="windows-1251"?>
    <transaction>
        <event_type>POSNG_POSITION_ADD</event_type>
        <operation_id>E44D0F4A</operation_id>
        <cashier>Ivanov I</cashier>
        <date>11/01/2017</date>
        <time>16:40:15</time>
        <position>2</position>
        <quantity>2</quantity>
        <price_per_unit>51.99</price_per_unit>
        <price>103.98</price>
        <location>cas_1</location>
    </transaction>

`document_fields(doc)` reads one document into `{field: text}`; `DsslDecoder` is the
per-connection pipeline: splitter -> fields -> terminal -> PosEvent, everything bad a
`Rejected`. Pure: the caller passes arrival times, the terminal resolver and the id source.

Parsing has two paths with one result. Most documents are flat (a root, then elements with
plain text, utf-8 or windows-1251): a regular expression reads those, several times faster
than building a tree. Anything else (attributes, comments, CDATA, entities, other encodings,
malformed input) goes to lxml, configured to resolve no entities, load no DTD and touch no
network; a DOCTYPE is refused outright.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from lxml import etree

from posguard.ingest.errors import FieldError
from posguard.ingest.fields import canonical_field, event_from_fields
from posguard.ingest.registry import Terminal
from posguard.ingest.rejects import Rejected, rejected
from posguard.ingest.xml_flat import flat_event, flat_fields
from posguard.ingest.xml_splitter import Bad, XmlSplitter
from posguard.model.events import PosEvent

__all__ = ["document_fields", "parse_document", "DsslDecoder", "Resolver", "IdSource"]

Resolver = Callable[[str, str], "Terminal | None"]  # (guid, location) -> terminal
IdSource = Callable[[], str]

_local = threading.local()


def _parser() -> etree.XMLParser:
    p = getattr(_local, "parser", None)
    if p is None:  # lxml parsers must not be shared between threads
        p = _local.parser = etree.XMLParser(
            resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False,
            dtd_validation=False, remove_comments=True, remove_pis=True)
    return p


def _slow(doc: bytes) -> dict[str, str]:
    try:
        root = etree.fromstring(doc, _parser())
    except etree.XMLSyntaxError as e:
        msg = str(e)
        code = "encoding" if ("ncoding" in msg or "UTF-8" in msg or "Char 0x" in msg) \
            else "malformed"
        raise FieldError(f"not well-formed XML: {msg[:300]}", code) from None
    except (etree.LxmlError, ValueError, LookupError) as e:
        raise FieldError(f"not XML: {str(e)[:300]}", "malformed") from None
    if root.getroottree().docinfo.doctype:
        raise FieldError("DOCTYPE is refused", "forbidden")
    if root.tag not in ("transaction", "TransactionBlock"):
        raise FieldError(f"root element {str(root.tag)[:80]!r} is not <transaction>",
                         "malformed")
    fields: dict[str, str] = {}
    for child in root:
        if not isinstance(child.tag, str):
            continue
        name = canonical_field(child.tag)
        if name is None:
            continue
        if len(child):
            raise FieldError(f"<{child.tag}> holds elements, not text", "malformed")
        fields[name] = child.text or ""
    return fields


def document_fields(doc: bytes) -> dict[str, str]:
    """The known fields of one XML document, as text (see posguard.ingest.fields).

    Raises:
        FieldError: code "malformed", "encoding" or "forbidden".

    Example:
        >>> document_fields(b"<transaction><event_type>POSNG_RECEIPT_OPEN</event_type>"
        ...                 b"<operation_id>7</operation_id></transaction>")
        {'type': 'POSNG_RECEIPT_OPEN', 'op_id': '7'}
    """
    fields = flat_fields(doc)  # refuses anything but a root right after the declaration
    if fields is not None:
        return fields
    if b"<!DOCTYPE" in doc or b"<!ENTITY" in doc:
        raise FieldError("DOCTYPE and entity declarations are refused", "forbidden")
    return _slow(doc)


def parse_document(doc: bytes, resolve: Resolver, ts_received: int, event_id: str,
                   source: str = "") -> PosEvent | Rejected:
    """One XML document -> its PosEvent, or a Rejected saying why not.

    Args:
        doc: the document's bytes.
        resolve: (guid, location) of the payload -> the registered terminal, or None.
        ts_received: arrival time, microseconds.
        event_id: id for the event.
        source: where the bytes came from (for the Rejected).
    """
    ev = flat_event(doc, resolve, ts_received, event_id)
    return ev if ev is not None else _parse_general(doc, resolve, ts_received, event_id, source)


def _parse_general(doc: bytes, resolve: Resolver, ts_received: int, event_id: str,
                   source: str) -> PosEvent | Rejected:
    """parse_document without the flat fast path: fields (flat or lxml), then conversion."""
    terminal = ""
    try:
        fields = document_fields(doc)
        guid, location = fields.get("pos_terminal", ""), fields.get("location", "")
        t = resolve(guid.strip() if guid else "", location.strip() if location else "")
        if t is None:
            return rejected("unknown_terminal", "no registered terminal for terminal "
                            f"{fields.get('pos_terminal', '')!r} location "
                            f"{fields.get('location', '')!r}", doc, ts_received, source=source)
        terminal = t.guid
        return event_from_fields(fields, t, ts_received, event_id)
    except FieldError as e:
        return rejected(e.code, str(e), doc, ts_received, terminal=terminal, source=source)


class DsslDecoder:
    """The DSSL XML pipeline of one connection (or one datagram): bytes -> events.

    Args:
        resolve: (guid, location) -> terminal (see TerminalRegistry.find).
        ids: gives each accepted event its id.
        max_document_bytes: longest document accepted.
        source: where the bytes come from, e.g. "tcp:5001 10.0.0.7:51234".
        terminal: the port's catch-all terminal GUID, named in rejects the splitter makes.
    """

    def __init__(self, resolve: Resolver, ids: IdSource, max_document_bytes: int,
                 source: str = "", terminal: str = ""):
        self.resolve, self.ids, self.source, self.terminal = resolve, ids, source, terminal
        self.splitter = XmlSplitter(max_document_bytes)

    def _convert(self, pieces: list[bytes | Bad] | list[Bad],
                 ts: int) -> list[PosEvent | Rejected]:
        out: list[PosEvent | Rejected] = []
        resolve, ids, source = self.resolve, self.ids, self.source
        for p in pieces:
            if type(p) is bytes:
                event_id = ids()
                ev = flat_event(p, resolve, ts, event_id)  # the common case, inlined
                out.append(ev if ev is not None else
                           _parse_general(p, resolve, ts, event_id, source))
            else:
                assert isinstance(p, Bad)
                out.append(Rejected(terminal=self.terminal, code=p.code, reason=p.reason,
                                    raw=p.raw, size=p.size, ts=ts, source=source))
        return out

    def feed(self, chunk: bytes, ts_received: int) -> list[PosEvent | Rejected]:
        """Bytes received at `ts_received` -> the events and rejects they complete."""
        return self._convert(self.splitter.feed(chunk), ts_received)

    @property
    def holding(self) -> bool:
        """True while the bytes so far end inside a document (see XmlSplitter.holding)."""
        return self.splitter.holding

    def close(self, ts_received: int) -> list[PosEvent | Rejected]:
        """The stream ended: rejects for whatever is left unfinished."""
        return self._convert(self.splitter.close(), ts_received)


_fast = flat_fields  # the two paths under their test names (tests/fuzz hold them equal)
