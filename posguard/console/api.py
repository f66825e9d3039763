"""The node's HTTP API (FastAPI). Routers live in console/routes/, one module per resource,
each exposing `router`; they are discovered here so a new resource is one new file."""

from __future__ import annotations

import importlib
import logging
import pkgutil
import socket
import threading

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from posguard import __version__
from posguard.console import routes
from posguard.console.state import NodeState
from posguard.errors import PosguardError

__all__ = ["create_api", "ApiServer"]

log = logging.getLogger(__name__)


def create_api(state: NodeState) -> FastAPI:
    """The FastAPI app of a node, with every router in console/routes/."""
    app = FastAPI(title="posguard", version=__version__,
                  description="Point-of-sale monitoring: events, receipts, incidents, reports.")
    app.state.node = state
    for mod in sorted(pkgutil.iter_modules(routes.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{routes.__name__}.{mod.name}")
        router = getattr(module, "router", None)
        if router is not None:
            app.include_router(router)

    @app.exception_handler(PosguardError)
    async def posguard_error(request: Request, exc: PosguardError) -> JSONResponse:
        return JSONResponse({"detail": str(exc), "error": type(exc).__name__}, status_code=400)

    return app


class ApiServer:
    """uvicorn serving the API in a background thread (its own event loop).

    Given `sock` (bound and listening), it serves on that socket instead of binding
    host:port itself, so the caller sees a taken port as an OSError of its own bind.
    """

    def __init__(self, app: FastAPI, host: str, port: int, sock: socket.socket | None = None):
        import uvicorn

        self.config = uvicorn.Config(app, host=host, port=port, log_level="warning",
                                     lifespan="off", access_log=False,
                                     timeout_graceful_shutdown=2)
        self.server = uvicorn.Server(self.config)
        sockets = [sock] if sock is not None else None
        self.thread = threading.Thread(target=lambda: self.server.run(sockets=sockets),
                                       name="posguard-api", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)
