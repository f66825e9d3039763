"""`/api/health` and `/metrics` of a process that runs without the node's API.

`posguard ingest --http HOST:PORT` and `posguard scripts --http HOST:PORT` serve these two
routes (and nothing else) with the project's HTTP stack (FastAPI under uvicorn, in a daemon
thread: the same ApiServer as the node's API), without a store:

    server = serve_probe(ProcessProbe("ingest", bootstrap, {"ingest": svc.metrics}, ...),
                         "127.0.0.1:8710")
    ...
    server.stop()

`/api/health` needs no authentication (like the console's). `/metrics` is the Prometheus text
of console/metrics.render_metrics over this process's counters; it asks for the API token as
bearer when the process's DATA folder holds one (DATA/api-token, as the console's does), and
is open otherwise.
"""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi import FastAPI, HTTPException, Request, status
from fastapi.responses import PlainTextResponse

from posguard import __version__
from posguard.console.api import ApiServer
from posguard.console.auth import bearer_matches
from posguard.console.errors import SettingsError
from posguard.console.metrics import collect_metrics, render_metrics
from posguard.streams.consumer_lag import LagSnapshot

__all__ = ["ProcessProbe", "create_probe_api", "serve_probe", "listen_address", "read_token"]

log = logging.getLogger(__name__)

_LOOPBACK = ("127.0.0.1", "::1", "localhost")


@dataclass(frozen=True)
class ProcessProbe:
    """What a process without the node's API reports.

    Attributes:
        runs: what the process runs ("ingest", "scripts").
        bootstrap: the Kafka bootstrap servers it uses (reported as `kafka`, as the
            console's health does).
        metrics: metric group -> its flat counters (posguard_<group>_<counter>).
        kafka_reachable: True/False when the process knows cheaply whether Kafka answers,
            None when it cannot tell; False makes the status "degraded".
        details: extra fields of /api/health; a non-empty "problems" list in them makes the
            status "degraded".
        lag: the consumer lag of this process's groups, or None (no lag series).
        token: the bearer token /metrics requires; "" = none.
    """

    runs: str
    bootstrap: str
    metrics: Mapping[str, Callable[[], Mapping[str, Any]]] = field(default_factory=dict)
    kafka_reachable: Callable[[], bool | None] = lambda: None
    details: Callable[[], Mapping[str, Any]] = dict
    lag: Callable[[], LagSnapshot | None] | None = None
    token: str = field(default="", repr=False)


def read_token(path: Path) -> str:
    """The API token at `path` (DATA/api-token), "" when there is none; never creates one."""
    try:
        return path.read_text().strip()
    except OSError:
        return ""


def _authorize(request: Request, token: str) -> None:
    if not token or bearer_matches(request, token):
        return
    raise HTTPException(status.HTTP_401_UNAUTHORIZED, "authentication required",
                        headers={"WWW-Authenticate": "Bearer"})


def create_probe_api(probe: ProcessProbe) -> FastAPI:
    """A FastAPI app with only `GET /api/health` and `GET /metrics` of `probe`."""
    app = FastAPI(title=f"posguard {probe.runs}", version=__version__, docs_url=None,
                  redoc_url=None, openapi_url=None)

    @app.get("/api/health")
    def health() -> dict[str, Any]:
        """Liveness, what runs here and whether Kafka answers (no authentication)."""
        details = dict(probe.details())
        try:
            reachable = probe.kafka_reachable()
        except Exception as e:  # a broken probe must not break health
            details.setdefault("problems", []).append(f"kafka probe: {e}")
            reachable = None
        degraded = reachable is False or bool(details.get("problems"))
        return {"status": "degraded" if degraded else "ok", "version": __version__,
                "runs": probe.runs, "kafka": probe.bootstrap, "kafka_reachable": reachable,
                **details}

    @app.get("/metrics", response_class=PlainTextResponse)
    def metrics(request: Request) -> str:
        """Prometheus text of this process's counters (the API token as bearer when the
        process's DATA folder holds one)."""
        _authorize(request, probe.token)
        lag = probe.lag() if probe.lag is not None else None
        return render_metrics(collect_metrics(probe.metrics), lag)

    return app


def listen_address(text: str) -> tuple[str, int]:
    """(host, port) of "HOST:PORT", ":PORT" or "PORT" (host 127.0.0.1 when left out).

    Raises:
        SettingsError: not a host and a port number.
    """
    host, _, port = text.strip().rpartition(":")
    host = host.strip("[]") or "127.0.0.1"
    try:
        number = int(port)
    except ValueError:
        number = -1
    if not 0 <= number <= 65535:
        raise SettingsError(f"--http {text!r}: expected HOST:PORT, e.g. 127.0.0.1:8710")
    return host, number


def _listen(host: str, port: int) -> socket.socket:
    family, kind, proto, _, addr = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(addr)
        sock.listen(128)
    except OSError:
        sock.close()
        raise
    return sock


def serve_probe(probe: ProcessProbe, address: str, timeout: float = 15.0) -> ApiServer:
    """Serve `probe` on "HOST:PORT" in a daemon thread; returns once it listens.

    Raises:
        SettingsError: bad address, or the server could not listen there (port taken).
    """
    host, port = listen_address(address)
    if host not in _LOOPBACK and not probe.token:
        log.warning("%s: /metrics on %s:%d is served without authentication (no API token "
                    "in the data folder)", probe.runs, host, port)
    try:
        sock = _listen(host, port)
    except OSError as e:
        raise SettingsError(f"cannot serve /api/health and /metrics on {host}:{port}: "
                            f"{e.strerror or e}") from None
    server = ApiServer(create_probe_api(probe), host, port, sock=sock)
    server.start()
    deadline = time.monotonic() + timeout
    while not server.server.started:
        if not server.thread.is_alive() or time.monotonic() > deadline:
            server.stop()
            sock.close()
            raise SettingsError(f"cannot serve /api/health and /metrics on {host}:{port}: "
                                "the server did not start")
        time.sleep(0.02)
    log.info("%s: /api/health and /metrics on http://%s:%d", probe.runs, host, port)
    return server
