"""The per-script worker: order, isolation of errors, bounded queue (drop oldest), close."""

from __future__ import annotations

import threading

from posguard.scripting.timers import Timers
from posguard.scripting.worker import ScriptWorker, current_script


def make(queue_size: int = 3) -> tuple[ScriptWorker, list, list, list]:  # type: ignore[type-arg]
    errors: list[BaseException] = []
    overflows: list[int] = []
    done: list[object] = []
    w = ScriptWorker("w", owner="OWNER", on_error=errors.append, on_overflow=overflows.append,
                     queue_size=queue_size, overflow_report_interval=3600)
    return w, errors, overflows, done


def test_tasks_run_in_order_on_the_scripts_thread_and_errors_do_not_stop_it() -> None:
    w, errors, _, done = make(queue_size=100)
    w.start()
    for i in range(5):
        w.submit_feed(lambda i=i: done.append((i, current_script())))
    w.submit_feed(lambda: 1 / 0)
    w.submit_feed(lambda: done.append(("after", threading.current_thread().name)))
    assert w.wait_idle(10)
    assert done == [(i, "OWNER") for i in range(5)] + [("after", "script:w")]
    assert [type(e) for e in errors] == [ZeroDivisionError]
    assert (w.stats.errors, w.stats.done, w.stats.dropped) == (1, 7, 0)
    assert current_script() is None  # only on the worker's thread
    assert w.close(None, 5)


def test_full_queue_drops_the_oldest_counts_and_reports_without_blocking() -> None:
    w, _, overflows, done = make(queue_size=3)
    gate = threading.Event()
    w.start()
    w.submit_feed(gate.wait)  # the script is stuck in a callback
    assert _eventually(lambda: w.pending() == 0)
    for i in range(10):  # never blocks the caller (the Kafka consumer)
        w.submit_feed(lambda i=i: done.append(i))
    w.submit(lambda: done.append("control"))  # control tasks are not dropped, and go first
    assert w.stats.dropped == 7 and overflows == [1]  # reported once per interval
    gate.set()
    assert w.wait_idle(10)
    assert done == ["control", 7, 8, 9]
    assert w.close(None, 5)


def test_close_drops_queued_events_runs_the_last_task_and_stops() -> None:
    w, _, _, done = make(queue_size=100)
    gate = threading.Event()
    w.start()
    w.submit_feed(gate.wait)
    assert _eventually(lambda: w.pending() == 0)
    for i in range(5):
        w.submit_feed(lambda i=i: done.append(i))
    assert not w.close(lambda: done.append("finalizers"), timeout=0.1)  # still busy
    gate.set()
    assert _eventually(lambda: done == ["finalizers"])
    assert w.stats.dropped == 5
    assert not w.submit(lambda: None)  # closed


def test_timers_fire_once_in_due_order() -> None:
    fired: list[str] = []
    t = Timers()
    t.call_later(0.05, lambda: fired.append("b"))
    t.call_later(0.0, lambda: fired.append("a"))
    t.call_later(0.02, lambda: 1 / 0)  # a failing action does not kill the timer thread
    t.call_later(3600, lambda: fired.append("never"))
    assert _eventually(lambda: fired == ["a", "b"])
    assert t.pending() == 1
    t.stop()
    assert t.pending() == 0


def _eventually(pred, timeout: float = 10.0) -> bool:  # type: ignore[no-untyped-def]
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(0.01)
    return False
