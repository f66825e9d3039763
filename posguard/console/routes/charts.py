"""The key analyst charts as SVG, drawn on the node (the embedded deployment's stand-in for
the Grafana dashboards in deploy/grafana/): incidents by type and status, top cashiers by void
rate, receipts per hour per store, terminal-to-server delay."""

from __future__ import annotations

import math
import time
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import Response

from posguard.console import svg
from posguard.console.auth import Principal, require_role
from posguard.model.times import to_micros
from posguard.store import chart_data
from posguard.store.backends.base import Backend

router = APIRouter(prefix="/api/charts", tags=["charts"])

SVG = "image/svg+xml"
ROLE = "viewer"  # who may see the charts (the reports page shows them to the same roles)
CHARTS = {
    "incidents_by_type": "Incidents by type and status",
    "top_void_cashiers": "Top cashiers by void rate",
    "receipts_per_hour": "Receipts per hour per store",
    "pipeline_lag": "Terminal-to-server delay per hour",
}
_DAY_US = 86_400_000_000
_MAX_RANGE_US = 400 * _DAY_US


def _hour(us: int) -> str:
    return datetime.fromtimestamp(us / 1e6, UTC).strftime("%m-%d %H:00")


def _grid(rows: list[tuple[int, str, float]]) -> tuple[list[str], dict[str, list[float]]]:
    """(hour µs, series, value) rows -> x labels and one value list per series (NaN gaps)."""
    hours = sorted({r[0] for r in rows})
    idx = {h: k for k, h in enumerate(hours)}
    series: dict[str, list[float]] = {}
    for h, name, v in rows:
        series.setdefault(name, [math.nan] * len(hours))[idx[h]] = v
    return [_hour(h) for h in hours], series


def render(backend: Backend, name: str, t0: int, t1: int, store: str) -> str:
    """The SVG of chart `name` over [t0, t1)."""
    title = CHARTS[name] + (f" — {store}" if store else "")
    if name == "incidents_by_type":
        rows = chart_data.incidents_by_type(backend, t0, t1, store)
        types = sorted({r[0] for r in rows})
        statuses = sorted({r[1] for r in rows})
        counts = {(a, b): c for a, b, c in rows}
        return svg.stacked_bars(title, types, {s: [float(counts.get((t, s), 0)) for t in types]
                                               for s in statuses}, unit="incidents")
    if name == "top_void_cashiers":
        d0 = datetime.fromtimestamp(t0 / 1e6, UTC).date().isoformat()
        d1 = datetime.fromtimestamp((t1 - 1) / 1e6, UTC).date().isoformat()
        top = chart_data.top_void_cashiers(backend, d0, d1, store)
        return svg.horizontal_bars(title, [f"{c} ({s})" for c, s, *_ in top],
                                   [r[2] * 100 for r in top], unit="of lines voided",
                                   value_format="{:.2f} %")
    if name == "receipts_per_hour":
        per = chart_data.receipts_per_hour(backend, t0, t1, store)
        labels, series = _grid([(h, s, float(n)) for h, s, n in per])
        return svg.line_chart(title, labels, series, unit="receipts closed")
    lag = chart_data.pipeline_lag(backend, t0, t1, store)
    labels, series = _grid([(h, s, avg) for h, s, avg, _ in lag])
    return svg.line_chart(title, labels, series, unit="mean delay, ms")


@router.get("")
def charts(_: Annotated[Principal, Depends(require_role(ROLE))]) -> dict[str, str]:
    """The chart names (GET /api/charts/{name}.svg) and their titles."""
    return CHARTS


@router.get("/{name}.svg", response_class=Response,
            responses={200: {"content": {SVG: {}}, "description": "the chart"}})
def chart(
    request: Request,
    name: str,
    _: Annotated[Principal, Depends(require_role(ROLE))],
    from_: Annotated[str | None, Query(alias="from", max_length=40,
                                       description="start, seconds or microseconds")] = None,
    to: Annotated[str | None, Query(max_length=40,
                                    description="end (excluded), seconds or microseconds")] = None,
    store: Annotated[str, Query(max_length=200)] = "",
) -> Response:
    """Chart `name` over [from, to) (default: the last 24 hours; times in UTC)."""
    if name not in CHARTS:
        raise HTTPException(404, f"unknown chart {name!r}; one of {', '.join(CHARTS)}")
    t1 = to_micros(to) if to else int(time.time() * 1_000_000)
    t0 = to_micros(from_) if from_ else t1 - _DAY_US
    if not 0 <= t1 - t0 <= _MAX_RANGE_US:
        raise HTTPException(400, "from must be before to, at most 400 days apart")
    body = render(request.app.state.node.backend, name, t0, t1, store)
    return Response(content=body, media_type=SVG, headers={"Cache-Control": "no-store"})
