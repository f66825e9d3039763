"""The agents a worker runs besides receipt assembly (detectors, ...), in one list."""

from __future__ import annotations

from posguard.streams.app import Extension, WorkerContext

__all__ = ["default_extensions"]


def default_extensions(zones: dict[str, str] | None = None) -> tuple[Extension, ...]:
    """Extensions every worker runs: the detector agents.

    Args:
        zones: terminal GUID -> IANA timezone, for rules in store-local time.
    """
    from posguard.streams.detection import install_detection

    def detection(ctx: WorkerContext) -> None:
        install_detection(ctx, zones)

    return (detection,)
