"""Who is calling the API and what they may do.

Roles, weakest first: viewer (read), operator (review incidents, run a detector over the
archive), analyst (SQL), admin (detector configuration, terminals, users). Until user accounts exist, the node's API token (written to
DATA/api-token with mode 0600 on first start) authenticates as admin: only someone who can read
the node's data folder holds it.
"""

from __future__ import annotations

import hmac
import secrets
from pathlib import Path
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status

from posguard.console.state import NodeState

__all__ = ["ROLES", "Principal", "require_role", "load_or_create_token", "bearer_matches"]

ROLES = ("viewer", "operator", "analyst", "admin")


class Principal:
    """An authenticated caller."""

    def __init__(self, name: str, role: str):
        self.name = name
        self.role = role

    def has(self, role: str) -> bool:
        if self.role == "admin":
            return True
        if role == "analyst":
            return self.role == "analyst"
        return ROLES.index(self.role) >= ROLES.index(role)


def load_or_create_token(path: Path) -> str:
    """The node's API token, created with mode 0600 on first use."""
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    token = secrets.token_urlsafe(32)
    fd = path.open("x") if not path.exists() else path.open("w")
    with fd:
        fd.write(token + "\n")
    path.chmod(0o600)
    return token


def node_state(request: Request) -> NodeState:
    state: NodeState = request.app.state.node
    return state


def bearer_matches(request: Request, token: str) -> bool:
    """Whether the request carries `Authorization: Bearer <token>` (compared in constant time)."""
    header = request.headers.get("authorization", "")
    return header.lower().startswith("bearer ") and hmac.compare_digest(header[7:].strip(),
                                                                        token)


def authenticate(request: Request) -> Principal:
    state = node_state(request)
    if bearer_matches(request, state.api_token):
        return Principal("api-token", "admin")
    resolver = state.extras.get("session_resolver")
    if resolver is not None:
        principal = resolver(request)
        if principal is not None:
            return principal  # type: ignore[no-any-return]
    raise HTTPException(status.HTTP_401_UNAUTHORIZED, "authentication required",
                        headers={"WWW-Authenticate": "Bearer"})


def require_role(role: str):  # type: ignore[no-untyped-def]
    """A FastAPI dependency: the caller must hold `role` (or a stronger one)."""
    if role not in ROLES:
        raise ValueError(f"unknown role {role}")

    def check(principal: Annotated[Principal, Depends(authenticate)]) -> Principal:
        if not principal.has(role):
            raise HTTPException(status.HTTP_403_FORBIDDEN, f"role {role} required")
        return principal

    return check
