"""Event ids given by the adapter: unique across processes and restarts, cheap to make.

An id is a random per-process prefix plus a counter. It is given once, when the event is
accepted, and travels inside the encoded event: a replay from the spool sends the same bytes,
so the same id (the store deduplicates on it).
"""

from __future__ import annotations

import itertools
import secrets

__all__ = ["EventIds"]


class EventIds:
    """Callable source of event ids: `ids()` -> "3f9a1c2b7e-1", "3f9a1c2b7e-2", ...

    Args:
        prefix: fixed prefix (tests); default 10 random hex digits.
    """

    def __init__(self, prefix: str | None = None):
        self.prefix = (prefix if prefix is not None else secrets.token_hex(5)) + "-"
        self._n = itertools.count(1)

    def __call__(self) -> str:
        return self.prefix + format(next(self._n), "x")
