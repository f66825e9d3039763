"""One timer thread for all scripts: `timeout(ms, callback)` hands the callback to the
script's worker when it is due (the callback itself never runs on the timer thread)."""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from collections.abc import Callable

__all__ = ["Timers"]

log = logging.getLogger(__name__)


class Timers:
    """A heap of (due, seq, action) served by one daemon thread.

    Args:
        clock: monotonic seconds (injectable for tests).
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic):
        self._clock = clock
        self._heap: list[tuple[float, int, Callable[[], None]]] = []
        self._seq = itertools.count()
        self._cond = threading.Condition()
        self._stopped = False
        self._thread = threading.Thread(target=self._run, name="script-timers", daemon=True)
        self._thread.start()

    def call_later(self, seconds: float, action: Callable[[], None]) -> None:
        """Run `action` (quickly: it should only queue work) after `seconds`."""
        with self._cond:
            heapq.heappush(self._heap, (self._clock() + max(0.0, seconds), next(self._seq),
                                        action))
            self._cond.notify()

    def pending(self) -> int:
        """Timers not yet fired."""
        with self._cond:
            return len(self._heap)

    def stop(self) -> None:
        """Forget pending timers and end the thread."""
        with self._cond:
            self._stopped = True
            self._heap.clear()
            self._cond.notify()
        self._thread.join(5)

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._stopped:
                    if self._heap:
                        wait = self._heap[0][0] - self._clock()
                        if wait <= 0:
                            break
                        self._cond.wait(min(wait, 1.0))
                    else:
                        self._cond.wait()
                if self._stopped:
                    return
                _, _, action = heapq.heappop(self._heap)
            try:
                action()
            except Exception:  # the timer thread serves every script: keep it alive
                log.exception("timer action failed")
