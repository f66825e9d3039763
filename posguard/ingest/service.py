"""IngestService: the terminal adapters of one process (`posguard ingest`, or inside
`posguard up`): listeners on the registry's ports, HTTP ingest, the durable publisher, the
printer receipt timeouts, and live reload of the terminal registry.

    service = IngestService(bootstrap, Topics(prefix), data_dir=Path("posguard-data"),
                            config_path=Path("posguard-data/posguard.toml"))
    await service.start() ... await service.stop()        # in an asyncio program
    service.start_thread() ... service.stop_thread()      # from threaded code (the node)
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import signal
import threading
from pathlib import Path
from typing import Any

from posguard.ingest.config import IngestConfig
from posguard.ingest.counters import IngestCounters
from posguard.ingest.directory import TerminalDirectory
from posguard.ingest.durable import DurablePublisher
from posguard.ingest.errors import IngestError, SpoolFull
from posguard.ingest.files import load_definitions, read_document
from posguard.ingest.http_ingest import ingest_http_batch
from posguard.ingest.ids import EventIds
from posguard.ingest.intake import Intake
from posguard.ingest.listeners import Shell, TcpListener, UdpListener, now_micros
from posguard.ingest.rawdump import RawDumper
from posguard.ingest.registry import TerminalRegistry
from posguard.ingest.registry_toml import ingest_config_from_document, registry_from_document
from posguard.ingest.spool import Spool
from posguard.streams.topics import Topics

__all__ = ["IngestService", "SPOOL_FULL_ERROR"]

log = logging.getLogger(__name__)
SPOOL_FULL_ERROR = ("the ingest spool is full (Kafka has been unreachable): nothing of this "
                    "request was accepted; send it again later")

Listener = TcpListener | UdpListener


class IngestService:
    """The ingest adapters of one process.

    Args:
        bootstrap: Kafka bootstrap servers.
        topics: topic names.
        data_dir: the data folder (spool in DATA/spool/ingest, raw dumps in DATA/raw unless
            [ingest] says otherwise).
        config_path: the node's TOML file ([[terminals]], [ingest]); None = no file (give
            `config`/`registry`); reloaded when it changes.
        kafka_config: extra producer settings of the deployment.
        config: [ingest] settings (default: read from config_path).
        registry: terminals (default: read from config_path).
        reload_interval: seconds between checks of the config file for changes.
    """

    def __init__(self, bootstrap: str, topics: Topics, data_dir: Path,
                 config_path: Path | None = None, *, kafka_config: dict[str, Any] | None = None,
                 config: IngestConfig | None = None, registry: TerminalRegistry | None = None,
                 reload_interval: float = 2.0):
        self.bootstrap, self.topics = bootstrap, topics
        self.data_dir = Path(data_dir)
        self.config_path = config_path
        self.kafka_config = dict(kafka_config or {})
        self.reload_interval = reload_interval
        doc = read_document(config_path) if config_path is not None else {}
        self.config = config if config is not None else ingest_config_from_document(doc)
        initial = registry if registry is not None else registry_from_document(doc)
        self._fixed_registry = registry is not None
        self._mtime = self._stat()
        self.counters = IngestCounters()
        self.ids = EventIds()
        base = config_path.parent if config_path is not None else Path(".")
        self.definitions = load_definitions(self.config.printer_definitions, base)
        self.directory = TerminalDirectory(initial, self.config, self.definitions, self.ids,
                                           None if self._fixed_registry else config_path)
        for t in initial:
            if t.protocol == "text" and t.transaction_definition not in self.definitions:
                log.error("terminal %s: printer definition %r is not among [ingest] "
                          "printer_definitions; its data will be rejected", t.guid,
                          t.transaction_definition)
        self.publisher: DurablePublisher | None = None
        self.intake: Intake | None = None
        self.shell: Shell | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self._listeners: dict[tuple[str, int], Listener] = {}
        self._gate = [0]
        self._tasks: list[asyncio.Task[None]] = []
        self._thread: threading.Thread | None = None
        self._thread_stop: asyncio.Event | None = None
        self._dumper: RawDumper | None = None

    # -- life cycle ------------------------------------------------------------------------

    def _folder(self, configured: str, default: Path) -> Path:
        if not configured:
            return default
        p = Path(configured)
        if not p.is_absolute() and self.config_path is not None:
            p = self.config_path.parent / p
        return p

    async def start(self) -> None:
        """Open the spool, start the publisher and every listener."""
        self.loop = asyncio.get_running_loop()
        spool = Spool(self._folder(self.config.spool_dir, self.data_dir / "spool" / "ingest"))
        self.publisher = DurablePublisher(
            self.bootstrap, self.topics, spool, self.kafka_config,
            message_timeout=self.config.message_timeout,
            fsync_interval=self.config.fsync_interval,
            spool_max_bytes=self.config.spool_max_bytes,
            replay_window=self.config.replay_window,
            replay_max_bytes=self.config.replay_max_bytes).start()
        self.intake = Intake(self.publisher, self.counters)
        self._dumper = RawDumper(self._folder(self.config.raw_dump_dir, self.data_dir / "raw"))
        self.shell = Shell(self.config, self.directory, self.intake, self.counters,
                           self._dumper)
        try:
            await self._sync_listeners()
        except BaseException:
            await self.stop()
            raise
        self._tasks = [asyncio.create_task(self._expire_loop()),
                       asyncio.create_task(self._reload_loop())]

    async def stop(self) -> None:
        """Stop listening, finish open connections, deliver or spool what is pending."""
        for t in self._tasks:
            t.cancel()
        for t in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
        self._tasks = []
        for key in list(self._listeners):
            await self._listeners.pop(key).stop()
        if self.publisher is not None:
            pub, self.publisher = self.publisher, None
            await asyncio.get_running_loop().run_in_executor(None, pub.close, 10.0)
        if self._dumper is not None:
            self._dumper.close()

    def wanted_listeners(self) -> dict[tuple[str, int], str]:
        """(transport, port) -> protocol of every TCP/UDP port to listen on."""
        wanted = {k: v for k, v in self.directory.registry.ports().items() if k[0] != "http"}
        for ls in self.config.listeners:
            key = (ls.transport, ls.port)
            if ls.transport != "http":
                if key in wanted and wanted[key] != ls.protocol:
                    log.warning("[[ingest.listeners]] %s:%d says %s but its terminals speak "
                                "%s; using %s", *key, ls.protocol, wanted[key], wanted[key])
                wanted.setdefault(key, ls.protocol)
        return wanted

    async def _sync_listeners(self) -> None:
        assert self.shell is not None
        wanted = self.wanted_listeners()
        for key, listener in list(self._listeners.items()):
            if wanted.get(key) != listener.protocol:
                await self._listeners.pop(key).stop()
        for (transport, port), protocol in wanted.items():
            if (transport, port) in self._listeners:
                continue
            lst: Listener = (TcpListener(self.shell, port, protocol, self._gate)
                             if transport == "tcp" else UdpListener(self.shell, port, protocol))
            try:
                await lst.start()
            except OSError as e:
                raise IngestError(f"cannot listen on {transport} {self.config.bind}:{port}: "
                                  f"{e}") from None
            self._listeners[(transport, port)] = lst

    async def _expire_loop(self) -> None:
        while True:
            await asyncio.sleep(1.0)
            events = self.directory.expire_printers(now_micros())
            if events and self.intake is not None:
                with contextlib.suppress(SpoolFull):  # counted as refused by the intake
                    self.intake.take(events, "text")

    def _stat(self) -> float:
        try:
            return self.config_path.stat().st_mtime if self.config_path else 0.0
        except OSError:
            return 0.0

    async def _reload_loop(self) -> None:
        while True:
            await asyncio.sleep(self.reload_interval)
            with contextlib.suppress(Exception):
                await self.reload()

    async def reload(self, force: bool = False) -> bool:
        """Re-read the terminals from the config file when it changed; True if reloaded."""
        if self._fixed_registry or self.config_path is None:
            return False
        mtime = self._stat()
        if mtime == self._mtime and not force:
            return False
        self._mtime = mtime
        try:
            registry = registry_from_document(read_document(self.config_path))
        except IngestError as e:
            log.error("not reloading terminals: %s", e)
            return False
        if registry != self.directory.registry:
            self.directory.registry = registry
            log.info("terminal registry reloaded: %d terminals", len(registry))
            try:
                await self._sync_listeners()
            except IngestError as e:
                log.error("%s", e)
        return True

    # -- HTTP ------------------------------------------------------------------------------

    async def ingest_http(self, body: bytes, source: str = "http") -> tuple[int, dict[str, Any]]:
        """Handle one `POST /api/ingest` body; returns (status code, JSON body).

        Must run on the service's event loop (see `ingest_http_threadsafe`).
        """
        if self.intake is None:
            return 503, {"error": "the ingest adapters are not running"}
        self.counters.http_requests += 1
        self.counters.bytes_in["http"] += len(body)
        if self.intake.full:  # before parsing: under pressure, turn it away cheaply
            self.counters.http_refused += 1
            return 503, {"error": SPOOL_FULL_ERROR}
        if self._dumper is not None and any(t.raw_dump and t.transport == "http"
                                            for t in self.directory.registry):
            self._dumper.write("http", body + b"\n")
        out = ingest_http_batch(body, self.directory.resolver("http", 0, "json"), self.ids,
                                now_micros(), self.config.http_max_body_bytes, source)
        if out.rejects:
            self.counters.http_rejected += 1
            with contextlib.suppress(SpoolFull):  # counted as refused; the 4xx answer stands
                self.intake.reject(out.rejects, "http")
        if out.events:
            try:
                self.intake.accept(out.events)
            except SpoolFull:  # the spool filled up since the check: nothing was taken
                self.counters.http_refused += 1
                return 503, {"error": SPOOL_FULL_ERROR}
        return out.status, out.body

    def ingest_http_threadsafe(self, body: bytes,
                               source: str = "http") -> concurrent.futures.Future[Any]:
        """`ingest_http` from another thread (the API server's); a Future of its result."""
        if self.loop is None or self.loop.is_closed():
            f: concurrent.futures.Future[Any] = concurrent.futures.Future()
            f.set_result((503, {"error": "the ingest adapters are not running"}))
            return f
        return asyncio.run_coroutine_threadsafe(self.ingest_http(body, source), self.loop)

    # -- introspection ---------------------------------------------------------------------

    def ports(self) -> dict[tuple[str, int], str]:
        """(transport, port) -> protocol of the listeners running now."""
        return {k: v.protocol for k, v in self._listeners.items()}

    def metrics(self) -> dict[str, int]:
        """Flat counters: the adapters' and the publisher's (prefixed "publisher_")."""
        out = self.counters.snapshot()
        if self.publisher is not None:
            out.update({f"publisher_{k}": v for k, v in self.publisher.snapshot().items()})
        out["listeners"] = len(self._listeners)
        out["terminals"] = len(self.directory.registry)
        return out

    # -- running ---------------------------------------------------------------------------

    async def run_until_signal(self) -> None:
        """Start, run until SIGINT/SIGTERM, stop (for `posguard ingest`)."""
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, stop.set)
        await self.start()
        try:
            await stop.wait()
        finally:
            await self.stop()

    def start_thread(self, timeout: float = 30.0) -> None:
        """Run the service on its own event loop in a daemon thread; returns once listening
        (raises what start() raised)."""
        ready = threading.Event()
        failure: list[BaseException] = []

        async def main() -> None:
            self._thread_stop = asyncio.Event()
            try:
                await self.start()
            except BaseException as e:
                failure.append(e)
                ready.set()
                return
            ready.set()
            try:
                await self._thread_stop.wait()
            finally:
                await self.stop()

        self._thread = threading.Thread(target=lambda: asyncio.run(main()),
                                        name="posguard-ingest", daemon=True)
        self._thread.start()
        if not ready.wait(timeout):
            raise IngestError("the ingest service did not start in time")
        if failure:
            self._thread.join()
            raise failure[0]

    def stop_thread(self, timeout: float = 30.0) -> None:
        """Stop a service started with start_thread and wait for it."""
        if self._thread is None:
            return
        if self.loop is not None and self._thread_stop is not None and not self.loop.is_closed():
            with contextlib.suppress(RuntimeError):
                self.loop.call_soon_threadsafe(self._thread_stop.set)
        self._thread.join(timeout)
        self._thread = None
