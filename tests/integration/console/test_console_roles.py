"""Every console route × every kind of caller: allowed, or 401 (anonymous) / 403 (too weak)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from console_testkit import ROLES, T0, Env, env_for, fill

pytestmark = pytest.mark.integration


@pytest.fixture
def env(store: Any) -> Iterator[Env]:
    yield from env_for(store)

# (method, path, json body, weakest role allowed)
ROUTES: list[tuple[str, str, Any, str]] = [
    ("GET", "/api/auth/me", None, "viewer"),
    ("GET", "/api/incidents", None, "viewer"),
    ("GET", "/api/incidents/i1", None, "viewer"),
    ("GET", "/api/incidents/i1/history", None, "viewer"),
    ("POST", "/api/incidents/i1/review", {"status": "confirmed"}, "operator"),
    ("GET", "/api/receipts", None, "viewer"),
    ("GET", f"/api/receipts/export.csv?from={T0}", None, "viewer"),
    ("GET", f"/api/receipts/events?terminal=T1&op_id=100&ts={T0}", None, "viewer"),
    ("GET", "/api/notifications", None, "viewer"),
    ("GET", "/api/notifications/stream?max_seconds=0.1", None, "viewer"),
    ("POST", "/api/notifications", {"text": "hi"}, "admin"),
    ("GET", "/api/live/terminals", None, "viewer"),
    ("GET", "/api/live/stream?max_seconds=0.1&since_seconds=0", None, "viewer"),
    ("GET", "/api/users", None, "admin"),
    ("POST", "/api/users", {"username": "newbie", "role": "viewer"}, "admin"),
    ("PATCH", "/api/users/u_viewer", {"role": "viewer"}, "admin"),
    ("DELETE", "/api/users/nobody", None, "admin"),
    ("GET", "/api/events/search", None, "viewer"),
    ("GET", "/api/events/count", None, "viewer"),
]
PAGES = ["/live", "/incidents", "/incidents/i1", "/search", "/reports", "/users"]


def allowed(role: str, needed: str) -> bool:
    if role in ("admin", "token"):
        return True
    if needed == "admin":
        return False
    if needed == "operator":
        return role in ("operator", "analyst")  # auth.ROLES: analyst ranks above operator
    return True


@pytest.mark.parametrize("role", ["anonymous", *ROLES, "token"])
def test_every_route_checks_the_role(env, role: str) -> None:  # type: ignore[no-untyped-def]
    fill(env.state.backend)
    for r in ("viewer", "operator", "analyst", "admin"):
        env.client(r)  # the users exist, so PATCH u_viewer finds one
    c = env.client(role)
    for method, path, body, needed in ROUTES:
        resp = c.request(method, path, json=body)
        if role == "anonymous":
            assert resp.status_code == 401, (method, path, resp.status_code)
        elif allowed(role, needed):
            assert resp.status_code not in (401, 403), (method, path, role, resp.text)
            assert resp.status_code < 500, (method, path, role, resp.text)
        else:
            assert resp.status_code == 403, (method, path, role, resp.status_code)


@pytest.mark.parametrize("role", ["anonymous", "viewer", "admin"])
def test_pages_need_a_login(env, role: str) -> None:  # type: ignore[no-untyped-def]
    c = env.client(role)
    for path in PAGES:
        resp = c.get(path, follow_redirects=False)
        if role == "anonymous":
            assert resp.status_code == 303 and resp.headers["location"].startswith("/login")
        elif path == "/users" and role != "admin":
            assert resp.status_code == 403
        else:
            assert resp.status_code == 200, (path, resp.text)
            assert "text/html" in resp.headers["content-type"]
    assert c.get("/login").status_code == 200


def test_health_and_login_need_no_login(env) -> None:  # type: ignore[no-untyped-def]
    c = env.client("anonymous")
    assert c.get("/api/health").status_code == 200
    r = c.post("/api/auth/login", json={"username": "admin", "password": env.first_password})
    assert r.status_code == 200 and r.json()["role"] == "admin"
