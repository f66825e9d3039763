"""Accounts and sessions: first admin, argon2 hashes, CSRF, login rate limit, session
fixation, logout, role changes and deletions taking effect at once."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from typing import Any

import pytest
from console_testkit import CHEAP, PASSWORD, TOKEN, Env, env_for, fill, make_env

from posguard.console.sessions import COOKIE
from posguard.console.settings import Settings
from posguard.console.state import NodeState
from posguard.console.users import UserStore
from posguard.console.web_setup import install_console
from posguard.store.users import load_users

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

pytestmark = pytest.mark.integration


@pytest.fixture
def env(store: Any) -> Iterator[Env]:
    yield from env_for(store)


def login(c: TestClient, user: str, password: str) -> Any:
    return c.post("/api/auth/login", json={"username": user, "password": password})


def test_first_start_creates_one_admin_with_a_random_password(env: Env, store: Any) -> None:
    assert len(env.first_password) >= 20
    users = load_users(store)
    assert list(users) == ["admin"] and users["admin"].role == "admin"
    assert users["admin"].password_hash.startswith("$argon2id$")
    assert env.first_password not in users["admin"].password_hash


def test_second_start_announces_nothing(store: Any) -> None:
    make_env(store)
    shown: list[str] = []
    install_console(NodeState(settings=Settings(), backend=store, api_token=TOKEN),
                    hasher=CHEAP, announce=shown.append)
    assert shown == []
    assert list(load_users(store)) == ["admin"]


def test_default_hasher_is_argon2id_with_library_defaults(store: Any) -> None:
    users = UserStore(store)
    users.create("someone", "viewer", PASSWORD)
    h = load_users(store)["someone"].password_hash
    assert h.startswith("$argon2id$") and "m=65536,t=3" in h
    assert users.verify("someone", PASSWORD) is not None
    assert users.verify("someone", PASSWORD + "x") is None
    assert users.verify("nobody", PASSWORD) is None


def test_login_me_logout(env: Env) -> None:
    c = TestClient(env.app)
    assert login(c, "admin", "wrong password").status_code == 401
    r = login(c, "admin", env.first_password)
    assert r.status_code == 200
    csrf = r.json()["csrf_token"]
    cookie = r.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie.replace("Strict", "strict")
    me = c.get("/api/auth/me").json()
    assert me == {"username": "admin", "role": "admin", "csrf_token": csrf, "via": "session"}
    assert c.post("/api/auth/logout").status_code == 403  # no CSRF header
    assert c.post("/api/auth/logout", headers={"X-CSRF-Token": csrf}).status_code == 204
    assert c.get("/api/auth/me").status_code == 401


def test_csrf_required_on_cookie_writes_not_on_bearer(env: Env) -> None:
    env.client("operator")
    c = TestClient(env.app)
    csrf = login(c, "u_operator", PASSWORD).json()["csrf_token"]
    fill(env.state.backend)
    body = {"status": "confirmed"}
    assert c.post("/api/incidents/i1/review", json=body).status_code == 403
    assert c.post("/api/incidents/i1/review", json=body,
                  headers={"X-CSRF-Token": "forged"}).status_code == 403
    assert c.post("/api/incidents/i1/review", json=body,
                  headers={"X-CSRF-Token": csrf}).status_code == 200
    assert c.get("/api/incidents/i1").status_code == 200  # reads need no token
    # the node's bearer token is not a cookie: no CSRF token needed
    b = TestClient(env.app, headers={"Authorization": f"Bearer {TOKEN}"})
    assert b.post("/api/incidents/i1/review", json={"status": "rejected"}).status_code == 200
    assert TestClient(env.app, headers={"Authorization": "Bearer nope"}).get(
        "/api/incidents").status_code == 401


def test_login_rate_limit_per_user_and_address(env: Env) -> None:
    env.client("viewer")
    c = TestClient(env.app)
    for _ in range(5):
        assert login(c, "u_viewer", "wrong password").status_code == 401
    r = login(c, "u_viewer", PASSWORD)  # even the right password waits now
    assert r.status_code == 429 and int(r.headers["retry-after"]) > 0
    assert login(c, "admin", env.first_password).status_code == 200  # another user is fine
    env.clock.t += 301  # the window passes
    assert login(c, "u_viewer", PASSWORD).status_code == 200


def test_login_rate_limit_per_address(env: Env) -> None:
    c = TestClient(env.app)
    for i in range(30):
        assert login(c, f"ghost{i}", "wrong password").status_code == 401
    assert login(c, "admin", env.first_password).status_code == 429


def test_session_id_rotates_at_login(env: Env) -> None:
    env.client("viewer")
    c = TestClient(env.app)
    first = login(c, "u_viewer", PASSWORD)
    old_sid = first.cookies[COOKIE]
    # log in again in the same browser (or with an id an attacker planted): a new id
    second = login(c, "admin", env.first_password)
    new_sid = second.cookies[COOKIE]
    assert new_sid != old_sid
    attacker = TestClient(env.app, cookies={COOKIE: old_sid})
    assert attacker.get("/api/auth/me").status_code == 401
    planted = TestClient(env.app, cookies={COOKIE: "planted-by-attacker"})
    r = login(planted, "u_viewer", PASSWORD)
    assert r.cookies[COOKIE] != "planted-by-attacker"
    assert TestClient(env.app, cookies={COOKIE: "planted-by-attacker"}).get(
        "/api/auth/me").status_code == 401


def test_session_expires_when_idle(env: Env) -> None:
    c = env.client("viewer")
    assert c.get("/api/auth/me").status_code == 200
    env.clock.t += 8 * 3600 + 1
    assert c.get("/api/auth/me").status_code == 401


def test_admin_manages_users_and_changes_apply_at_once(env: Env) -> None:
    admin = env.client("admin")
    r = admin.post("/api/users", json={"username": "carol", "role": "viewer"})
    assert r.status_code == 201
    generated = r.json()["password"]
    assert len(generated) >= 20
    assert admin.post("/api/users", json={"username": "carol", "role": "viewer"}).status_code == 409
    assert admin.post("/api/users", json={"username": "dave", "role": "viewer",
                                          "password": "short"}).status_code == 422
    assert admin.post("/api/users", json={"username": "bad name", "role": "viewer"}).status_code == 422
    assert admin.post("/api/users", json={"username": "x", "role": "root"}).status_code == 422
    carol = TestClient(env.app)
    csrf = login(carol, "carol", generated).json()["csrf_token"]
    carol.headers["X-CSRF-Token"] = csrf
    fill(env.state.backend)
    assert carol.post("/api/incidents/i1/review", json={"status": "confirmed"}).status_code == 403
    assert admin.patch("/api/users/carol", json={"role": "operator"}).status_code == 200
    assert carol.post("/api/incidents/i1/review", json={"status": "confirmed"}).status_code == 200
    listed = {u["username"]: u["role"] for u in admin.get("/api/users").json()}
    assert listed["carol"] == "operator" and "password_hash" not in str(admin.get("/api/users").json())
    assert admin.patch("/api/users/carol", json={"password": "a-new-password-1"}).status_code == 200
    assert carol.get("/api/auth/me").status_code == 401  # new password ends her sessions
    assert login(TestClient(env.app), "carol", "a-new-password-1").status_code == 200
    assert admin.delete("/api/users/carol").status_code == 204
    assert admin.delete("/api/users/carol").status_code == 404
    assert login(TestClient(env.app), "carol", "a-new-password-1").status_code == 401
    # the last admin cannot be removed or demoted, nor can an admin delete themselves
    assert admin.delete("/api/users/u_admin").status_code == 409
    assert admin.delete("/api/users/admin").status_code == 204
    assert admin.patch("/api/users/u_admin", json={"role": "viewer"}).status_code == 409


def test_change_own_password(env: Env) -> None:
    c = env.client("viewer")
    assert c.post("/api/auth/password", json={"old_password": "wrong-wrong",
                                              "new_password": "another-password"}).status_code == 403
    assert c.post("/api/auth/password", json={"old_password": PASSWORD,
                                              "new_password": "another-password"}).status_code == 204
    assert c.get("/api/auth/me").status_code == 401
    assert login(TestClient(env.app), "u_viewer", "another-password").status_code == 200
