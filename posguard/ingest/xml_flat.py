"""The fast path of DSSL XML: flat documents read with regular expressions, no tree.

Most documents terminals send are flat: a declaration (utf-8 or windows-1251), a root, then
elements holding plain text. `flat_fields` reads those into `{field: text}` exactly as the
lxml path would (tests and fuzzing hold the two to the same answers) and returns None for
anything else: attributes, comments, CDATA, entities, control characters, other encodings,
malformed input all go to lxml. `flat_event` goes one step further and builds the PosEvent
straight from the bytes (numbers converted without decoding them to text); it returns None
whenever the general path could answer differently (then the general path answers).
"""

from __future__ import annotations

import re
from collections.abc import Callable

from posguard.ingest.errors import FieldError
from posguard.ingest.fields import (
    FIELD_KIND,
    SCALES,
    TEXT_KIND,
    WHOLE_KIND,
    canonical_field,
    event_type,
)
from posguard.ingest.registry import Terminal
from posguard.ingest.units import local_to_micros
from posguard.model.events import PosEvent

__all__ = ["flat_parts", "flat_fields", "flat_event"]

_S = rb"[ \t\r\n]"
_WS = b" \t\r\n"
_DECL = (rb"<\?xml" + _S + rb"+version" + _S + rb"*=" + _S + rb"*([\"'])1\.[0-9]+\1"
         rb"(?:" + _S + rb"+encoding" + _S + rb"*=" + _S + rb"*([\"'])([A-Za-z][A-Za-z0-9._-]*)\2)?"
         rb"(?:" + _S + rb"+standalone" + _S + rb"*=" + _S + rb"*([\"'])(?:yes|no)\4)?" + _S + rb"*\?>")
_HEAD = re.compile(_S + rb"*(?:" + _DECL + rb")?" + _S + rb"*<(transaction|TransactionBlock)>")
# One flat element: <name>text</name>. Possessive quantifiers: no backtracking.
_PAIRS = re.compile(rb"<([A-Za-z_][A-Za-z0-9_.-]*+)>([^<&]*+)</\1" + _S + rb"*+>")
_FAST_CODECS = {b"utf-8": "utf-8", b"utf8": "utf-8", b"windows-1251": "cp1251",
                b"cp1251": "cp1251"}
# Bytes XML 1.0 forbids in text (the same in utf-8 and windows-1251): left to lxml, so that
# both paths refuse the same input.
_CONTROL = bytes(range(0x09)) + b"\x0b\x0c" + bytes(range(0x0e, 0x20))
_DECLARATIONS = {
    f'<?xml version="1.0" encoding="{e}"?>'.encode(): c
    for e, c in (("utf-8", "utf-8"), ("UTF-8", "utf-8"), ("windows-1251", "cp1251"),
                 ("Windows-1251", "cp1251"), ("WINDOWS-1251", "cp1251"))}
_ROOT_AFTER = re.compile(_S + rb"*+<(transaction|TransactionBlock)>")
_TAGS: dict[bytes, str | None] = {}  # tag -> field name, memo of canonical_field


def _field(tag: bytes) -> str | None:
    try:
        return _TAGS[tag]
    except KeyError:
        name = canonical_field(tag.decode("ascii"))
        if len(_TAGS) < 4096:
            _TAGS[tag] = name
        return name


def flat_parts(doc: bytes) -> tuple[list[bytes], str] | None:
    """The split elements of a flat document and its codec, or None when it is not flat."""
    nl = doc.find(b">") + 1
    known = _DECLARATIONS.get(doc[:nl])  # the usual declarations, without a regex
    if known is not None:
        codec = known
        r = _ROOT_AFTER.match(doc, nl)
        if r is None:
            return None
        root, head_end = r.group(1), r.end()
    else:
        m = _HEAD.match(doc)
        if m is None:
            return None
        root, head_end = m.group(5), m.end()
        enc = m.group(3)
        found = "utf-8" if enc is None else _FAST_CODECS.get(enc.lower())
        if found is None:
            return None
        codec = found
    body = doc.rstrip(_WS)
    tail_len = len(root) + 3
    if body[-tail_len:] != b"</" + root + b">":
        return None
    inner = body[head_end:len(body) - tail_len]
    if len(inner.translate(None, _CONTROL)) != len(inner) or b"]]>" in inner:
        return None
    try:
        inner.decode(codec)  # all of it, ignored elements too, as lxml would
    except UnicodeDecodeError:
        return None
    if codec == "utf-8" and (b"\xef\xbf\xbe" in inner or b"\xef\xbf\xbf" in inner):
        return None  # U+FFFE, U+FFFF: not XML characters
    parts = _PAIRS.split(inner)
    if b"".join(parts[0::3]).strip(_WS):
        return None  # something between the elements: not flat
    return parts, codec


def flat_fields(doc: bytes) -> dict[str, str] | None:
    """Fields of a flat document, or None when the document needs the full parser."""
    got = flat_parts(doc)
    if got is None:
        return None
    parts, codec = got
    tags = _TAGS
    fields: dict[str | None, str] = {
        tags.get(tag) or _field(tag): raw.decode(codec)
        for tag, raw in zip(parts[1::3], parts[2::3], strict=True)}
    fields.pop(None, None)  # elements that are not event fields
    if any("\r" in v for v in fields.values()):  # XML end-of-line handling, as lxml does
        fields = {k: v.replace("\r\n", "\n").replace("\r", "\n") for k, v in fields.items()}
    return fields  # type: ignore[return-value]


def flat_event(doc: bytes, resolve: Callable[[str, str], Terminal | None], ts_received: int,
               event_id: str) -> PosEvent | None:
    """The PosEvent of a flat, valid document built straight from its bytes; None when the
    general path (fields, then posguard.ingest.fields) must decide, errors included."""
    got = flat_parts(doc)
    if got is None:
        return None
    parts, codec = got
    tags, kinds = _TAGS, FIELD_KIND
    kw: dict[str, object] = {}
    scaled: dict[str, bytes] = {}
    type_ = date = time_ = guid = b""
    for tag, raw in zip(parts[1::3], parts[2::3], strict=True):
        name = tags.get(tag)
        if name is None:
            if tag in tags:
                continue
            name = _field(tag)
            if name is None:
                continue
        kind = kinds.get(name)
        if kind == TEXT_KIND:
            if b"\r" in raw:
                return None
            kw[name] = raw.decode(codec).strip()
        elif kind == WHOLE_KIND:
            if not raw.isdigit():
                return None
            kw[name] = int(raw)
        elif kind is not None:
            scaled[name] = raw
        elif name == "type":
            type_ = raw
        elif name == "date":
            date = raw
        elif name == "time":
            time_ = raw
        elif name == "pos_terminal":
            guid = raw
    if not type_.strip():
        return None
    location = kw.get("location", "")
    t = resolve(guid.decode(codec).strip(), location)  # type: ignore[arg-type]
    if t is None or (scaled and t.decimal_separator == ","):
        return None
    for name, raw in scaled.items():
        scale = SCALES[name]
        whole, dot, frac = raw.partition(b".")
        if not (whole.isdigit() and len(whole) < 19
                and (not dot or (frac.isdigit() and len(frac) <= scale))):
            return None
        kw[name] = int(whole) * 10**scale + (int(frac) * 10 ** (scale - len(frac))
                                             if frac else 0)
    d, tm = date.decode(codec).strip(), time_.decode(codec).strip()
    try:
        etype = event_type(type_.decode(codec))
        if d and tm:
            ts = local_to_micros(d, tm, t.date_format, t.timezone)
        elif d or tm:
            return None
        else:
            ts = ts_received
    except FieldError:
        return None
    if not location:
        kw["location"] = t.location
    return PosEvent(
        type=etype, pos_terminal=t.guid, ts_in_receipt=ts, ts_received=ts_received,
        pos_terminal_name=t.name, store=t.store, associated_channel=t.associated_channel,
        event_id=event_id, **kw)  # type: ignore[arg-type]
