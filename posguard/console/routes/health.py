"""Health and metrics of the node."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import PlainTextResponse

from posguard import __version__
from posguard.console.auth import Principal, require_role
from posguard.console.metrics import (
    collect_metrics,
    detector_types,
    node_lag_monitor,
    render_metrics,
)
from posguard.streams.consumer_lag import LagSnapshot
from posguard.streams.topics import Topics

router = APIRouter(tags=["health"])


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


def _lag(state: Any) -> LagSnapshot | None:
    """Consumer lag of the node's groups, from a monitor kept in the state (cached there)."""
    if not state.bootstrap:
        return None
    monitor = state.extras.get("consumer_lag")
    if monitor is None:
        s = state.settings
        monitor = state.extras.setdefault("consumer_lag", node_lag_monitor(
            state.bootstrap, s.app_id, Topics(s.topic_prefix), s.kafka_config))
    snapshot: LagSnapshot = monitor.snapshot()
    return snapshot


@router.get("/metrics", response_class=PlainTextResponse)
def metrics(request: Request,
            _: Annotated[Principal, Depends(require_role("viewer"))]) -> str:
    """Prometheus text format of the node's counters, incidents per detector and consumer
    lag per partition (scrape with the API token as bearer)."""
    state = request.app.state.node
    return render_metrics(collect_metrics(state.metrics), _lag(state),
                          detector_types(state.extras.get("detector_config")))
