"""One script's worker: its own thread and queues, so a slow or failing script hurts no one.

Everything a script runs (its top-level code, event and incident callbacks, timers,
finalizers) runs on its worker thread, one thing at a time, in arrival order.

Two queues:
- the feed queue (events, incidents) is bounded; when it is full the OLDEST item is dropped,
  counted and reported (rate-limited): the Kafka consumer feeding it never blocks, so a script
  stuck in a callback never slows the pipeline or the other scripts;
- the control queue (load, timers, finalizers, host calls) is unbounded and served first.

An exception in a task is reported with the script's name and traceback (`on_error`) and the
worker goes on with the next task.
"""

from __future__ import annotations

import collections
import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

__all__ = ["ScriptWorker", "WorkerStats", "current_script", "DEFAULT_QUEUE_SIZE"]

log = logging.getLogger(__name__)

DEFAULT_QUEUE_SIZE = 10_000
_local = threading.local()


def current_script() -> Any:
    """The script whose worker thread this is (None elsewhere); `import host` uses it."""
    return getattr(_local, "script", None)


@dataclass
class WorkerStats:
    """Counters of one script."""

    queued: int = 0
    done: int = 0
    errors: int = 0
    dropped: int = 0


Task = Callable[[], Any]


class ScriptWorker:
    """A thread serving one script's tasks.

    Args:
        name: the script's name (thread name, reports).
        owner: the object `current_script()` returns on this thread.
        on_error: called (on this thread) with the exception of a failed task.
        on_overflow: called with the total dropped count when the feed queue drops items
            (at most once per `overflow_report_interval` seconds).
        queue_size: bound of the feed queue.
    """

    def __init__(self, name: str, owner: Any, on_error: Callable[[BaseException], None],
                 on_overflow: Callable[[int], None], queue_size: int = DEFAULT_QUEUE_SIZE,
                 overflow_report_interval: float = 10.0):
        if queue_size < 1:
            raise ValueError("queue_size must be at least 1")
        self.name = name
        self.stats = WorkerStats()
        self._owner = owner
        self._on_error = on_error
        self._on_overflow = on_overflow
        self._feed: collections.deque[Task] = collections.deque()
        self._control: collections.deque[Task] = collections.deque()
        self._size = queue_size
        self._cond = threading.Condition()
        self._closing = False
        self._idle = True
        self._report_every = overflow_report_interval
        self._last_report = -1e18
        self._thread = threading.Thread(target=self._run, name=f"script:{name}", daemon=True)

    def start(self) -> None:
        """Start the thread."""
        self._thread.start()

    def submit_feed(self, task: Task) -> None:
        """Queue an event/incident callback; never blocks (drops the oldest when full)."""
        self.submit_feed_many((task,))

    def submit_feed_many(self, tasks: Iterable[Task]) -> None:
        """Queue several feed tasks under one lock; never blocks (drops the oldest)."""
        report = 0
        with self._cond:
            if self._closing:
                return
            for task in tasks:
                if len(self._feed) >= self._size:
                    self._feed.popleft()
                    self.stats.dropped += 1
                    now = time.monotonic()
                    if now - self._last_report >= self._report_every:
                        self._last_report = now
                        report = self.stats.dropped
                self._feed.append(task)
                self.stats.queued += 1
            self._cond.notify()
        if report:
            try:
                self._on_overflow(report)
            except Exception:  # a failing reporter must not stop the consumer
                log.exception("overflow report of script %s failed", self.name)

    def submit(self, task: Task) -> bool:
        """Queue a control task (served before feed items); False once closing."""
        with self._cond:
            if self._closing:
                return False
            self._control.append(task)
            self._cond.notify()
            return True

    def pending(self) -> int:
        """Tasks waiting (both queues)."""
        with self._cond:
            return len(self._feed) + len(self._control)

    def wait_idle(self, timeout: float) -> bool:
        """Wait until both queues are empty and no task runs; False on timeout."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._feed or self._control or not self._idle:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(min(left, 0.05))
            return True

    def close(self, last: Task | None, timeout: float) -> bool:
        """Drop queued feed items, run `last` (the finalizers) after the current task and
        the queued control tasks, and stop. False when the thread did not end in time (a
        callback still running); the thread is a daemon and is abandoned then."""
        with self._cond:
            self.stats.dropped += len(self._feed)
            self._feed.clear()
            if last is not None:
                self._control.append(last)
            self._closing = True
            self._cond.notify()
        if not self._thread.is_alive():
            return True
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def _next(self) -> Task | None:
        with self._cond:
            self._idle = True
            self._cond.notify_all()
            while not self._control and not self._feed:
                if self._closing:
                    return None
                self._cond.wait()
            self._idle = False
            if self._control:
                return self._control.popleft()
            return self._feed.popleft()

    def _run(self) -> None:
        _local.script = self._owner
        while True:
            task = self._next()
            if task is None:
                return
            try:
                task()
            except BaseException as e:  # noqa: BLE001 - a script's error is data, reported
                self.stats.errors += 1
                try:
                    self._on_error(e)
                except Exception:
                    log.exception("error report of script %s failed", self.name)
            finally:
                self.stats.done += 1
