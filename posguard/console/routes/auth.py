"""Login, logout, who am I, and changing one's own password."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request, Response, status
from pydantic import BaseModel, Field

from posguard.console.auth import Principal, require_role
from posguard.console.users import MIN_PASSWORD_LENGTH, UserError
from posguard.console.web_setup import Console, console_of_request

router = APIRouter(prefix="/api/auth", tags=["auth"])


class LoginBody(BaseModel):
    username: Annotated[str, Field(min_length=1, max_length=64)]
    password: Annotated[str, Field(min_length=1, max_length=1024)]


class Me(BaseModel):
    username: str
    role: str
    csrf_token: str = Field("", description="send as X-CSRF-Token on state-changing requests")
    via: str = Field(description="session (cookie) or token (bearer)")


class PasswordBody(BaseModel):
    old_password: Annotated[str, Field(min_length=1, max_length=1024)]
    new_password: Annotated[str, Field(min_length=MIN_PASSWORD_LENGTH, max_length=1024)]


@router.post("/login", responses={401: {"description": "wrong username or password"},
                                  429: {"description": "too many failed logins"}})
def login(body: LoginBody, request: Request, response: Response,
          console: Annotated[Console, Depends(console_of_request)]) -> Me:
    """Check a password and start a session (cookie); returns the session's CSRF token."""
    s = console.sessions.login(request, response, body.username, body.password)
    return Me(username=s.username, role=s.role, csrf_token=s.csrf, via="session")


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT)
def logout(request: Request, response: Response,
           _: Annotated[Principal, Depends(require_role("viewer"))],
           console: Annotated[Console, Depends(console_of_request)]) -> Response:
    """End the caller's session."""
    out = Response(status_code=status.HTTP_204_NO_CONTENT)
    console.sessions.logout(request, out)
    return out


@router.get("/me")
def me(request: Request, who: Annotated[Principal, Depends(require_role("viewer"))]) -> Me:
    """The caller's name and role (and CSRF token when logged in by cookie)."""
    s = getattr(request.state, "session", None)
    return Me(username=who.name, role=who.role, csrf_token=s.csrf if s else "",
              via="session" if s else "token")


@router.post("/password", status_code=status.HTTP_204_NO_CONTENT,
             responses={403: {"description": "wrong old password"}})
def change_password(body: PasswordBody, request: Request,
                    who: Annotated[Principal, Depends(require_role("viewer"))],
                    console: Annotated[Console, Depends(console_of_request)]) -> Response:
    """Change one's own password; every session of the account ends (log in again)."""
    if getattr(request.state, "session", None) is None:
        raise HTTPException(status.HTTP_400_BAD_REQUEST,
                            "the API token has no password; use /api/users as admin")
    if console.users.verify(who.name, body.old_password) is None:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "wrong old password")
    try:
        console.users.set_password(who.name, body.new_password)
    except UserError as e:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(e)) from None
    console.sessions.drop_user(who.name)
    out = Response(status_code=status.HTTP_204_NO_CONTENT)
    console.sessions.logout(request, out)
    return out
