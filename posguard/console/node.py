"""A posguard process: the embedded node (`posguard up`) or one role of a cluster.

The node wires the shell together: broker (embedded Tansu unless --kafka), topics, store
(chDB unless --clickhouse), the ClickHouse sink thread, the HTTP API thread, demo traffic,
and the Faust worker in the main thread. Every part is started here and stopped in reverse.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import threading
from collections.abc import Callable
from dataclasses import asdict
from typing import Any

from posguard.console.settings import Settings
from posguard.streams.topics import Topics

__all__ = ["Node", "worker_config"]

log = logging.getLogger(__name__)


def worker_config(settings: Settings, bootstrap: str, tansu: bool) -> Any:
    from posguard.streams.app import WorkerConfig

    batch = settings.producer_batch_bytes or (1 if tansu else 16384)
    return WorkerConfig(
        producer_batch_bytes=batch,
        bootstrap=bootstrap, topics=Topics(settings.topic_prefix), app_id=settings.app_id,
        partitions=settings.partitions, replication=settings.replication,
        data_dir=settings.data, session_timeout=settings.session_timeout,
        heartbeat_interval=max(0.5, settings.session_timeout / 10),
        rebalance_timeout=settings.rebalance_timeout, kafka_config=dict(settings.kafka_config),
        cross_terminal_lateness_ms=settings.cross_terminal_lateness_ms,
    )


class Node:
    """Start the parts a process runs; `run()` blocks until SIGINT/SIGTERM.

    Args:
        settings: the process's settings.
        agents: run the Faust worker (receipt assembly, detectors).
        sink: run the ClickHouse sink.
        api: serve the HTTP API.
        demo: publish simulated traffic.
    """

    def __init__(self, settings: Settings, *, agents: bool = True, sink: bool = True,
                 api: bool = True, demo: bool = False, ingest: bool = True,
                 scripts: Any = None):
        self.settings = settings
        self.want_agents, self.want_sink, self.want_api, self.demo = agents, sink, api, demo
        self.want_ingest = ingest
        self.scripts_dir = scripts
        self.ingest: Any = None
        self.topics = Topics(settings.topic_prefix)
        self._stops: list[Callable[[], None]] = []
        self._threads: list[threading.Thread] = []
        self._stop_event = threading.Event()
        self.bootstrap = settings.kafka
        self.backend: Any = None

    def _thread(self, name: str, target: Callable[[], None]) -> None:
        def guarded() -> None:
            try:
                target()
            except BaseException:  # a dying part is logged, the node shuts down cleanly
                log.exception("%s stopped with an error", name)
                self._stop_event.set()

        t = threading.Thread(target=guarded, name=name, daemon=True)
        t.start()
        self._threads.append(t)

    def start(self) -> None:
        s = self.settings
        s.data.mkdir(parents=True, exist_ok=True)
        if not self.bootstrap:
            from posguard.streams.broker import EmbeddedBroker

            broker = EmbeddedBroker().start()
            self.bootstrap = broker.bootstrap
            self._stops.append(broker.stop)
        from posguard.streams.topics import ensure_topics

        ensure_topics(self.bootstrap, self.topics, s.partitions, s.replication,
                      extra_config={k: str(v) for k, v in s.kafka_config.items()})
        if self.want_sink or self.want_api:
            self.backend = s.open_store()
            self._stops.append(self.backend.close)
            from posguard.store.views import set_terminal_timezones

            set_terminal_timezones(self.backend, self.terminal_zones())
        if self.want_sink:
            from posguard.streams.sink import ClickHouseSink

            sink = ClickHouseSink(self.bootstrap, self.topics, self.backend,
                                  group=f"{s.app_id}.sink", batch_size=s.sink_batch,
                                  consumer_config={
                                      "session.timeout.ms": int(s.session_timeout * 1000),
                                      **s.kafka_config})
            self.sink = sink
            self._thread("posguard-sink", sink.run)
            self._stops.append(sink.stop)
        if self.want_ingest:
            self._start_ingest()
        if self.want_api:
            self._start_api()
        if self.scripts_dir is not None:
            self._start_scripts()
        if self.demo:
            self._start_demo()

    def config_path(self) -> Any:
        s = self.settings
        path = s.config or s.data / "posguard.toml"
        return path if path.exists() else None

    def terminal_zones(self) -> dict[str, str]:
        """Terminal GUID -> timezone, from the registry in the config file."""
        path = self.config_path()
        if path is None:
            return {}
        from posguard.ingest.files import read_document
        from posguard.ingest.registry_toml import registry_from_document

        return {t.guid: t.timezone for t in registry_from_document(read_document(path))
                if t.timezone}

    def _start_ingest(self) -> None:
        from posguard.ingest.service import IngestService

        s = self.settings
        svc = IngestService(self.bootstrap, self.topics, s.data, s.config or s.data / "posguard.toml",
                            kafka_config=dict(s.kafka_config))
        svc.start_thread()
        self.ingest = svc
        self._stops.append(svc.stop_thread)

    def _start_api(self) -> None:
        from posguard.console.api import ApiServer, create_api
        from posguard.console.auth import load_or_create_token
        from posguard.console.state import NodeState

        s = self.settings
        state = NodeState(settings=s, backend=self.backend,
                          api_token=load_or_create_token(s.token_file), bootstrap=self.bootstrap)
        if self.want_sink:
            state.metrics["sink"] = lambda: {k: v for k, v in asdict(self.sink.stats).items()
                                             if not isinstance(v, dict)}
        from posguard.console.web_setup import install_console

        install_console(state)
        self._install_detector_config(state)
        state.extras["zones"] = self.terminal_zones()
        if self.ingest is not None:
            state.extras["ingest"] = self.ingest
            state.metrics["ingest"] = self.ingest.metrics
        self.state = state
        host, _, port = s.http.rpartition(":")
        server = ApiServer(create_api(state), host or "127.0.0.1", int(port))
        server.start()
        self._stops.append(server.stop)

    def _install_detector_config(self, state: Any) -> None:
        from posguard.detectors.config import default_config
        from posguard.streams.detector_config import publish_config, read_latest_config

        extra = dict(self.settings.kafka_config)
        cfg = read_latest_config(self.bootstrap, self.topics, quiet_seconds=1.0, timeout=10,
                                 extra=extra)
        state.extras["detector_config"] = cfg or default_config()
        state.extras["publish_detector_config"] = lambda c: publish_config(
            self.bootstrap, self.topics, c, extra)

    def _start_scripts(self) -> None:
        from posguard.scripting import start_script_host

        notify = None
        if self.want_api:
            from posguard.console.web_setup import console_notifier

            notify = console_notifier(self.state)
        host = start_script_host(self.settings, self.backend, self.bootstrap, self.topics,
                                 self.scripts_dir, notify)
        self._stops.append(host.stop)
        if self.want_api:
            self.state.metrics["scripts"] = host.metrics

    def _start_demo(self) -> None:
        from posguard.ingest.publisher import EventPublisher
        from posguard.ingest.simulator import ChainSimulator, run_simulation

        s = self.settings
        pub = EventPublisher(self.bootstrap, self.topics)
        sim = ChainSimulator(s.demo_stores, s.demo_terminals, seed=7)
        self._thread("posguard-demo", lambda: (
            run_simulation(pub.publish, sim, s.demo_rate, 0,
                           should_stop=self._stop_event.is_set), pub.flush(10)) and None)

    def run(self) -> int:
        """Run until a signal; the Faust worker (when wanted) owns the main thread."""
        self.start()
        s = self.settings
        print(f"posguard node up: API {s.api_url}  Kafka {self.bootstrap}  data {s.data}",
              flush=True)
        try:
            if self.want_agents:
                self._run_faust()
            else:
                for sig in (signal.SIGINT, signal.SIGTERM):
                    signal.signal(sig, lambda *_: self._stop_event.set())
                self._stop_event.wait()
        finally:
            self.stop()
        return 0

    def _run_faust(self) -> None:
        from faust.worker import Worker

        from posguard.streams.app import create_app
        from posguard.streams.broker import is_tansu
        from posguard.streams.extensions import default_extensions

        tansu = not self.settings.kafka or (
            not self.settings.producer_batch_bytes
            and is_tansu(self.bootstrap, dict(self.settings.kafka_config)))
        ctx = create_app(worker_config(self.settings, self.bootstrap, tansu),
                         default_extensions(self.terminal_zones()))
        self.worker_ctx = ctx
        if self.want_api:
            self.state.metrics["worker"] = lambda: dict(ctx.counters)
        worker = Worker(ctx.app, loglevel=self.settings.log_level, redirect_stdouts=False,
                        quiet=True)

        def watch() -> None:  # a dead sink/API stops the worker, so the node exits
            self._stop_event.wait()
            os.kill(os.getpid(), signal.SIGTERM)  # Faust's own graceful shutdown path

        threading.Thread(target=watch, name="posguard-watch", daemon=True).start()
        with contextlib.suppress(SystemExit):
            worker.execute_from_commandline()

    def stop(self) -> None:
        self._stop_event.set()
        for stop in reversed(self._stops):
            with contextlib.suppress(Exception):
                stop()
        self._stops.clear()
        for t in self._threads:
            t.join(10)
