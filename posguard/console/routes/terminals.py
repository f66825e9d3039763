"""The terminal registry (admins): list, add and remove the `[[terminals]]` of the node's
config file (--config, or DATA/posguard.toml), as `posguard terminals list/add/remove` do.

Validation, the duplicate check and the atomic rewrite are those of the CLI
(`posguard.ingest.registry.new_terminal`, `posguard.ingest.registry_file`). The ingest
adapters reading this file (the node's, or `posguard ingest` on this machine with the same
file) reload it within seconds of a change; they need no restart. The live view of terminals
(viewers) is `GET /api/live/terminals`.
"""

from __future__ import annotations

from pathlib import Path as FilePath
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Path, Request, Response, status
from msgspec import structs
from pydantic import BaseModel, ConfigDict, Field

from posguard.console.auth import Principal, require_role
from posguard.console.commands.ingest import config_path
from posguard.ingest.errors import RegistryError, TerminalExists, UnknownTerminal
from posguard.ingest.files import load_registry
from posguard.ingest.registry import Terminal, new_terminal
from posguard.ingest.registry_file import add_terminal, remove_terminal

__all__ = ["router"]

router = APIRouter(prefix="/api/terminals", tags=["terminals"])
Admin = Annotated[Principal, Depends(require_role("admin"))]
Guid = Annotated[str, Path(min_length=1, max_length=64)]


class NewTerminal(BaseModel):
    """A terminal to register; checked as `posguard terminals add` checks it."""

    model_config = ConfigDict(extra="forbid")

    guid: str = Field(description="the terminal's id (pos_terminal of its events): 1-64 "
                      "letters, digits, _ . : -", examples=["T1RuoVF7"])
    name: str = Field("", description="display name")
    store: str = Field("", description="store id")
    protocol: str = Field("dssl-xml", description='"dssl-xml", "json" or "text"')
    transport: str = Field("tcp", description='"tcp", "udp" or "http" (http: protocol json)')
    port: int = Field(0, description="listening port 1..65535 (ignored for http)",
                      examples=[5001])
    location: str = Field("", description="location the terminal sends (tells terminals "
                          "apart on a shared port)")
    associated_channel: str = Field("", description="associated video channel")
    timezone: str = Field("UTC", description="IANA zone of the store")
    encoding: str = Field("utf-8", description="text encoding (json, text)")
    date_format: str = Field("%d/%m/%Y", description="strptime format of the terminal's dates")
    decimal_separator: str = Field("auto", description='"auto", "." or ","')
    raw_dump: bool = Field(False, description="write incoming bytes to a file")
    transaction_definition: str = Field("", description="printer-text definition name "
                                        "(protocol text)")


class RegisteredTerminal(NewTerminal):
    """A registered terminal."""

    auto_registered: bool = Field(False, description="added by auto-registration")


def _path(request: Request) -> FilePath:
    return config_path(request.app.state.node.settings)


def _out(t: Terminal) -> RegisteredTerminal:
    return RegisteredTerminal(**structs.asdict(t))


@router.get("", responses={400: {"description": "the config file cannot be read"}})
def list_terminals(request: Request, _: Admin) -> list[RegisteredTerminal]:
    """Every terminal of the registry, in file order."""
    return [_out(t) for t in load_registry(_path(request))]


@router.post("", status_code=status.HTTP_201_CREATED,
             responses={400: {"description": "invalid, or conflicts with another terminal "
                                             "(port, location)"},
                        409: {"description": "a terminal with this guid exists"}})
def create_terminal(request: Request, body: NewTerminal, _: Admin) -> RegisteredTerminal:
    """Register a terminal (the config file is rewritten atomically; ingest reloads it)."""
    path = _path(request)
    try:
        t = new_terminal(body.model_dump())
        add_terminal(path, t)
    except TerminalExists as e:
        raise HTTPException(status.HTTP_409_CONFLICT, str(e)) from None
    except RegistryError as e:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, str(e)) from None
    return _out(t)


@router.delete("/{guid}", status_code=status.HTTP_204_NO_CONTENT,
               responses={404: {"description": "no such terminal"},
                          400: {"description": "the config file cannot be read or rewritten"}})
def delete_terminal(request: Request, guid: Guid, _: Admin) -> Response:
    """Unregister a terminal (its events stay in the store)."""
    try:
        remove_terminal(_path(request), guid)
    except UnknownTerminal as e:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(e)) from None
    except RegistryError as e:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, str(e)) from None
    return Response(status_code=status.HTTP_204_NO_CONTENT)
