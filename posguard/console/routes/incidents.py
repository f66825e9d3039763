"""Incidents: the Table 14 search, one incident with its receipt, and the review.

A review writes a new version of the incident row and an audit row (store/incidents.py); the
version number is max(previous + 1, now in microseconds), allocated under a lock, and a
reviewer may send the version they saw to be refused (409) if someone else changed it since.
"""

from __future__ import annotations

import threading
from typing import Annotated, Any, Literal

import msgspec
from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request, status
from pydantic import BaseModel, Field

from posguard.console.auth import Principal, require_role
from posguard.console.review import Decision, ReviewError, action_name, apply_review
from posguard.console.web_setup import Console, console_of_request
from posguard.model.events import PosEvent
from posguard.model.incident_filters import IncidentFilter
from posguard.model.incidents import Incident, IncidentStatus
from posguard.model.times import to_micros
from posguard.store.incidents import (
    count_incidents,
    get_incident,
    incident_history,
    receipt_events,
    search_incidents,
    write_version,
)

router = APIRouter(prefix="/api/incidents", tags=["incidents"])

Viewer = Annotated[Principal, Depends(require_role("viewer"))]
Operator = Annotated[Principal, Depends(require_role("operator"))]
Con = Annotated[Console, Depends(console_of_request)]
IncidentId = Annotated[str, Path(min_length=1, max_length=128)]
_review_lock = threading.Lock()
_STATUS = {"new": IncidentStatus.NEW, "confirmed": IncidentStatus.CONFIRMED,
           "rejected": IncidentStatus.REJECTED}
MAX_LIST = 100_000


def incident_dict(i: Incident, version: int) -> dict[str, Any]:
    """An incident as JSON, every field present, with its version and status name."""
    d = msgspec.structs.asdict(i)
    d["version"] = version
    d["status_name"] = IncidentStatus(i.status).name.lower()
    return d


def is_triggering(i: Incident, ev: PosEvent) -> bool:
    """Whether `ev` is one of the events that made the detector fire.

    Detectors name an event by its id, or by terminal|ts_in_receipt|type when it has none
    (detectors/base.py `ref`); related_ts is the fallback for incidents made elsewhere.
    """
    keys = set(i.related_events)
    if ev.event_id and ev.event_id in keys:
        return True
    if f"{ev.pos_terminal}|{ev.ts_in_receipt}|{ev.type}" in keys:
        return True
    return not keys and ev.ts_in_receipt in set(i.related_ts)


@router.get("")
def list_incidents(
    request: Request,
    _: Viewer,
    from_: Annotated[str | None, Query(alias="from", description="seconds or microseconds")]
    = None,
    to: Annotated[str | None, Query(description="seconds or microseconds")] = None,
    cashiers: Annotated[list[str], Query()] = [],  # noqa: B006 (FastAPI copies defaults)
    detectors_names: Annotated[list[str], Query(description="detector GUIDs or type names")]
    = [],  # noqa: B006
    experts: Annotated[list[str], Query()] = [],  # noqa: B006
    flags: Annotated[int, Query(ge=0, le=15, description="IncidentFlag bits")] = 0,
    incidents_ids: Annotated[list[str], Query(description="incident ids or type GUIDs")]
    = [],  # noqa: B006
    terminals: Annotated[list[str], Query()] = [],  # noqa: B006
    limit: Annotated[int, Query(ge=-1, le=MAX_LIST, description="-1 = all")] = 100,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> dict[str, Any]:
    """Incidents created in [from, to] matching every given Table 14 key, newest first."""
    f = IncidentFilter(cashiers=tuple(cashiers), detectors_names=tuple(detectors_names),
                       experts=tuple(experts), flags=flags, incidents_ids=tuple(incidents_ids),
                       terminals=tuple(terminals), limit=MAX_LIST if limit < 0 else limit)
    backend = request.app.state.node.backend
    t0 = to_micros(from_) if from_ else None
    t1 = to_micros(to) if to else None
    found = search_incidents(backend, f, t0, t1, offset)
    return {"total": count_incidents(backend, f, t0, t1),
            "incidents": [incident_dict(i, v) for i, v in found]}


def _get(request: Request, incident_id: str) -> tuple[Incident, int]:
    got = get_incident(request.app.state.node.backend, incident_id)
    if got is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no incident {incident_id!r}")
    return got


@router.get("/{incident_id}", responses={404: {"description": "no such incident"}})
def get_one(incident_id: IncidentId, request: Request, _: Viewer,
            console: Con) -> dict[str, Any]:
    """One incident, its receipt's events (triggering ones marked), history, video moment.

    `served_at` is the server's time: the review form sends it back as `review_started`.
    """
    inc, version = _get(request, incident_id)
    backend = request.app.state.node.backend
    events = receipt_events(backend, inc.terminal_guid, inc.op_id, inc.ts_created) \
        if inc.op_id else []
    out_events = []
    moment = 0
    for ev in events:
        d = msgspec.structs.asdict(ev)
        d["triggering"] = is_triggering(inc, ev)
        if d["triggering"]:
            moment = ev.ts_received
        out_events.append(d)
    return {
        "incident": incident_dict(inc, version),
        "events": out_events,
        "history": [msgspec.structs.asdict(h) for h in incident_history(backend, inc.id)],
        "video": {"channel": inc.associated_channel, "ts_received": moment or inc.ts_created},
        "served_at": console.now_us(),
    }


@router.get("/{incident_id}/history", responses={404: {"description": "no such incident"}})
def history(incident_id: IncidentId, request: Request, _: Viewer) -> list[dict[str, Any]]:
    """Every change of an incident (who, when, what), oldest first."""
    _get(request, incident_id)
    return [msgspec.structs.asdict(h)
            for h in incident_history(request.app.state.node.backend, incident_id)]


class ReviewBody(BaseModel):
    status: Literal["new", "confirmed", "rejected"] | None = Field(
        None, description="the decision; omitted = keep the status, update the other fields")
    expert_estimate: Annotated[int | None, Field(ge=0, le=10**15,
                                                 description="damage in kopecks")] = None
    comment: Annotated[str | None, Field(max_length=4000)] = None
    review_started: Annotated[int | None, Field(ge=0, le=2**62, description=(
        "microseconds: when the reviewer opened the incident (served_at of GET)"))] = None
    version: Annotated[int | None, Field(ge=0, le=2**63, description=(
        "the version the reviewer saw; refused with 409 if the incident changed since"))] = None


@router.post("/{incident_id}/review",
             responses={404: {"description": "no such incident"},
                        409: {"description": "changed by someone else since `version`"}})
def review(incident_id: IncidentId, body: ReviewBody, request: Request, who: Operator,
           console: Con) -> dict[str, Any]:
    """Confirm, reject or reopen an incident; the caller becomes the expert."""
    backend = request.app.state.node.backend
    with _review_lock:
        old, version = _get(request, incident_id)
        if body.version is not None and body.version != version:
            raise HTTPException(status.HTTP_409_CONFLICT,
                                f"incident changed since version {body.version} "
                                f"(now {version}); reload it")
        now = console.now_us()
        decision = Decision(status=None if body.status is None else _STATUS[body.status],
                            expert_estimate=body.expert_estimate, comment=body.comment,
                            started=body.review_started)
        try:
            new = apply_review(old, decision, who.name, now)
        except ReviewError as e:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(e)) from None
        new_version = max(version + 1, now)
        h = write_version(backend, new, new_version, who.name, action_name(old, new), now)
    return {"incident": incident_dict(new, new_version), "history": msgspec.structs.asdict(h)}
