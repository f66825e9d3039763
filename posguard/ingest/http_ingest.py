"""The HTTP ingest handler as a function: a request body in, a status and a JSON body out.

`POST /api/ingest` (console/routes/ingest.py) calls `IngestService.ingest_http`, which uses
`ingest_http_batch` and then publishes. A batch is all or nothing: when any item is refused,
no item is accepted, the response is 400 with every item's reason, and the refused items
go to pos.deadletter; the sender fixes them and sends the batch again.

    200 {"accepted": 3}
    400 {"error": "2 of 3 events refused", "rejected": [{"index": 1, "code":
         "unknown_event_type", "reason": "unknown event type 'POS_X'"}, ...]}
    400 {"error": "body is not a JSON array of events: ...", "rejected": [{"index": -1, ...}]}
    413 {"error": "body larger than 8388608 bytes"}
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from posguard.ingest.json_events import Resolver, parse_json_batch
from posguard.ingest.rejects import Rejected, rejected
from posguard.model.events import PosEvent

__all__ = ["HttpOutcome", "ingest_http_batch", "MAX_EVENTS_PER_REQUEST"]

MAX_EVENTS_PER_REQUEST = 100_000


@dataclass(frozen=True)
class HttpOutcome:
    """What to answer, and what to publish (events) or dead-letter (rejects)."""

    status: int
    body: dict[str, Any]
    events: list[PosEvent] = field(default_factory=list)
    rejects: list[Rejected] = field(default_factory=list)


def ingest_http_batch(body: bytes, resolve: Resolver, ids: Callable[[], str], ts_received: int,
                      max_body_bytes: int, source: str = "http") -> HttpOutcome:
    """Decide the answer to one ingest request (pure: publishing is the caller's).

    Args:
        body: the request body.
        resolve: (guid, location) -> terminal (transport "http").
        ids: event id source for events without an event_id.
        ts_received: arrival time, microseconds.
        max_body_bytes: larger bodies get 413 (and are not parsed).
        source: the peer, for rejects.
    """
    if len(body) > max_body_bytes:
        r = rejected("oversized", f"body larger than {max_body_bytes} bytes", body,
                     ts_received, source=source)
        return HttpOutcome(413, {"error": r.reason}, rejects=[r])
    events, errors = parse_json_batch(body, resolve, ts_received, ids, source)
    if len(events) + len(errors) > MAX_EVENTS_PER_REQUEST:
        r = rejected("oversized", f"more than {MAX_EVENTS_PER_REQUEST} events in one request",
                     body, ts_received, source=source)
        return HttpOutcome(413, {"error": r.reason}, rejects=[r])
    if errors:
        total = len(events) + len(errors)
        head = errors[0][0]
        msg = head.reason if head.index < 0 else f"{len(errors)} of {total} events refused"
        return HttpOutcome(400, {"error": msg, "rejected": [
            {"index": e.index, "code": e.code, "reason": e.reason} for e, _ in errors]},
            rejects=[r for _, r in errors])
    return HttpOutcome(200, {"accepted": len(events)}, events=events)
