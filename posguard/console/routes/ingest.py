"""`POST /api/ingest`: a batch of JSON events from a terminal (schema in docs/ingest.md).

The node keeps its IngestService in `NodeState.extras["ingest"]`; the service runs on its
own event loop, so the body is handed over thread-safely. Terminals post without the API
token (like the TCP/UDP listeners, the endpoint accepts only registered terminals, or
registers them when [ingest] auto_register is on).
"""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

router = APIRouter(tags=["ingest"])

_EXAMPLE = [{"type": "POS_POSITION_ADD", "pos_terminal": "T1RuoVF7", "op_id": "E44D0F4A",
             "ts_in_receipt": "2017-01-11T16:40:15", "position": 2, "quantity": 2,
             "price_per_unit": 5199, "price": 10398, "text": "Buttermilk 1.5% 0.95l"}]


@router.post(
    "/api/ingest",
    responses={200: {"description": 'accepted: {"accepted": n}'},
               400: {"description": "refused: nothing accepted; the reason of each item"},
               413: {"description": "body too large"},
               503: {"description": "the ingest adapters are not running in this node, or the "
                                     "ingest spool is full (Kafka unreachable)"}},
    openapi_extra={"requestBody": {"required": True, "content": {"application/json": {
        "schema": {"type": "array", "items": {"type": "object"}}, "example": _EXAMPLE}}}},
)
async def ingest(request: Request) -> JSONResponse:
    """Accept a JSON array of events (or {"events": [...]}); all or nothing."""
    node = getattr(request.app.state, "node", None)
    service: Any = getattr(node, "extras", {}).get("ingest") if node is not None else None
    if service is None:
        return JSONResponse({"error": "the ingest adapters are not running in this node"}, 503)
    limit = service.config.http_max_body_bytes
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        return JSONResponse({"error": f"body larger than {limit} bytes"}, 413)
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            return JSONResponse({"error": f"body larger than {limit} bytes"}, 413)
    peer = request.client
    source = f"http {peer.host}:{peer.port}" if peer else "http"
    status, payload = await asyncio.wrap_future(
        service.ingest_http_threadsafe(bytes(body), source))
    return JSONResponse(payload, status)
