"""CLI processes in tests: stopped with Ctrl-C as a user would, never left running."""

from __future__ import annotations

import signal
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def running(proc: subprocess.Popen[str]) -> Iterator[subprocess.Popen[str]]:
    """The process for the test's body; killed if the body leaves it running (a failure)."""
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()


def interrupt(proc: subprocess.Popen[str], timeout: float = 60) -> str:
    """Ctrl-C the process, wait for it to end and return what it printed."""
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=timeout)
    return out
