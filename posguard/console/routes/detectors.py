"""Detector configuration (admins) and archive processing over HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import Response, StreamingResponse

from posguard.console.auth import Principal, require_role
from posguard.console.state import NodeState
from posguard.detectors.config import (
    MAX_CONFIG_BYTES,
    ConfigError,
    DetectorConfig,
    default_config,
    export_config,
    parse_config,
)
from posguard.detectors.engine import DetectorEngine, run_archive
from posguard.model.codec import encode_json
from posguard.model.times import to_micros
from posguard.store.search import iter_events
from posguard.store.writer import insert_new_incidents

router = APIRouter(prefix="/api/detectors", tags=["detectors"])
XML = "application/xml"
# Detectors need context from before the range (an open receipt, a shift's count): read
# this much earlier, then keep only incidents created inside the range.
ARCHIVE_CONTEXT_US = 24 * 3600 * 1_000_000


def current_config(state: NodeState) -> DetectorConfig:
    cfg = state.extras.get("detector_config")
    return cfg if isinstance(cfg, DetectorConfig) else default_config()


@router.get("", response_class=Response)
def export(request: Request,
           _: Annotated[Principal, Depends(require_role("admin"))]) -> Response:
    """The current configuration as XML."""
    return Response(export_config(current_config(request.app.state.node)), media_type=XML)


@router.put("")
async def import_config(request: Request,
                        _: Annotated[Principal, Depends(require_role("admin"))]) -> dict:  # type: ignore[type-arg]
    """Replace the whole configuration, only if the XML validates (else 400, old one kept)."""
    body = await request.body()
    if len(body) > MAX_CONFIG_BYTES:
        raise HTTPException(413, f"configuration larger than {MAX_CONFIG_BYTES} bytes")
    try:
        cfg = parse_config(body)
    except ConfigError as e:
        raise HTTPException(400, str(e)) from None
    state: NodeState = request.app.state.node
    publish = state.extras.get("publish_detector_config")
    if publish is not None:
        publish(cfg)
    state.extras["detector_config"] = cfg
    return {"detectors": len(cfg.detectors), "incident_types": len(cfg.incident_types)}


@router.post("/{guid}/process-archive")
def process_archive(
    request: Request,
    guid: str,
    _: Annotated[Principal, Depends(require_role("operator"))],
    from_: Annotated[str, Query(alias="from")],
    to: Annotated[str, Query()],
) -> StreamingResponse:
    """Run one detector over stored events of [from, to]; stream progress as JSON lines."""
    state: NodeState = request.app.state.node
    cfg = current_config(state)
    if guid not in {d.guid for d in cfg.detectors}:
        raise HTTPException(404, f"no detector {guid!r} in the configuration")
    t0, t1 = to_micros(from_), to_micros(to)
    if t1 < t0:
        raise HTTPException(400, "from is after to")
    zones = state.extras.get("zones")
    from posguard.detectors.localtime import zones_from

    engine = DetectorEngine.from_config(cfg, zones=zones_from(zones or {}), only=[guid])

    def progress() -> Iterator[bytes]:
        events = []
        for n, ev in enumerate(iter_events(state.backend, t0 - ARCHIVE_CONTEXT_US, t1), 1):
            events.append(ev)
            if n % 20_000 == 0:
                yield encode_json({"events": n}) + b"\n"
        incidents = run_archive(engine, events, since=t0)
        new = insert_new_incidents(state.backend, incidents)
        yield encode_json({"done": True, "events": len(events), "incidents": len(incidents),
                           "new": new}) + b"\n"

    return StreamingResponse(progress(), media_type="application/x-ndjson")
