"""Helpers shared by the ingest unit tests (imported by module name, like the detector
tests' helpers)."""

from __future__ import annotations

import itertools
from collections.abc import Callable

from posguard.ingest.registry import Terminal


def counter_ids(prefix: str = "e") -> Callable[[], str]:
    """A deterministic event-id source."""
    n = itertools.count(1)
    return lambda: f"{prefix}{next(n)}"


MOSCOW = Terminal(guid="T1RuoVF7", name="Till 1", store="store-1", port=5001,
                  associated_channel="cam-1", timezone="Europe/Moscow")
