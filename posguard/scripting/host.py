"""The script host: loads user scripts and runs each isolated on its own worker.

    host = ScriptHost(services)
    host.load_dir(Path("scripts"))       # or host.add(Path("one.py"))
    host.wait_ready(30)                  # top-level code ran, feeds subscribed
    ...
    host.stop()                          # finalizers run, consumers leave their groups

Each script gets:
- its own namespace, with the API functions as bare globals (`alert`, `search_pos_events`,
  ...), Python 2 names (`unicode`, `basestring`, `long`, `xrange`, `unichr`), `open` of
  py2compat, and an import hook that gives it `host` (its API as a module) and `time` (the
  view on the host's clock, see clock.py); `pos_utils` comes from the pyredist folder, which
  is put on sys.path;
- its own worker thread and bounded queue (worker.py);
- its own Kafka consumer, group `posguard.script.<name>`, started on its first
  activate_on_pos_events / activate_on_pos_incidents (feeds.py).
"""

from __future__ import annotations

import builtins
import logging
import re
import sys
import threading
import time as _time
import traceback
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

from posguard.model.events import PosEvent
from posguard.model.incidents import Incident
from posguard.scripting.api import ScriptApi
from posguard.scripting.clock import time_module
from posguard.scripting.errors import ScriptLoadError
from posguard.scripting.feeds import ScriptFeed
from posguard.scripting.py2compat import script_open
from posguard.scripting.services import ScriptServices
from posguard.scripting.timers import Timers
from posguard.scripting.values import event_for_script, incident_for_script
from posguard.scripting.worker import ScriptWorker

__all__ = ["Script", "ScriptHost", "PYREDIST", "script_name", "ERROR_REPORTS_PER_WINDOW"]

log = logging.getLogger(__name__)

PYREDIST = Path(__file__).with_name("pyredist")
_HOST_DIR = str(Path(__file__).parent)
_NAME = re.compile(r"[^A-Za-z0-9_.-]+")
# At most this many errors of one script are reported in full per window; the rest are
# counted and summed up in the next report (a script failing on every event must not flood
# the console or the log).
ERROR_REPORTS_PER_WINDOW = 5
_ERROR_WINDOW = 10.0

_PY2_NAMES: dict[str, Any] = {
    "unicode": str, "basestring": str, "long": int, "xrange": range, "unichr": chr,
}


def script_name(path: Path) -> str:
    """A script's name: its file stem, restricted to characters a consumer group takes."""
    return _NAME.sub("_", path.stem) or "script"


def _script_traceback(e: BaseException) -> str:
    """The traceback without the host's own frames (the script's lines are what matter)."""
    frames = [f for f in traceback.extract_tb(e.__traceback__)
              if not f.filename.startswith(_HOST_DIR)]
    lines = ["Traceback (most recent call last):\n"] if frames else []
    lines += traceback.format_list(frames)
    lines += traceback.format_exception_only(type(e), e)
    return "".join(lines).rstrip()


class Script:
    """One loaded script: namespace, worker, feed, callbacks, finalizers."""

    def __init__(self, host: ScriptHost, path: Path, name: str):
        self.host = host
        self.path = path
        self.name = name
        self.services = host.services
        self.log = logging.getLogger(f"posguard.script.{name}")
        self.state = "new"
        self.errors: list[str] = []  # the last few error reports, newest last
        self.finalizers: list[Callable[[], Any]] = []
        self.event_callbacks: list[Callable[[Any], Any]] = []
        self.incident_callbacks: list[tuple[str, Callable[[Any], Any]]] = []
        self.events_received = 0
        self.incidents_received = 0
        self.error_count = 0
        self._err_window_start = -1e18
        self._err_in_window = 0
        self._err_suppressed = 0
        self._loaded = threading.Event()
        self.api = ScriptApi(self)
        self.worker = ScriptWorker(name, self, on_error=self._on_task_error,
                                   on_overflow=self._on_overflow,
                                   queue_size=self.services.queue_size)
        self.feed: ScriptFeed | None = None
        self.time = time_module(self.services.clock)
        self.namespace = self._namespace()

    # -- namespace ---------------------------------------------------------------------
    def _namespace(self) -> dict[str, Any]:
        funcs = self.api.functions()
        host_mod = types.ModuleType("host", "The script API of the ActivePOS reference.")
        for k, v in funcs.items():
            setattr(host_mod, k, v)
        host_mod.__all__ = list(funcs)  # type: ignore[attr-defined]
        time_mod = self.time
        real_import = builtins.__import__

        def _import(name: str, globals: Any = None, locals: Any = None,  # noqa: A002
                    fromlist: Any = (), level: int = 0) -> Any:
            if level == 0:
                if name == "host":
                    return host_mod
                if name == "time":
                    return time_mod
            return real_import(name, globals, locals, fromlist, level)

        script_builtins = dict(vars(builtins))
        script_builtins["__import__"] = _import
        script_builtins["open"] = script_open(self.workdir)
        script_builtins.update(_PY2_NAMES)
        ns: dict[str, Any] = {
            "__name__": "__main__", "__file__": str(self.path), "__doc__": None,
            "__builtins__": script_builtins,
        }
        ns.update(funcs)
        return ns

    @property
    def workdir(self) -> Path:
        """Where relative paths of this script resolve."""
        return self.services.workdir or self.path.resolve().parent

    # -- life cycle --------------------------------------------------------------------
    def start(self) -> None:
        """Start the worker and run the script's top-level code on it."""
        self.state = "loading"
        self.worker.start()
        self.worker.submit(self._load)

    def _load(self) -> None:
        try:
            try:
                code = compile(self.path.read_bytes(), str(self.path), "exec")
            except (OSError, SyntaxError, ValueError) as e:
                self.state = "failed"
                self.error_count += 1
                self.report(f"script {self.name}: cannot load {self.path}: "
                            f"{type(e).__name__}: {e}")
                return
            self.log.info("script %s started (%s)", self.name, self.path)
            self.state = "running"
            try:
                exec(code, self.namespace)
            except BaseException as e:  # noqa: BLE001 - SystemExit too: reported, not fatal
                # A script that subscribed before failing keeps its subscriptions.
                if not (self.event_callbacks or self.incident_callbacks or self.finalizers):
                    self.state = "failed"
                self._report_exception(e, "loading")
        finally:
            self._loaded.set()

    def wait_loaded(self, timeout: float) -> bool:
        """Wait until the top-level code has run (or failed)."""
        return self._loaded.wait(timeout)

    def stop(self, grace: float) -> bool:
        """Stop the feed, drop queued events, run the finalizers; False when the worker was
        still busy after `grace` seconds (finalizers not run then)."""
        if self.feed is not None:
            self.feed.stop()
        ok = self.worker.close(self._finalize, grace)
        if not ok:
            self.report(f"script {self.name} was still busy in a callback when stopped "
                        f"(waited {grace:.1f} s); its finalizers were not run")
        self.state = "stopped"
        return ok

    def _finalize(self) -> None:
        for fn in self.finalizers:
            self.call_safely(fn, where="finalizer")
        if self.finalizers:
            self.log.info("script %s: %d finalizer(s) run", self.name, len(self.finalizers))

    # -- subscriptions -----------------------------------------------------------------
    def _feed(self) -> ScriptFeed:
        if self.feed is None:
            s = self.services
            self.feed = ScriptFeed(s.bootstrap, f"{s.group_prefix}{self.name}", s.topics.events,
                                   s.topics.incidents, self._deliver, s.consumer_config,
                                   on_problem=lambda m: self.report(f"script {self.name}: {m}"))
        return self.feed

    def subscribe_events(self, cb: Callable[[Any], Any]) -> None:
        self.event_callbacks.append(cb)
        self._feed().want("events")

    def subscribe_incidents(self, guid: str, cb: Callable[[Any], Any]) -> None:
        self.incident_callbacks.append((guid, cb))
        self._feed().want("incidents")

    def _deliver(self, batch: list[tuple[str, Any]]) -> None:
        # On the feed's consumer thread: queue only (never blocks).
        self.worker.submit_feed_many(self._task(kind, value) for kind, value in batch)

    def _task(self, kind: str, value: Any) -> Callable[[], None]:
        if kind == "event":
            return lambda: self._dispatch_event(value)
        return lambda: self._dispatch_incident(value)

    def _dispatch_event(self, ev: PosEvent) -> None:
        self.events_received += 1
        obj = event_for_script(ev)
        for cb in list(self.event_callbacks):
            self.call_safely(cb, obj, where="event callback")

    def _dispatch_incident(self, inc: Incident) -> None:
        self.incidents_received += 1
        obj = None
        for guid, cb in list(self.incident_callbacks):
            if guid and guid != inc.detector:
                continue
            obj = obj or incident_for_script(inc)
            self.call_safely(cb, obj, where="incident callback")

    def call_later(self, seconds: float, cb: Callable[[], Any]) -> None:
        def due() -> None:
            self.worker.submit(lambda: self.call_safely(cb, where="timeout"))

        self.host.timers.call_later(seconds, due)

    def clock_now(self) -> float:
        return float(self.services.clock.now())

    # -- errors ------------------------------------------------------------------------
    def call_safely(self, fn: Callable[..., Any], *args: Any, where: str) -> None:
        """Call a script function; report an exception and go on."""
        try:
            fn(*args)
        except Exception as e:  # noqa: BLE001 - a script's error is reported, not fatal
            self._report_exception(e, where)

    def _on_task_error(self, e: BaseException) -> None:
        self._report_exception(e, "callback")

    def _report_exception(self, e: BaseException, where: str) -> None:
        self.error_count += 1
        self.report(f"script {self.name}: error in {where}: {type(e).__name__}: {e}",
                    lambda: _script_traceback(e))

    def report(self, summary: str, detail: str | Callable[[], str] = "") -> None:
        """Report a problem of this script: log (with detail) and console, rate-limited.

        `detail` may be a function, called only when the report is not suppressed (a
        traceback is costly to format for a script failing on every event)."""
        now = _time.monotonic()
        if now - self._err_window_start >= _ERROR_WINDOW:
            if self._err_suppressed:
                self._emit(f"script {self.name}: {self._err_suppressed} more error(s) not "
                           "shown (rate limit)", "")
            self._err_window_start, self._err_in_window, self._err_suppressed = now, 0, 0
        if self._err_in_window >= ERROR_REPORTS_PER_WINDOW:
            self._err_suppressed += 1
            return
        self._err_in_window += 1
        self._emit(summary, detail() if callable(detail) else detail)

    def _emit(self, summary: str, detail: str) -> None:
        self.errors = [*self.errors[-19:], f"{summary}\n{detail}" if detail else summary]
        self.log.error("%s%s", summary, f"\n{detail}" if detail else "")
        try:
            self.services.notify("error", summary, self.name)
        except Exception:
            log.exception("notification of script %s not delivered", self.name)

    def _on_overflow(self, dropped: int) -> None:
        self.report(f"script {self.name} is falling behind: its queue of "
                    f"{self.services.queue_size} is full; {dropped} event(s) dropped so far "
                    "(oldest first)")

    def stats(self) -> dict[str, Any]:
        """Counters of this script."""
        w = self.worker.stats
        return {"name": self.name, "path": str(self.path), "state": self.state,
                "events": self.events_received, "incidents": self.incidents_received,
                "queued": self.worker.pending(), "errors": self.error_count,
                "dropped": w.dropped, "subscribed": self.feed is not None}


class ScriptHost:
    """Runs scripts, each isolated (own thread, queue, consumer).

    Args:
        services: the node's services (see ScriptServices).
    """

    def __init__(self, services: ScriptServices):
        self.services = services
        self.scripts: dict[str, Script] = {}
        self.timers = Timers()
        self._stopped = False
        if str(PYREDIST) not in sys.path:
            sys.path.insert(0, str(PYREDIST))

    def add(self, path: Path) -> Script:
        """Load and start one script file."""
        path = Path(path)
        if not path.is_file():
            raise ScriptLoadError(f"no script file {path}")
        base = name = script_name(path)
        n = 2
        while name in self.scripts:
            name = f"{base}_{n}"
            n += 1
        script = Script(self, path, name)
        self.scripts[name] = script
        script.start()
        return script

    def load_dir(self, folder: Path) -> list[Script]:
        """Load every `*.py` of a folder (not those starting with "_"), in name order."""
        folder = Path(folder)
        if not folder.is_dir():
            raise ScriptLoadError(f"no script folder {folder}")
        return [self.add(p) for p in sorted(folder.glob("*.py")) if not p.name.startswith("_")]

    def wait_ready(self, timeout: float = 30.0) -> bool:
        """Wait until every script's top-level code ran and its feed is subscribed."""
        deadline = _time.monotonic() + timeout
        for s in list(self.scripts.values()):
            if not s.wait_loaded(max(0.0, deadline - _time.monotonic())):
                return False
            if s.feed is not None and not s.feed.wait_ready(max(0.0,
                                                               deadline - _time.monotonic())):
                return False
        return True

    def wait_idle(self, timeout: float = 30.0) -> bool:
        """Wait until every script's queue is empty and no callback runs."""
        deadline = _time.monotonic() + timeout
        return all(s.worker.wait_idle(max(0.0, deadline - _time.monotonic()))
                   for s in list(self.scripts.values()))

    def stats(self) -> list[dict[str, Any]]:
        """Counters of every script."""
        return [s.stats() for s in self.scripts.values()]

    def metrics(self) -> dict[str, int]:
        """Flat counters for the node's /metrics: totals and per script."""
        out = {"scripts": len(self.scripts),
               "scripts_failed": sum(s.state == "failed" for s in self.scripts.values())}
        for s in self.scripts.values():
            st = s.stats()
            for k in ("events", "incidents", "errors", "dropped", "queued"):
                out[f"{s.name}_{k}"] = int(st[k])
        return out

    def stop(self, grace: float = 10.0) -> None:
        """Stop every script (finalizers run), the timers, and flush what scripts produced."""
        if self._stopped:
            return
        self._stopped = True
        feeds = [s.feed for s in self.scripts.values() if s.feed is not None]
        threads = [threading.Thread(target=f.stop, daemon=True) for f in feeds]
        for t in threads:  # leave the groups in parallel
            t.start()
        for t in threads:
            t.join(20)
        deadline = _time.monotonic() + grace
        for s in self.scripts.values():
            s.stop(max(0.1, deadline - _time.monotonic()))
        self.timers.stop()
        for close in self.services.closers:
            try:
                close()
            except Exception:
                log.exception("closing a script service failed")
