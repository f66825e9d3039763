"""Saving a report: a safe file name for it, and a careful write to a path the user gave."""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

from posguard.model.times import local_datetime
from posguard.reports.errors import ReportOutputError
from posguard.reports.types import ReportType, parse_report_type

__all__ = ["report_filename", "resolve_output", "save_report"]

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def report_filename(report_type: ReportType | str, t0_us: int, t1_us: int,
                    store: str | None = None, tz: str = "UTC") -> str:
    """A file name for a report that is safe anywhere: letters, digits, '.', '_', '-' only,
    never a path and never hidden (a store named `../../etc` becomes `etc`).

    Example:
        >>> report_filename("violations", 1_796_000_000_000_000, 1_796_086_400_000_000,
        ...                 store="../Store 1")
        'violations_Store_1_20261130-0053_20261201-0053.ods'
    """
    rt = parse_report_type(report_type)
    fmt = "%Y%m%d-%H%M"
    a = local_datetime(t0_us, tz).strftime(fmt)
    b = local_datetime(t1_us, tz).strftime(fmt)
    where = _UNSAFE.sub("_", store or "").strip("._-")[:40]
    parts = [rt.value, *([where] if where else []), a, b]
    return "_".join(parts) + ".ods"


def resolve_output(path: str | Path, default_name: str, force: bool) -> Path:
    """Where to write: `path` itself, or `path/default_name` when `path` is a folder.

    Raises:
        ReportOutputError: the folder does not exist, the path is not a regular file, or the
            file exists and `force` is False.
    """
    p = Path(path).expanduser()
    if str(path).endswith(("/", os.sep)) or p.is_dir():
        if not p.is_dir():
            raise ReportOutputError(f"folder {p} does not exist")
        p = p / default_name
    parent = p.parent
    if not parent.is_dir():
        raise ReportOutputError(f"cannot write {p}: folder {parent} does not exist")
    if p.exists() or p.is_symlink():
        if not p.is_file():
            raise ReportOutputError(f"cannot write {p}: it exists and is not a regular file")
        if not force:
            raise ReportOutputError(f"{p} exists; use --force to overwrite it")
    return p


def save_report(data: bytes, path: Path, force: bool) -> Path:
    """Write `data` to `path`: without `force` the file is created exclusively (never
    overwrites, even if it appeared meanwhile); with `force` it is replaced atomically.

    Raises:
        ReportOutputError: the file exists (without force) or the write fails.
    """
    try:
        if not force:
            with open(path, "xb") as f:
                f.write(data)
            return path
        # The replaced file keeps its permissions (reports name people: someone may have
        # narrowed them).
        mode = path.stat().st_mode & 0o777 if path.exists() else 0o644
        fd, tmp = tempfile.mkstemp(prefix=".posguard-report-", suffix=".ods", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.chmod(tmp, mode)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return path
    except FileExistsError:
        raise ReportOutputError(f"{path} exists; use --force to overwrite it") from None
    except OSError as e:
        raise ReportOutputError(f"cannot write {path}: {e.strerror or e}") from None
