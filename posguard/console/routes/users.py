"""Console accounts (admins only): list, create, change role or password, delete."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Response, status
from pydantic import BaseModel, Field

from posguard.console.auth import Principal, require_role
from posguard.console.users import (
    MIN_PASSWORD_LENGTH,
    UnknownUser,
    UserError,
    UserExists,
    generate_password,
)
from posguard.console.web_setup import Console, console_of_request
from posguard.store.users import UserRow

router = APIRouter(prefix="/api/users", tags=["users"])

Role = Literal["viewer", "operator", "analyst", "admin"]
UserName = Annotated[str, Path(min_length=1, max_length=64)]
Admin = Annotated[Principal, Depends(require_role("admin"))]
Con = Annotated[Console, Depends(console_of_request)]


class User(BaseModel):
    username: str
    role: str
    created: int = Field(description="microseconds")
    updated: int = Field(description="microseconds")


class NewUser(BaseModel):
    username: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.@-]+$")]
    role: Role
    password: Annotated[str | None, Field(min_length=MIN_PASSWORD_LENGTH, max_length=1024)] = (
        None)


class Created(User):
    password: str = Field("", description="the generated password (shown once) if none given")


class UserChange(BaseModel):
    role: Role | None = None
    password: Annotated[str | None, Field(min_length=MIN_PASSWORD_LENGTH, max_length=1024)] = (
        None)


def _user(u: UserRow) -> User:
    return User(username=u.username, role=u.role, created=u.created, updated=u.updated)


def _fail(e: UserError) -> HTTPException:
    if isinstance(e, UnknownUser):
        return HTTPException(status.HTTP_404_NOT_FOUND, str(e))
    if isinstance(e, UserExists):
        return HTTPException(status.HTTP_409_CONFLICT, str(e))
    return HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(e))


@router.get("")
def list_users(_: Admin, console: Con) -> list[User]:
    """Every account (never its password hash)."""
    return [_user(u) for u in console.users.accounts()]


@router.post("", status_code=status.HTTP_201_CREATED,
             responses={409: {"description": "exists"}})
def create_user(body: NewUser, _: Admin, console: Con) -> Created:
    """Add an account; without a password, one is generated and returned once."""
    password = body.password or generate_password()
    try:
        u = console.users.create(body.username, body.role, password)
    except UserError as e:
        raise _fail(e) from None
    return Created(**_user(u).model_dump(), password="" if body.password else password)


def _last_admin(console: Console, name: str) -> bool:
    return console.users.admins() == [name]


@router.patch("/{username}", responses={404: {"description": "no such user"}})
def change_user(username: UserName, body: UserChange, _: Admin, console: Con) -> User:
    """Change an account's role and/or password (a new password ends its sessions)."""
    try:
        u = console.users.get(username)
        if u is None:
            raise UnknownUser(f"no user {username!r}")
        if body.role is not None and body.role != u.role:
            if u.role == "admin" and _last_admin(console, username):
                raise HTTPException(status.HTTP_409_CONFLICT, "cannot demote the last admin")
            u = console.users.set_role(username, body.role)
            console.sessions.set_role(username, body.role)
        if body.password is not None:
            u = console.users.set_password(username, body.password)
            console.sessions.drop_user(username)
    except UserError as e:
        raise _fail(e) from None
    return _user(u)


@router.delete("/{username}", status_code=status.HTTP_204_NO_CONTENT,
               responses={404: {"description": "no such user"}})
def delete_user(username: UserName, who: Admin, console: Con) -> Response:
    """Remove an account and end its sessions (not oneself, not the last admin)."""
    if username == who.name:
        raise HTTPException(status.HTTP_409_CONFLICT, "cannot delete yourself")
    try:
        if _last_admin(console, username):
            raise HTTPException(status.HTTP_409_CONFLICT, "cannot delete the last admin")
        console.users.delete(username)
    except UserError as e:
        raise _fail(e) from None
    console.sessions.drop_user(username)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
