"""Rejected input as data: what the parsers return for a bad piece, and its deadletter form.

A `Rejected` carries the reason and the offending bytes (capped at MAX_RAW_BYTES), so the
piece can be looked at later in pos.deadletter. Reason codes (`code`) are a small fixed set,
for counting; `reason` is the human-readable detail.
"""

from __future__ import annotations

import msgspec

__all__ = ["Rejected", "MAX_RAW_BYTES", "REJECT_CODES", "rejected", "deadletter_value",
           "decode_deadletter"]

MAX_RAW_BYTES = 64 * 1024

REJECT_CODES = frozenset({
    "malformed",          # not well-formed XML / JSON, or not the expected shape
    "unknown_event_type",
    "unknown_terminal",
    "bad_field",          # a field that cannot be converted (number, date, time)
    "encoding",           # bytes that do not decode in the declared/configured encoding
    "oversized",          # a document or line longer than the limit
    "truncated",          # a document cut off by the next one or by the connection's end
    "garbage",            # bytes between documents that start no document
    "forbidden",          # DOCTYPE / entity declarations (refused for safety)
})


class Rejected(msgspec.Struct, frozen=True, kw_only=True):
    """A piece of input that was not turned into events.

    Attributes:
        terminal: GUID of the terminal when known, else "".
        code: one of REJECT_CODES.
        reason: what was wrong, for a person.
        raw: the bad bytes, at most MAX_RAW_BYTES of them (JSON: base64).
        size: the original size of the piece in bytes (raw may be shorter).
        ts: when the bytes were received, microseconds since the epoch.
        source: where the bytes came from, e.g. "tcp:5001 10.0.0.7:51234".
    """

    terminal: str
    code: str
    reason: str
    raw: bytes
    ts: int
    size: int = 0
    source: str = ""


def rejected(code: str, reason: str, raw: bytes | bytearray | memoryview, ts: int, *,
             terminal: str = "", source: str = "") -> Rejected:
    """Build a Rejected, capping the raw bytes.

    Example:
        >>> r = rejected("garbage", "binary noise", b"\\x00" * 100_000, 1)
        >>> (len(r.raw), r.size)
        (65536, 100000)
    """
    data = bytes(raw[:MAX_RAW_BYTES])
    return Rejected(terminal=terminal, code=code, reason=reason[:1000], raw=data, ts=ts,
                    size=len(raw), source=source)


_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(Rejected)


def deadletter_value(r: Rejected) -> bytes:
    """The pos.deadletter message value: JSON, raw bytes in base64."""
    return _encoder.encode(r)


def decode_deadletter(value: bytes) -> Rejected:
    """Read a pos.deadletter value back (raises msgspec.DecodeError on bad bytes)."""
    return _decoder.decode(value)
