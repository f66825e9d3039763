"""Raw dump: the bytes a sender sends, appended to a file per terminal (or port) and day,
for diagnosing a sender. Files can be replayed with `nc host port < file`."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import BinaryIO

__all__ = ["RawDumper"]

log = logging.getLogger(__name__)


class RawDumper:
    """Append bytes to `<folder>/<key>/<YYYY-MM-DD>.raw` (UTC date).

    Args:
        folder: where dumps go.
        max_open: file handles kept open (least recently used ones are closed).
    """

    def __init__(self, folder: Path, max_open: int = 64):
        self.folder = Path(folder)
        self.max_open = max_open
        self._files: dict[tuple[str, str], BinaryIO] = {}
        self._failed: set[str] = set()

    def write(self, key: str, data: bytes, now: float | None = None) -> None:
        """Append `data` for `key` (a terminal GUID or "tcp-5001"); I/O errors are logged once
        per key and never stop ingestion."""
        day = time.strftime("%Y-%m-%d", time.gmtime(now if now is not None else time.time()))
        f = self._files.pop((key, day), None)
        try:
            if f is None:
                path = self.folder / _safe(key) / f"{day}.raw"
                path.parent.mkdir(parents=True, exist_ok=True)
                f = open(path, "ab")  # noqa: SIM115 (kept open across writes)
            f.write(data)
            f.flush()
        except OSError as e:
            if key not in self._failed:
                self._failed.add(key)
                log.error("raw dump for %s failed: %s", key, e)
            return
        self._files[(key, day)] = f
        while len(self._files) > self.max_open:
            oldest = next(iter(self._files))
            self._files.pop(oldest).close()

    def close(self) -> None:
        for f in self._files.values():
            f.close()
        self._files.clear()


def _safe(key: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in key) or "_"
