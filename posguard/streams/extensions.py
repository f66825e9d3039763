"""The agents a worker runs besides receipt assembly (detectors, ...), in one list."""

from __future__ import annotations

from posguard.streams.app import Extension

__all__ = ["default_extensions"]


def default_extensions() -> tuple[Extension, ...]:
    """Extensions every worker runs."""
    return ()
