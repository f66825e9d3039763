"""The fast path of DSSL XML: flat documents read without a tree.

Most documents terminals send are flat: a declaration (utf-8 or windows-1251), a root, then
elements holding plain text. `flat_fields` reads those into `{field: text}` with a regular
expression, exactly as the lxml path would (tests and fuzzing hold the two to the same
answers), and returns None for anything else: attributes, comments, CDATA, entities, control
characters, other encodings, malformed input all go to lxml. `flat_event` goes one step
further and builds the PosEvent straight from the document with C-speed string operations
(one split at every '<' and '>', a cached reading per document shape); it returns None
whenever the general path could answer differently (then the general path answers).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from operator import itemgetter

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
_END_TAGS = {b"transaction": b"</transaction>", b"TransactionBlock": b"</TransactionBlock>"}
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


def _getter(at: list[int]) -> Callable[[list[str]], tuple[str, ...]]:
    """A C-speed picker of the texts at `at` (a tuple even for one index; -1 gives "")."""
    if not at:
        return lambda values: ()
    return itemgetter(*at, *at) if len(at) == 1 else itemgetter(*at)


class _Shape:
    """What one document shape means, worked out once (see `_shape`): where each field's
    text is among the element texts and how it converts. Of repeated elements the last one
    counts, as in flat_fields."""

    __slots__ = ("text_names", "texts", "whole", "scaled", "has_type", "meta")

    def __init__(self, tags: list[str]):
        last: dict[str, int] = {}
        for i, tag in enumerate(tags):
            name = canonical_field(tag)
            if name is not None:
                last[name] = i
        text = [(n, i) for n, i in last.items() if FIELD_KIND.get(n) == TEXT_KIND]
        self.text_names = tuple(n for n, _ in text)
        self.texts = _getter([i for _, i in text])
        self.whole = tuple((n, i) for n, i in last.items() if FIELD_KIND.get(n) == WHOLE_KIND)
        self.scaled = tuple((n, i, SCALES[n]) for n, i in last.items() if n in SCALES)
        self.has_type = "type" in last
        # type, date, time, terminal: -1 (absent) picks the "" appended to the texts
        self.meta = itemgetter(*(last.get(n, -1) for n in ("type", "date", "time",
                                                           "pos_terminal")))


_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]*+")
_CLOSE_TAG = re.compile(r"/([A-Za-z_][A-Za-z0-9_.-]*+)[ \t\r\n]*+")
_SHAPES: dict[str, _Shape] = {}
_NOT_FLAT = _Shape([])  # no event type: flat_event leaves such documents to the general path
_POW = [10**i for i in range(20)]
# Bytes kept by the signature check: '<', '>', '&' and the control characters XML forbids.
_PLAIN = bytes(sorted(set(range(256)) - set(_CONTROL) - set(b"<>&")))


def _shape(key: str) -> _Shape:
    """The meaning of a document body's shape (cached); _NOT_FLAT when it is not a run of
    flat elements.

    `key` is the body cut at every '<' and '>' with the element texts left out, joined by
    '<' (which no piece holds): the whitespace before the first element, then per element
    its opening tag's name, its closing tag ('/name' and maybe whitespace) and the
    whitespace after it.
    """
    parts = key.split("<")
    tags: list[str] = []
    if len(parts) % 3 == 1 and not parts[0].strip(" \t\r\n"):
        for i in range(1, len(parts), 3):
            name, close, gap = parts[i], parts[i + 1], parts[i + 2]
            m = _CLOSE_TAG.fullmatch(close)
            if (m is None or m.group(1) != name or _NAME.fullmatch(name) is None
                    or gap.strip(" \t\r\n")):
                break
            tags.append(name)
    got = _Shape(tags) if 3 * len(tags) == len(parts) - 1 else _NOT_FLAT
    if len(_SHAPES) < 1024 and len(key) <= 4096:  # terminals send a handful of modest
        _SHAPES[key] = got  # shapes; a flood of shapes, or huge ones, is not kept
    return got


def _flat_text(doc: bytes) -> str | None:
    """The decoded body (between the root tags) of a document that may be flat, or None.

    Checked here, on the bytes: the body's '<' and '>' alternate (so every '<' opens a tag
    that its '>' closes and no text holds either), no '&' (references are lxml's), no
    control character XML forbids, and it decodes.
    """
    nl = doc.find(b">") + 1
    codec = _DECLARATIONS.get(doc[:nl])  # the usual declarations, without a regex
    if codec is not None:
        if doc.startswith(b"\n<transaction>", nl):  # and the usual root after it
            root, head_end = b"transaction", nl + 14
        else:
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
        codec = "utf-8" if enc is None else _FAST_CODECS.get(enc.lower())
        if codec is None:
            return None
    body = doc.rstrip(_WS)
    if not body.endswith(_END_TAGS[root]):
        return None
    inner = body[head_end:len(body) - len(root) - 3]
    if inner.translate(None, _PLAIN).replace(b"<>", b""):
        return None
    try:
        text = inner.decode(codec)  # all of it, ignored elements too, as lxml would
    except UnicodeDecodeError:
        return None
    if "\ufffe" in text or "\uffff" in text:
        return None  # not XML characters
    return text


def flat_event(doc: bytes, resolve: Callable[[str, str], Terminal | None], ts_received: int,
               event_id: str) -> PosEvent | None:
    """The PosEvent of a flat, valid document built straight from its text; None when the
    general path (fields, then posguard.ingest.fields) must decide, errors included.

    The body is cut at every '<' and '>' (one C-speed split, no regular expression per
    element): a flat body gives whitespace, then per element name, text, '/name',
    whitespace. Without the texts that is the document's shape; terminals repeat a few
    shapes, so what a shape means (valid names, matching end tags, which element is which
    field) is worked out once and cached.
    """
    text = _flat_text(doc)
    if text is None:
        return None
    pieces = text.replace(">", "<").split("<")
    values = pieces[2::4]
    del pieces[2::4]
    key = "<".join(pieces)
    shape = _SHAPES.get(key) or _shape(key)
    if not shape.has_type:
        return None
    values.append("")
    texts = shape.texts(values)
    if "\r" in text and any("\r" in v for v in texts):
        return None  # XML end-of-line handling: the general path normalises it
    # not strict: a single text comes picked twice (see _getter)
    kw: dict[str, object] = dict(zip(shape.text_names, map(str.strip, texts), strict=False))
    for name, i in shape.whole:
        v = values[i]
        if not (v.isdigit() and v.isascii()):
            return None
        kw[name] = int(v)
    type_, d, tm, guid = shape.meta(values)
    if not type_.strip():
        return None
    location = kw.get("location", "")
    t = resolve(guid.strip(), location)  # type: ignore[arg-type]
    if t is None:
        return None
    if shape.scaled:
        if t.decimal_separator == ",":
            return None
        for name, i, scale in shape.scaled:
            v = values[i]
            whole, dot, frac = v.partition(".")
            if not (whole.isdigit() and v.isascii() and len(whole) < 19
                    and (not dot or (frac.isdigit() and len(frac) <= scale))):
                return None
            kw[name] = int(whole) * _POW[scale] + (int(frac) * _POW[scale - len(frac)]
                                                   if frac else 0)
    d, tm = d.strip(), tm.strip()
    try:
        etype = event_type(type_)
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
