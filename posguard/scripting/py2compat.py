"""Python 2 idioms that scripts written for the original product use, on Python 3 values.

The reference's own example does::

    u = ev.text.decode("utf-8").upper().encode("utf-8")
    if u.find("BEER") != -1: ...

In Python 2 `ev.text` was a byte string: `.decode` gave unicode, `.encode` gave bytes again,
and bytes and the script's "BEER" literal were the same type. Here:

- `Text` is a `str` (every Python 3 use works unchanged) that also has `.decode()`, and whose
  string methods (`upper`, `strip`, slicing, `+`, ...) keep returning `Text`;
- `Text.encode()` returns `Bytes`, real `bytes` whose search and compare methods also accept
  `str` arguments (encoded UTF-8), whose `str()`/`%s` is the decoded text (not "b'...'"), and
  whose `.decode()` returns `Text` again;
- `script_open` is the `open` scripts see: relative paths are resolved against the script's
  working folder, and a file opened in text mode for writing also accepts bytes (a ODS report
  written to `open(name, "w")` is written as the bytes it is, as Python 2 did).
"""

from __future__ import annotations

import builtins
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, SupportsIndex

__all__ = ["Text", "Bytes", "as_text", "plain", "script_open", "ScriptFile"]


def _wrap(result: Any) -> Any:
    if type(result) is str:
        return Text(result)
    if type(result) is list:
        return [Text(x) if type(x) is str else x for x in result]
    if type(result) is tuple:
        return tuple(Text(x) if type(x) is str else x for x in result)
    return result


def _text_method(name: str) -> Callable[..., Any]:
    base = getattr(str, name)

    def method(self: str, *args: Any, **kwargs: Any) -> Any:
        return _wrap(base(self, *args, **kwargs))

    method.__name__ = name
    method.__doc__ = base.__doc__
    return method


class Text(str):
    """A `str` that also answers Python 2's `.decode()`; `.encode()` gives `Bytes`.

    Example:
        >>> Text("Beer").decode("utf-8").upper().encode("utf-8").find("BEER")
        0
        >>> Text("Beer").upper() == "BEER"
        True
    """

    __slots__ = ()

    def decode(self, encoding: str = "utf-8", errors: str = "strict") -> Text:
        """Already text: return it (Python 2 decoded bytes to unicode here)."""
        return self

    def encode(self, encoding: str = "utf-8", errors: str = "strict") -> Bytes:
        """Bytes of the text, as `Bytes` (searchable with str arguments)."""
        return Bytes(str.encode(self, encoding, errors))

    def __radd__(self, other: Any) -> Any:
        if isinstance(other, str):
            return Text(str.__add__(other, self))
        return NotImplemented


for _name in ("upper", "lower", "strip", "lstrip", "rstrip", "title", "capitalize", "swapcase",
              "casefold", "replace", "center", "ljust", "rjust", "zfill", "expandtabs",
              "format", "format_map", "__getitem__", "__add__", "__mul__", "__rmul__", "__mod__",
              "removeprefix", "removesuffix", "translate", "join", "split", "rsplit",
              "splitlines", "partition", "rpartition"):
    setattr(Text, _name, _text_method(_name))


def _b(x: Any) -> Any:
    if isinstance(x, str):
        return str.encode(x, "utf-8")
    if isinstance(x, tuple):
        return tuple(_b(v) for v in x)
    return x


def _bytes_method(name: str, wrap_result: bool) -> Callable[..., Any]:
    base = getattr(bytes, name)

    def method(self: bytes, *args: Any, **kwargs: Any) -> Any:
        res = base(self, *(_b(a) for a in args), **{k: _b(v) for k, v in kwargs.items()})
        if not wrap_result:
            return res
        if type(res) is bytes:
            return Bytes(res)
        if isinstance(res, list | tuple):
            return type(res)(Bytes(x) if type(x) is bytes else x for x in res)
        return res

    method.__name__ = name
    method.__doc__ = base.__doc__
    return method


class Bytes(bytes):
    """`bytes` that also take `str` arguments (UTF-8) where Python 2 mixed the two.

    `str()` of it is the decoded text, so `"%s" % b` reads like Python 2 did.

    Example:
        >>> b = Bytes("ПИВО BEER".encode("utf-8"))
        >>> b.find("BEER") != -1, "ПИВО" in b, b == "ПИВО BEER", str(b)
        (True, True, True, 'ПИВО BEER')
    """

    __slots__ = ()

    def decode(self, encoding: str = "utf-8", errors: str = "strict") -> Text:
        """The text, as `Text`."""
        return Text(bytes.decode(self, encoding, errors))

    def __str__(self) -> str:
        return bytes.decode(self, "utf-8", "replace")

    def __format__(self, spec: str) -> str:
        return format(str(self), spec)

    def __contains__(self, item: Any) -> bool:
        return bytes.__contains__(self, _b(item))

    def __eq__(self, other: object) -> bool:
        return bytes.__eq__(self, _b(other)) is True

    def __ne__(self, other: object) -> bool:
        return not self.__eq__(other)

    __hash__ = bytes.__hash__

    def __getitem__(self, key: SupportsIndex | slice) -> Any:
        res = bytes.__getitem__(self, key)
        return Bytes(res) if isinstance(res, bytes) else res

    def __add__(self, other: Any) -> Bytes:
        return Bytes(bytes.__add__(self, _b(other)))

    def __radd__(self, other: Any) -> Bytes:
        if isinstance(other, str | bytes):
            return Bytes(bytes.__add__(_b(other), self))
        return NotImplemented


for _name in ("find", "rfind", "index", "rindex", "count", "startswith", "endswith"):
    setattr(Bytes, _name, _bytes_method(_name, wrap_result=False))
for _name in ("replace", "split", "rsplit", "strip", "lstrip", "rstrip", "partition",
              "rpartition", "upper", "lower", "title", "capitalize", "swapcase", "splitlines",
              "join", "center", "ljust", "rjust", "zfill"):
    setattr(Bytes, _name, _bytes_method(_name, wrap_result=True))


def as_text(value: Any) -> str:
    """Plain str of anything a script hands over as text (bytes are decoded as UTF-8)."""
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).decode("utf-8", "replace")
    return str(value)


def plain(value: str) -> str:
    """A plain `str` (msgspec and the store do not take str subclasses)."""
    return str(value) if type(value) is not str else value


class ScriptFile:
    """A text file object that also writes bytes-like data as bytes (Python 2 "w" files).

    Everything else is delegated to the wrapped file.
    """

    def __init__(self, f: Any):
        self._f: Any = f  # an io.TextIOWrapper

    def write(self, data: Any) -> int:
        """Write text, or bytes-like data as the bytes they are."""
        if isinstance(data, bytes | bytearray | memoryview):
            self._f.flush()
            n: int = self._f.buffer.write(bytes(data))
            return n
        written: int = self._f.write(data)
        return written

    def writelines(self, lines: Any) -> None:
        for line in lines:
            self.write(line)

    def __enter__(self) -> ScriptFile:
        self._f.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._f.__exit__(*exc)

    def __iter__(self) -> Any:
        return iter(self._f)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._f, name)


def script_open(workdir: Path | None) -> Callable[..., Any]:
    """The `open` a script sees: paths relative to `workdir`; text-mode writes take bytes.

    Text files are read and written as UTF-8 unless the script names an encoding; bytes that
    are not UTF-8 are kept (surrogateescape) so an XML file in another encoding reaches
    `pos_import_detector` intact.
    """

    def open(file: Any, mode: str = "r", *args: Any, **kwargs: Any) -> Any:  # noqa: A001
        if workdir is not None and isinstance(file, str | bytes | os.PathLike):
            p = Path(os.fsdecode(file))
            if not p.is_absolute():
                file = workdir / p
        if "b" in mode:
            return builtins.open(file, mode, *args, **kwargs)
        if not args and "encoding" not in kwargs:
            kwargs["encoding"] = "utf-8"
            kwargs.setdefault("errors", "surrogateescape")
        f = builtins.open(file, mode, *args, **kwargs)
        if any(c in mode for c in "wax+"):
            return ScriptFile(f)
        return f

    return open
