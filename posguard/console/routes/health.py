"""Health and metrics of the node."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import PlainTextResponse

from posguard import __version__
from posguard.console.auth import Principal, require_role

router = APIRouter(tags=["health"])


def _metrics(request: Request) -> dict[str, Any]:
    state = request.app.state.node
    out: dict[str, Any] = {}
    for name, fn in state.metrics.items():
        try:
            out[name] = fn()
        except Exception as e:  # a broken gauge must not break health
            out[name] = {"error": str(e)}
    return out


@router.get("/api/health")
def health(request: Request) -> dict[str, Any]:
    """Liveness and a store probe (no authentication: load balancers call it)."""
    state = request.app.state.node
    try:
        state.backend.query("SELECT 1")
        store = "ok"
    except Exception as e:
        store = f"error: {e}"
    return {"status": "ok" if store == "ok" else "degraded", "version": __version__,
            "store": store, "kafka": state.bootstrap}


@router.get("/metrics", response_class=PlainTextResponse)
def metrics(request: Request,
            _: Annotated[Principal, Depends(require_role("viewer"))]) -> str:
    """Prometheus text format of the node's counters (scrape with the API token as bearer)."""
    lines = []
    for group, values in _metrics(request).items():
        for k, v in values.items():
            if isinstance(v, int | float) and not isinstance(v, bool):
                lines.append(f"posguard_{group}_{k} {v}")
    return "\n".join(lines) + "\n"
