"""Reports over HTTP: the list of report types, and each report as an ODS download."""

from __future__ import annotations

import time
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import Response

from posguard.console.auth import Principal, require_role
from posguard.console.commands.ingest import config_path
from posguard.ingest.files import store_zones
from posguard.model.times import to_micros
from posguard.reports.build import generate_report
from posguard.reports.errors import UnknownReportType
from posguard.reports.ods import MEDIA_TYPE
from posguard.reports.output import report_filename
from posguard.reports.timezone import report_timezone
from posguard.reports.types import REPORT_TITLES, parse_report_type

router = APIRouter(prefix="/api/reports", tags=["reports"])

_DAY_US = 86_400_000_000


@router.get("")
def report_types(
    _: Annotated[Principal, Depends(require_role("viewer"))],
) -> list[dict[str, Any]]:
    """The report types: `type` goes into /api/reports/{type}; `name` is what scripts use."""
    return [{"type": rt.value, "name": rt.name, "title": title,
             "media_type": MEDIA_TYPE} for rt, title in REPORT_TITLES.items()]


@router.get("/{report_type}", response_class=Response,
            responses={200: {"content": {MEDIA_TYPE: {}}, "description": "the ODS file"}})
def report(
    request: Request,
    report_type: str,
    _: Annotated[Principal, Depends(require_role("viewer"))],
    from_: Annotated[str | None, Query(alias="from",
                                       description="start, seconds or microseconds")] = None,
    to: Annotated[str | None, Query(description="end (excluded), seconds or microseconds")] = None,
    store: Annotated[str, Query(max_length=200)] = "",
    tz: Annotated[str, Query(max_length=64, description=(
        "IANA timezone (default: the store's timezone from the terminal registry; for all "
        "stores the terminals' one timezone when they share it; else UTC)"))] = "",
) -> Response:
    """The report over [from, to) (default: the last 24 hours) as an ODS spreadsheet."""
    try:
        rt = parse_report_type(report_type)
    except UnknownReportType as e:
        raise HTTPException(404, str(e)) from None
    t1 = to_micros(to) if to else int(time.time() * 1_000_000)
    t0 = to_micros(from_) if from_ else t1 - _DAY_US
    node = request.app.state.node
    # The registry is read per request: terminals are added while the node runs.
    chosen = report_timezone(() if tz else store_zones(config_path(node.settings)), store,
                             explicit=tz)
    data = generate_report(node.backend, rt, t0, t1, store or None, chosen.tz,
                           tz_note=chosen.note)
    name = report_filename(rt, t0, t1, store, chosen.tz)
    return Response(content=data, media_type=MEDIA_TYPE, headers={
        "Content-Disposition": f"attachment; filename=\"{name}\"; "
                               f"filename*=UTF-8''{quote(name)}",
        "Cache-Control": "no-store",
    })
