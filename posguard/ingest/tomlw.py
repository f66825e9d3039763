"""A tiny TOML writer for the shapes posguard writes: tables of scalars and scalar lists.

(The standard library reads TOML but does not write it; this covers what the terminal
registry needs, and `posguard.ingest.files` checks every write by reading it back.)
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

__all__ = ["toml_value", "toml_key", "toml_table"]

_BARE = re.compile(r"[A-Za-z0-9_-]+")
_ESCAPES = {"\\": "\\\\", '"': '\\"', "\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f",
            "\r": "\\r"}


def _string(s: str) -> str:
    out = []
    for ch in s:
        if ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def toml_value(v: Any) -> str:
    """One TOML value: str, bool, int, float, or a list/tuple of those.

    Example:
        >>> toml_value(['a"b', 3, True])
        '["a\\\\"b", 3, true]'
    """
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if math.isnan(v):
            return "nan"
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        return repr(v)
    if isinstance(v, str):
        return _string(v)
    if isinstance(v, list | tuple):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    raise TypeError(f"cannot write {type(v).__name__} as a TOML value")


def toml_key(k: str) -> str:
    """A key, quoted when it is not bare."""
    return k if _BARE.fullmatch(k) else _string(k)


def toml_table(header: str, values: Mapping[str, Any]) -> str:
    """`[header]` or `[[header]]` (pass the brackets) followed by `key = value` lines."""
    lines = [header]
    lines += [f"{toml_key(k)} = {toml_value(v)}" for k, v in values.items()]
    return "\n".join(lines) + "\n"
