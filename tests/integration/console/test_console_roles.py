"""Every console route × every kind of caller: allowed, or 401 (anonymous) / 403 (too weak).

The route list comes from the app itself: a route without an entry in MATRIX (or an entry
for a route that is gone) fails `test_every_route_has_a_role_decision`, so a new route needs
a decision here about who may call it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from console_testkit import PASSWORD, ROLES, T0, Env, env_for, fill

from posguard.detectors.config import default_config, export_config

pytestmark = pytest.mark.integration

HOUR_US = 3_600_000_000
CALLERS = ["anonymous", *ROLES, "token"]  # token: the node's API token, which is admin
# Who holds each role (auth.Principal.has; analyst ranks above operator, not viewer-only).
HOLDERS = {
    "public": set(CALLERS),
    "viewer": {"viewer", "operator", "analyst", "admin", "token"},
    "operator": {"operator", "analyst", "admin", "token"},
    "analyst": {"analyst", "admin", "token"},
    "admin": {"admin", "token"},
}


@dataclass(frozen=True)
class Rule:
    """Who may call one route, and a request that reaches its handler when allowed.

    `needed`: the weakest role allowed, or "public" (no login). `page`: an HTML page
    (anonymous callers are redirected to /login instead of 401). `ok`: the statuses an
    allowed caller may get (default: anything below 500 but 401/403).
    """

    needed: str
    url: str
    json: Any = None
    content: bytes | None = None
    page: bool = False
    ok: frozenset[int] | None = None


def api(needed: str, url: str, json: Any = None, **kw: Any) -> Rule:
    return Rule(needed, url, json, **kw)


def page(needed: str, url: str) -> Rule:
    return Rule(needed, url, page=True, ok=frozenset({200}))


GUID = default_config().detectors[0].guid
RANGE = f"from={T0}&to={T0 + HOUR_US}"

# "METHOD /path/template" -> Rule. Ordered: the requests run in this order, so routes that
# end the caller's session (logout) come last.
MATRIX: dict[str, Rule] = {
    # FastAPI's own documentation routes and the node's open endpoints
    "GET /openapi.json": api("public", "/openapi.json", ok=frozenset({200})),
    "GET /docs": api("public", "/docs", ok=frozenset({200})),
    "GET /docs/oauth2-redirect": api("public", "/docs/oauth2-redirect", ok=frozenset({200})),
    "GET /redoc": api("public", "/redoc", ok=frozenset({200})),
    "GET /api/health": api("public", "/api/health", ok=frozenset({200})),
    # an invalid body: proves no login is needed without starting a session on this client
    "POST /api/auth/login": api("public", "/api/auth/login", {"username": "", "password": ""},
                                ok=frozenset({422})),
    # terminals post without a token; this node runs no ingest adapters (documented 503)
    "POST /api/ingest": api("public", "/api/ingest", [], ok=frozenset({503})),
    # pages
    "GET /": api("public", "/", ok=frozenset({303})),
    "GET /login": api("public", "/login", ok=frozenset({200})),
    "GET /static/{name}": api("public", "/static/common.js", ok=frozenset({200})),
    "GET /live": page("viewer", "/live"),
    "GET /incidents": page("viewer", "/incidents"),
    "GET /incidents/{incident_id}": page("viewer", "/incidents/i1"),
    "GET /search": page("viewer", "/search"),
    "GET /reports": page("viewer", "/reports"),
    "GET /users": page("admin", "/users"),
    # API
    "GET /api/auth/me": api("viewer", "/api/auth/me"),
    # too short a new password: 422 once past the role check, and the session survives
    "POST /api/auth/password": api("viewer", "/api/auth/password",
                                   {"old_password": PASSWORD, "new_password": "short"},
                                   ok=frozenset({422})),
    "GET /metrics": api("viewer", "/metrics", ok=frozenset({200})),
    "GET /api/charts": api("viewer", "/api/charts", ok=frozenset({200})),
    "GET /api/charts/{name}.svg": api("viewer", f"/api/charts/incidents_by_type.svg?{RANGE}",
                                      ok=frozenset({200})),
    "GET /api/detectors": api("admin", "/api/detectors", ok=frozenset({200})),
    "PUT /api/detectors": api("admin", "/api/detectors",
                              content=export_config(default_config()),
                              ok=frozenset({200})),
    "POST /api/detectors/{guid}/process-archive": api(
        "operator", f"/api/detectors/{GUID}/process-archive?{RANGE}", ok=frozenset({200})),
    "GET /api/events/search": api("viewer", "/api/events/search"),
    "GET /api/events/count": api("viewer", "/api/events/count"),
    "GET /api/incidents": api("viewer", "/api/incidents"),
    "GET /api/incidents/{incident_id}": api("viewer", "/api/incidents/i1"),
    "GET /api/incidents/{incident_id}/history": api("viewer", "/api/incidents/i1/history"),
    "POST /api/incidents/{incident_id}/review": api("operator", "/api/incidents/i1/review",
                                                    {"status": "confirmed"}),
    "GET /api/receipts": api("viewer", "/api/receipts"),
    "GET /api/receipts/export.csv": api("viewer", f"/api/receipts/export.csv?from={T0}"),
    "GET /api/receipts/events": api("viewer",
                                    f"/api/receipts/events?terminal=T1&op_id=100&ts={T0}"),
    "GET /api/reports": api("viewer", "/api/reports", ok=frozenset({200})),
    "GET /api/reports/{report_type}": api("viewer", f"/api/reports/violations?{RANGE}",
                                          ok=frozenset({200})),
    "GET /api/notifications": api("viewer", "/api/notifications"),
    "GET /api/notifications/stream": api("viewer", "/api/notifications/stream?max_seconds=0.1"),
    "POST /api/notifications": api("admin", "/api/notifications", {"text": "hi"}),
    "GET /api/live/terminals": api("viewer", "/api/live/terminals"),
    "GET /api/live/stream": api("viewer", "/api/live/stream?max_seconds=0.1&since_seconds=0"),
    "GET /api/terminals": api("admin", "/api/terminals", ok=frozenset({200})),
    # writes the Env's own temporary config file; removed again by the DELETE after it
    "POST /api/terminals": api("admin", "/api/terminals", {"guid": "Tmatrix", "port": 5001},
                               ok=frozenset({201})),
    "DELETE /api/terminals/{guid}": api("admin", "/api/terminals/Tmatrix", ok=frozenset({204})),
    "POST /api/sql": api("analyst", "/api/sql", {"query": "SELECT 1"}, ok=frozenset({200})),
    "GET /api/users": api("admin", "/api/users"),
    "POST /api/users": api("admin", "/api/users", {"username": "newbie", "role": "viewer"}),
    "PATCH /api/users/{username}": api("admin", "/api/users/u_viewer", {"role": "viewer"}),
    "DELETE /api/users/{username}": api("admin", "/api/users/nobody"),
    # last: ends the caller's session
    "POST /api/auth/logout": api("viewer", "/api/auth/logout", ok=frozenset({204})),
}


def route_table(app: Any) -> set[str]:
    """"METHOD /path" of every route the app serves (HEAD left out: it follows GET)."""
    def walk(routes: Iterable[Any], prefix: str) -> Iterator[str]:
        for r in routes:
            sub = getattr(r, "original_router", None)  # FastAPI >= 0.16x: an included router
            if sub is not None:
                yield from walk(sub.routes, prefix + r.include_context.prefix)
                continue
            methods = getattr(r, "methods", None)
            assert methods, f"a route kind this test cannot list: {r!r}"
            yield from (f"{m} {prefix}{r.path}" for m in methods if m != "HEAD")

    table = set(walk(app.routes, ""))
    documented = {f"{m.upper()} {p}" for p, ops in app.openapi()["paths"].items() for m in ops}
    assert documented <= table, f"routes in the OpenAPI document not found: {documented - table}"
    return table


@pytest.fixture
def env(store: Any) -> Iterator[Env]:
    yield from env_for(store)


def test_every_route_has_a_role_decision(env: Env) -> None:
    table = route_table(env.app)
    assert not table - MATRIX.keys(), (
        f"routes without an entry in MATRIX (decide who may call them): {table - MATRIX.keys()}")
    assert not MATRIX.keys() - table, f"MATRIX entries of no route: {MATRIX.keys() - table}"


def check(role: str, key: str, rule: Rule, status: int, location: str, text: str) -> None:
    what = (key, rule.url, role, status, text[:300])
    if role in HOLDERS[rule.needed]:
        if rule.ok is not None:
            assert status in rule.ok, what
        else:
            assert status not in (401, 403) and status < 500, what
    elif role == "anonymous" and rule.page:
        assert status == 303 and location.startswith("/login"), what
    elif role == "anonymous":
        assert status == 401, what
    else:
        assert status == 403, what


@pytest.mark.parametrize("role", CALLERS)
def test_every_route_checks_the_role(env: Env, role: str) -> None:
    fill(env.state.backend)
    for r in ROLES:
        env.client(r)  # the users exist, so PATCH u_viewer finds one
    c = env.client(role)
    for key, rule in MATRIX.items():
        method = key.split(" ", 1)[0]
        resp = c.request(method, rule.url, json=rule.json, content=rule.content,
                         follow_redirects=False)
        check(role, key, rule, resp.status_code, resp.headers.get("location", ""), resp.text)


def test_health_and_login_need_no_login(env: Env) -> None:
    c = env.client("anonymous")
    assert c.get("/api/health").status_code == 200
    r = c.post("/api/auth/login", json={"username": "admin", "password": env.first_password})
    assert r.status_code == 200 and r.json()["role"] == "admin"
