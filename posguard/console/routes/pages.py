"""The operator console's pages: server-rendered HTML shells with a little vanilla JS.

Each page is web/templates/layout.html around web/templates/<page>.html; values go in escaped
(html.escape) and page data as JSON in a non-executed <script type="application/json">. The
Content-Security-Policy allows only this origin's scripts and styles: no inline script, no CDN.
A page request without a session redirects to /login.
"""

from __future__ import annotations

import html
import json
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path as FsPath
from string import Template
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, HTTPException, Path, Request, status
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response

from posguard import __version__
from posguard.console.auth import Principal, authenticate
from posguard.console.routes import charts
from posguard.model.event_types import EVENT_TYPES

router = APIRouter(include_in_schema=False)

WEB = FsPath(__file__).resolve().parent.parent / "web"
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
SECURITY_HEADERS = {"Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff",
                    "Referrer-Policy": "same-origin", "X-Frame-Options": "DENY",
                    "Cache-Control": "no-store"}
NAV = [("/live", "Live", "viewer"), ("/incidents", "Incidents", "viewer"),
       ("/search", "Search", "viewer"), ("/reports", "Reports", "viewer"),
       ("/users", "Users", "admin")]
# Shown when the reports API does not list its types (GET /api/reports).
REPORT_TYPES: list[dict[str, str]] = [{"id": "violations", "name": "Violations"}]
_STATIC_TYPES = {".js": "text/javascript", ".css": "text/css", ".svg": "image/svg+xml",
                 ".ico": "image/x-icon"}


@lru_cache(maxsize=32)
def _template(name: str) -> Template:
    return Template((WEB / "templates" / name).read_text(encoding="utf-8"))


def _json_for_html(data: Any) -> str:
    # "</script>" inside a string must not end the data block
    return (json.dumps(data, ensure_ascii=False).replace("<", "\\u003c")
            .replace(">", "\\u003e").replace("&", "\\u0026"))


def render(request: Request, page: str, title: str, who: Principal | None,
           data: dict[str, Any] | None = None, status_code: int = 200,
           parts: dict[str, str] | None = None) -> HTMLResponse:
    """One page: layout + templates/<page>.html + static/<page>.js.

    `parts` fills the page template's $placeholders with HTML the caller has escaped.
    """
    session = getattr(request.state, "session", None)
    active = ' class="active"'
    nav = "".join(
        f'<a href="{href}"{active if request.url.path.startswith(href) else ""}>{label}</a>'
        for href, label, role in NAV if who is not None and who.has(role))
    body = _template(f"{page}.html").safe_substitute(parts or {})
    out = _template("layout.html").substitute(
        title=html.escape(title), nav=nav, body=body, page=page, version=__version__,
        user=html.escape(who.name if who else ""), role=html.escape(who.role if who else ""),
        csrf=html.escape(session.csrf if session else ""),
        data=_json_for_html(data or {}),
        userbox="" if who is None else (
            f'<span class="who">{html.escape(who.name)} · {html.escape(who.role)}</span>'
            '<button id="logout" type="button">Log out</button>'))
    return HTMLResponse(out, status_code=status_code, headers=SECURITY_HEADERS)


def _who(request: Request) -> Principal | None:
    try:
        return authenticate(request)
    except HTTPException as e:
        if e.status_code == status.HTTP_401_UNAUTHORIZED:
            return None
        raise


def _login_redirect(request: Request) -> RedirectResponse:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/login?next={quote(target, safe='')}", status.HTTP_303_SEE_OTHER)


def _page(request: Request, page: str, title: str, role: str = "viewer",
          data: dict[str, Any] | None = None,
          parts: Callable[[Principal], dict[str, str]] | None = None) -> Response:
    who = _who(request)
    if who is None:
        return _login_redirect(request)
    if not who.has(role):
        return render(request, "forbidden", "Not allowed", who, {"role": role},
                      status_code=status.HTTP_403_FORBIDDEN)
    return render(request, page, title, who, data, parts=parts(who) if parts else None)


def chart_figures(who: Principal) -> str:
    """The <img> of each GET /api/charts/{name}.svg, or "" for a caller who may not see them."""
    if not who.has(charts.ROLE):
        return ""
    figures = "".join(
        f'<figure><a href="{src}"><img src="{src}" data-chart="{html.escape(name)}" '
        f'alt="{html.escape(title)}" width="760" height="380"></a></figure>'
        for name, title in charts.CHARTS.items()
        for src in [html.escape(f"/api/charts/{quote(name)}.svg")])
    return ('<section id="charts" class="charts"><h2>Charts</h2>'
            '<p class="muted">Drawn on the server over the days chosen above (UTC hours); '
            f'click one to open it alone.</p><div class="chart-grid">{figures}</div></section>')


@router.get("/")
def home(request: Request) -> Response:
    return RedirectResponse("/live" if _who(request) else "/login", status.HTTP_303_SEE_OTHER)


@router.get("/login")
def login_page(request: Request) -> Response:
    return render(request, "login", "Log in", None)


@router.get("/live")
def live_page(request: Request) -> Response:
    return _page(request, "live", "Live")


@router.get("/incidents")
def incidents_page(request: Request) -> Response:
    return _page(request, "incidents", "Incidents")


@router.get("/incidents/{incident_id}")
def incident_page(request: Request,
                  incident_id: Annotated[str, Path(min_length=1, max_length=128)]) -> Response:
    return _page(request, "incident", "Incident review", data={"id": incident_id})


@router.get("/search")
def search_page(request: Request) -> Response:
    return _page(request, "search", "Search receipts",
                 data={"event_types": sorted(EVENT_TYPES)})


@router.get("/reports")
def reports_page(request: Request) -> Response:
    return _page(request, "reports", "Reports", data={"report_types": REPORT_TYPES},
                 parts=lambda who: {"charts": chart_figures(who)})


@router.get("/users")
def users_page(request: Request) -> Response:
    return _page(request, "users", "Users", role="admin")


@router.get("/static/{name}")
def static(name: Annotated[str, Path(pattern=r"^[a-z0-9_-]+\.(js|css|svg|ico)$")]) -> Response:
    """The console's own scripts and styles (names checked: no paths)."""
    path = WEB / "static" / name
    if not path.is_file():
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such file")
    return FileResponse(path, media_type=_STATIC_TYPES[path.suffix],
                        headers={"X-Content-Type-Options": "nosniff",
                                 "Cache-Control": "no-cache"})
