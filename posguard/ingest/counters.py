"""Counters of the ingest adapters, and a logger that speaks once per burst."""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field

__all__ = ["IngestCounters", "BurstLog"]


@dataclass
class IngestCounters:
    """What came in, per terminal and in total (the node exposes `snapshot()` as metrics).

    Rejects of a piece whose terminal is unknown count under its port ("tcp:5001"), and so do
    refused pieces (input turned away because the spool is full, see SpoolFull).
    """

    accepted: Counter[str] = field(default_factory=Counter)  # terminal -> events
    rejected: Counter[tuple[str, str]] = field(default_factory=Counter)  # (terminal, code)
    bytes_in: Counter[str] = field(default_factory=Counter)  # "tcp:5001" -> bytes
    refused: Counter[str] = field(default_factory=Counter)  # terminal -> pieces (spool full)
    connections_open: int = 0
    connections_total: int = 0
    connections_refused: int = 0  # over max_connections
    connections_idle_closed: int = 0
    connections_refused_spool_full: int = 0  # TCP connections turned away at once
    datagrams_dropped: int = 0  # UDP over the rate limit
    http_requests: int = 0
    http_rejected: int = 0
    http_refused: int = 0  # requests answered 503 because the spool is full

    def count_rejects(self, key: str, code: str, n: int = 1) -> None:
        self.rejected[(key, code)] += n

    def snapshot(self) -> dict[str, int]:
        """Flat totals: accepted, rejected, refused, rejected_<code>, bytes_in, connections..."""
        out = {
            "accepted": sum(self.accepted.values()),
            "rejected": sum(self.rejected.values()),
            "refused": sum(self.refused.values()),
            "bytes_in": sum(self.bytes_in.values()),
            "connections_open": self.connections_open,
            "connections_total": self.connections_total,
            "connections_refused": self.connections_refused,
            "connections_idle_closed": self.connections_idle_closed,
            "connections_refused_spool_full": self.connections_refused_spool_full,
            "datagrams_dropped": self.datagrams_dropped,
            "http_requests": self.http_requests,
            "http_rejected": self.http_rejected,
            "http_refused": self.http_refused,
        }
        by_code: Counter[str] = Counter()
        for (_, code), n in self.rejected.items():
            by_code[code] += n
        out.update({f"rejected_{code}": n for code, n in sorted(by_code.items())})
        return out

    def per_terminal(self) -> dict[str, dict[str, object]]:
        """terminal (or port) -> {"accepted": n, "rejected": n, "refused": n,
        "rejected_by_code": {...}}."""
        out: dict[str, dict[str, object]] = {}

        def row_of(t: str) -> dict[str, object]:
            return out.setdefault(t, {"accepted": 0, "rejected": 0, "refused": 0,
                                      "rejected_by_code": {}})

        for t, n in self.accepted.items():
            row_of(t)["accepted"] = n
        for t, n in self.refused.items():
            row_of(t)["refused"] = n
        for (t, code), n in self.rejected.items():
            row = row_of(t)
            row["rejected"] = int(row["rejected"]) + n  # type: ignore[call-overload]
            row["rejected_by_code"][code] = n  # type: ignore[index]
        return out


class BurstLog:
    """Log the first of a burst of similar messages, then one summary per `window` seconds.

    Args:
        logger: where to log.
        window: seconds during which repeats of a key are only counted.

    Example:
        >>> b = BurstLog(logging.getLogger("x"), 10.0)
        >>> [b.should_log("T1", t) for t in (0.0, 1.0, 2.0, 11.0)]
        [(True, 0), (False, 0), (False, 0), (True, 2)]
    """

    def __init__(self, logger: logging.Logger, window: float = 10.0):
        self.logger, self.window = logger, window
        self._since: dict[str, tuple[float, int]] = {}

    def should_log(self, key: str, now: float) -> tuple[bool, int]:
        """(log this one?, how many were suppressed since the last logged one)."""
        start, suppressed = self._since.get(key, (float("-inf"), 0))
        if now - start >= self.window:
            self._since[key] = (now, 0)
            return True, suppressed
        self._since[key] = (start, suppressed + 1)
        return False, 0

    def warning(self, key: str, now: float, msg: str, *args: object) -> None:
        """Log `msg` unless a message of `key` was logged less than `window` ago."""
        ok, suppressed = self.should_log(key, now)
        if ok:
            if suppressed:
                msg += " (and %d more like it since the last report)"
                args = (*args, suppressed)
            self.logger.warning(msg, *args)
