"""The agents a worker runs (receipt assembly, detectors, ...), in one list."""

from __future__ import annotations

from posguard.streams.app import Extension, WorkerContext

__all__ = ["default_extensions"]


def default_extensions(zones: dict[str, str] | None = None) -> tuple[Extension, ...]:
    """Extensions every worker runs: receipt assembly and the detector agents.

    Args:
        zones: terminal GUID -> IANA timezone, for rules in store-local time.
    """
    from posguard.streams.pipeline import install_pipeline

    def pipeline(ctx: WorkerContext) -> None:
        install_pipeline(ctx, zones)

    return (pipeline,)
