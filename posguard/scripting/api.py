"""The documented script API, bound to one script: what scripts call as bare globals and
through `import host`.

Every function checks its arguments and raises `ScriptApiError` (a TypeError) naming the
function and the argument when it cannot use them; the worker reports it with the script's
name and traceback, and the script keeps running. Callbacks a function calls (search results,
error callbacks, report callbacks) run on the script's own worker thread, synchronously, before
the function returns; an exception in one of them is reported and the next is still called.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from posguard.model.errors import TimeArgumentError
from posguard.model.event_types import FRAUD
from posguard.model.events import PosEvent
from posguard.model.filters import EventFilter, event_filter_from_dict
from posguard.model.incidents import Incident, incident_id
from posguard.model.times import MICROS, to_micros
from posguard.scripting.errors import ScriptApiError, ScriptingError
from posguard.scripting.outbox import FraudRecord
from posguard.scripting.py2compat import as_text, plain
from posguard.scripting.values import (
    ReportResult,
    ScriptErrorInfo,
    ScriptEvent,
    event_for_script,
    incident_for_script,
)

if TYPE_CHECKING:
    from posguard.scripting.host import Script

__all__ = ["ScriptApi", "API_NAMES", "ARCHIVE_CONTEXT_US", "SEARCH_LIMIT"]

log = logging.getLogger(__name__)

API_NAMES = (
    "message", "alert", "error", "log_message", "timeout", "register_finalizer",
    "activate_on_pos_events", "search_pos_events", "pos_fraud", "activate_on_pos_incidents",
    "search_pos_incidents", "pos_process_archive", "pos_incident_create", "pos_import_detector",
    "generate_pos_report",
)

SEARCH_LIMIT = 500
# An archive run starts reading this much before t0 so detectors see the receipt (and
# sign-ins) an incident at t0 belongs to; incidents created before t0 are dropped. The same
# margin as the console's process-archive, so both find the same incidents.
ARCHIVE_CONTEXT_US = 24 * 3600 * MICROS
_FAR_FUTURE_US = 10**17


def _check_callable(fn: str, arg: str, v: Any) -> Callable[..., Any]:
    if not callable(v):
        raise ScriptApiError(f"{fn}(): {arg} must be callable (a function or lambda), "
                             f"not {type(v).__name__} {v!r:.60}")
    return v  # type: ignore[no-any-return]


def _check_str(fn: str, arg: str, v: Any) -> str:
    if isinstance(v, bytes | bytearray):
        return bytes(v).decode("utf-8")
    if not isinstance(v, str):
        raise ScriptApiError(f"{fn}(): {arg} must be a string, not {type(v).__name__} "
                             f"{v!r:.60}")
    return plain(v)


def _check_time(fn: str, arg: str, v: Any) -> int:
    if isinstance(v, bytes | bytearray):
        v = bytes(v).decode("ascii", "replace")
    try:
        return to_micros(v)
    except TimeArgumentError as e:
        raise ScriptApiError(f"{fn}(): {arg}: {e} (give seconds like time.time() or "
                             f"microseconds as an int or numeric string)") from None


def _check_range(fn: str, t0: Any, t1: Any) -> tuple[int, int]:
    a, b = _check_time(fn, "t0 (start)", t0), _check_time(fn, "t1 (end)", t1)
    if b < a:
        raise ScriptApiError(f"{fn}(): the end {t1!r} is before the start {t0!r}")
    return a, b


def _check_dict(fn: str, v: Any) -> dict[str, Any]:
    if v is None:
        return {}
    if not isinstance(v, dict):
        raise ScriptApiError(f"{fn}(): filter must be a dict, not {type(v).__name__} {v!r:.60}")
    return {(k.decode("utf-8") if isinstance(k, bytes) else k): x for k, x in v.items()}


class ScriptApi:
    """The API functions of one script (bound methods become the script's globals)."""

    def __init__(self, script: Script):
        self._script = script
        self._services = script.services

    # -- host basics ---------------------------------------------------------------------
    def _show(self, level: str, text: Any) -> None:
        s = as_text(text)
        self._script.log.log(logging.ERROR if level == "error" else logging.INFO, "%s", s)
        try:
            self._services.notify(level, s, self._script.name)
        except Exception:  # the console being away must not break the script
            log.exception("notification from script %s not delivered", self._script.name)

    def message(self, text: Any) -> None:
        """Show a message to operators (console) and log it."""
        self._show("message", text)

    def alert(self, text: Any) -> None:
        """Show a pop-up notification to operators and log it."""
        self._show("alert", text)

    def error(self, text: Any, timeout: Any = None) -> None:
        """Show an error to operators and log it. `timeout` (ms) is accepted for
        compatibility; the console decides how long toasts stay."""
        if timeout is not None and (isinstance(timeout, bool)
                                    or not isinstance(timeout, int | float)):
            raise ScriptApiError(f"error(): timeout must be milliseconds, not {timeout!r:.60}")
        self._show("error", text)

    def log_message(self, text: Any) -> None:
        """Write a line to the log only."""
        self._script.log.info("%s", as_text(text))

    def timeout(self, ms: Any, callback: Any) -> None:
        """Call `callback()` once, after `ms` milliseconds, on the script's thread."""
        if isinstance(ms, bool) or not isinstance(ms, int | float) or ms != ms or ms < 0:
            raise ScriptApiError(f"timeout(): ms must be a non-negative number of "
                                 f"milliseconds, not {ms!r:.60}")
        cb = _check_callable("timeout", "callback", callback)
        self._script.call_later(float(ms) / 1000.0, cb)

    def register_finalizer(self, fn: Any) -> None:
        """Call `fn()` when the script is stopped (Ctrl-C, host stop)."""
        self._script.finalizers.append(_check_callable("register_finalizer", "fn", fn))

    # -- events --------------------------------------------------------------------------
    def activate_on_pos_events(self, callback: Any) -> None:
        """Call `callback(event)` for every event that arrives from now on."""
        self._script.subscribe_events(_check_callable("activate_on_pos_events", "callback",
                                                      callback))

    def search_pos_events(self, callback: Any, t0: Any, t1: Any, filter: Any = None) -> None:  # noqa: A002
        """Call `callback(event)` for each stored event in [t0, t1] (reception time) matching
        the Table 12 filter, oldest first, at most 500."""
        fn = "search_pos_events"
        cb = _check_callable(fn, "callback", callback)
        a, b = _check_range(fn, t0, t1)
        d = _check_dict(fn, filter)
        try:
            f = event_filter_from_dict(d)
        except (KeyError, TypeError, ValueError) as e:
            raise ScriptApiError(f"{fn}(): bad filter: {e}") from None
        from posguard.store.search import search_events

        for ev in search_events(self._backend(fn), a, b, f, SEARCH_LIMIT):
            self._script.call_safely(cb, event_for_script(ev), where=fn)

    def pos_fraud(self, ev: Any, text: Any) -> None:
        """Raise an alarm on the receipt of `ev`: a POS_FRAUD event on that receipt (stored,
        searchable, highlighted), a pos.frauds record, and an alert to operators."""
        fn = "pos_fraud"
        if isinstance(ev, ScriptEvent):
            src = ev.source
        elif isinstance(ev, PosEvent):
            src = ev
        else:
            raise ScriptApiError(f"{fn}(): ev must be an event received by the script, not "
                                 f"{type(ev).__name__} {ev!r:.60}")
        note = _check_str(fn, "text", text)
        pub = self._services.publisher
        if pub is None:
            raise ScriptingError(f"{fn}(): this script host has no event publisher")
        h = hashlib.blake2b(digest_size=12)
        for part in (src.event_id or f"{src.pos_terminal}/{src.ts_received}/{src.op_id}",
                     src.type, note):
            h.update(part.encode())
            h.update(b"\x00")
        fraud = PosEvent(
            type=FRAUD, pos_terminal=src.pos_terminal, ts_in_receipt=src.ts_in_receipt,
            # The reception time of the event it is about: the operator finds the moment in
            # the video by it, and a replayed alarm has the same identity.
            ts_received=src.ts_received, pos_terminal_name=src.pos_terminal_name,
            associated_channel=src.associated_channel, location=src.location,
            op_id=src.op_id, cashier_name=src.cashier_name, position=src.position,
            text=note, event_id=f"fraud-{h.hexdigest()}", store=src.store)
        pub.publish(fraud)
        if self._services.outbox is not None:
            self._services.outbox.fraud(FraudRecord(
                event_id=fraud.event_id, pos_terminal=src.pos_terminal, op_id=src.op_id,
                text=note, script=self._script.name, ts_in_receipt=src.ts_in_receipt,
                ts_received=src.ts_received))
        where = src.pos_terminal_name or src.pos_terminal
        self._show("alert", f"{note} ({where}, receipt {src.op_id or '?'})")

    # -- incidents -----------------------------------------------------------------------
    def activate_on_pos_incidents(self, detector_guid: Any, callback: Any) -> None:
        """Call `callback(incident)` for each new incident of that detector ("" = any)."""
        fn = "activate_on_pos_incidents"
        guid = _check_str(fn, "detector_guid", detector_guid)
        self._script.subscribe_incidents(guid, _check_callable(fn, "callback", callback))

    def search_pos_incidents(self, callback: Any, t0: Any, t1: Any, filter: Any = None) -> None:  # noqa: A002
        """Call `callback(incident)` for each stored incident created in [t0, t1] matching
        the Table 14 filter, newest first (`limit`, default -1 = all)."""
        fn = "search_pos_incidents"
        cb = _check_callable(fn, "callback", callback)
        a, b = _check_range(fn, t0, t1)
        from posguard.model.incident_filters import incident_filter_from_dict
        from posguard.store.incidents import search_incidents

        d = _check_dict(fn, filter)
        try:
            f = incident_filter_from_dict(d)
        except (KeyError, TypeError, ValueError) as e:
            raise ScriptApiError(f"{fn}(): bad filter: {e}") from None
        for inc, _version in search_incidents(self._backend(fn), f, a, b):
            self._script.call_safely(cb, incident_for_script(inc), where=fn)

    def pos_incident_create(self, terminal_guid: Any, type_name: Any, cashier: Any,
                            err_callback: Any) -> str | None:
        """Create an incident of the named type on a terminal; on failure (unknown terminal
        or type) call `err_callback(err)` with the reason in `err.msg`. Returns the new
        incident's id (None on failure)."""
        fn = "pos_incident_create"
        guid = _check_str(fn, "terminal_guid", terminal_guid)
        tname = _check_str(fn, "type_name", type_name)
        who = _check_str(fn, "cashier", cashier)
        err_cb = _check_callable(fn, "err_callback", err_callback)
        config = self._detectors(fn).get()
        itype = next((t for t in config.incident_types if t.name == tname), None) or next(
            (t for t in config.incident_types
             if t.name.casefold() == tname.casefold() or t.guid == tname), None)
        last = self._last_event_of(guid)
        exists = self._services.terminal_exists
        known = last is not None or (exists is not None and exists(guid))
        if not known:
            self._script.call_safely(err_cb, ScriptErrorInfo(f"unknown terminal {guid!r}"),
                                     where=fn)
            return None
        if itype is None:
            names = ", ".join(repr(t.name) for t in config.incident_types[:10])
            self._script.call_safely(err_cb, ScriptErrorInfo(
                f"unknown incident type {tname!r} (known: {names})"), where=fn)
            return None
        now = int(self._script.clock_now() * MICROS)
        operator = f"script:{self._script.name}"
        inc = Incident(
            id=incident_id(operator, [guid, itype.guid, who, str(now)]), detector="",
            type_name=itype.name, type_id=itype.guid, type_description=itype.description,
            terminal_guid=guid, ts_created=now, cashier_name=who, operator=operator,
            # Not empty: the chDB Arrow insert refuses a block whose arrays are all empty
            # (reported to the store's owner); the creation time and the terminal's latest
            # event are what the incident points at.
            related_ts=[now], related_events=[last.event_id if last else operator],
            server=self._services.server,
            terminal_name=last.pos_terminal_name if last else "",
            associated_channel=last.associated_channel if last else "",
            store=last.store if last else "")
        self._outbox(fn).incident(inc)
        return inc.id

    def pos_import_detector(self, xml: Any) -> None:
        """Replace the whole detector configuration with `xml` (validated first; on error the
        old configuration stays and the error says line and reason)."""
        fn = "pos_import_detector"
        if isinstance(xml, str):
            data = xml.encode("utf-8", "surrogateescape")
        elif isinstance(xml, bytes | bytearray | memoryview):
            data = bytes(xml)
        else:
            raise ScriptApiError(f"{fn}(): xml must be the XML text, not {type(xml).__name__}")
        from posguard.detectors.config import parse_config

        config = parse_config(data)
        self._detectors(fn).replace(config)
        self._script.log.info("detector configuration imported: %d incident types, "
                              "%d detectors", len(config.incident_types), len(config.detectors))

    def pos_process_archive(self, detector_guid: Any, t0: Any, t1: Any) -> int:
        """Run one detector over the stored events of [t0, t1] (receipt time); its incidents
        not stored yet go to pos.incidents like live ones (same ids). Returns how many."""
        fn = "pos_process_archive"
        guid = _check_str(fn, "detector_guid", detector_guid)
        a, b = _check_range(fn, t0, t1)
        config = self._detectors(fn).get()
        if not any(d.guid == guid for d in config.detectors):
            known = ", ".join(d.guid for d in config.detectors[:20])
            raise ScriptApiError(f"{fn}(): unknown detector {guid!r} (known: {known})")
        from posguard.detectors.engine import DetectorEngine, run_archive
        from posguard.store.incidents import get_incident
        from posguard.store.search import iter_events

        engine = DetectorEngine.from_config(config, zones=self._services.zones, only=[guid])
        backend = self._backend(fn)
        events = iter_events(backend, max(0, a - ARCHIVE_CONTEXT_US), b)
        incidents = run_archive(engine, events, since=a)
        # Only incidents not stored yet go out (as `posguard detectors process-archive`: a
        # rerun adds nothing); the sink stores them and incident scripts see each once.
        fresh = [i for i in incidents if get_incident(backend, i.id) is None]
        out = self._outbox(fn)
        for inc in fresh:
            out.incident(inc)
        out.flush(30)
        self._script.log.info("archive %d..%d processed by detector %s: %d incidents, %d new",
                              a, b, guid, len(incidents), len(fresh))
        return len(fresh)

    # -- reports -------------------------------------------------------------------------
    def generate_pos_report(self, report_type: Any, t0: Any, t1: Any, callback: Any) -> None:
        """Build a report over [t0, t1] and call `callback(res)`; `res.zipped_report` is the
        ODS file's bytes."""
        fn = "generate_pos_report"
        from posguard.reports.errors import UnknownReportType
        from posguard.reports.types import ReportType, parse_report_type

        if not isinstance(report_type, str | ReportType):
            raise ScriptApiError(f"{fn}(): report_type must be a ReportType, not "
                                 f"{type(report_type).__name__} {report_type!r:.60}")
        try:
            rtype = parse_report_type(report_type)
        except UnknownReportType as e:
            raise ScriptApiError(f"{fn}(): {e}") from None
        a, b = _check_range(fn, t0, t1)
        cb = _check_callable(fn, "callback", callback)
        from posguard.reports.build import generate_report
        from posguard.reports.timezone import report_timezone

        # No store argument: all stores, in the terminals' one timezone when they share it,
        # else the scripts' configured timezone (or UTC).
        zones = self._services.zones
        chosen = report_timezone([("", tz) for tz in zones.terminals.values()] if zones else (),
                                 default=self._services.clock.tz or "UTC")
        data = generate_report(self._backend(fn), rtype, a, b, tz=chosen.tz,
                               tz_note=chosen.note)
        self._script.call_safely(cb, ReportResult(bytes(data), rtype.name, a, b), where=fn)

    # -- helpers -------------------------------------------------------------------------
    def _backend(self, fn: str) -> Any:
        if self._services.backend is None:
            raise ScriptingError(f"{fn}(): this script host has no store")
        return self._services.backend

    def _detectors(self, fn: str) -> Any:
        if self._services.detectors is None:
            raise ScriptingError(f"{fn}(): this script host has no detector configuration")
        return self._services.detectors

    def _outbox(self, fn: str) -> Any:
        if self._services.outbox is None:
            raise ScriptingError(f"{fn}(): this script host has no incident producer")
        return self._services.outbox

    def _last_event_of(self, terminal: str) -> PosEvent | None:
        if self._services.backend is None:
            return None
        from posguard.store.search import search_events

        found = search_events(self._services.backend, 0, _FAR_FUTURE_US,
                              EventFilter(terminals=(terminal,)), limit=1, newest_first=True)
        return found[0] if found else None

    def functions(self) -> dict[str, Callable[..., Any]]:
        """name -> bound function, for the script's globals and its `host` module."""
        return {n: getattr(self, n) for n in API_NAMES}
