"""Incident reads and review writes: the Table 14 filter as parameterised SQL, versions, audit.

Incidents are versioned rows (ReplacingMergeTree(version)): a review inserts the whole incident
again with a higher version, and reads use FINAL so each id yields its newest version. Every
change also gets an incident_history row (who, when, what).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgspec

from posguard.model.events import PosEvent
from posguard.model.incident_filters import IncidentFilter, IncidentFlag, statuses_of
from posguard.model.incidents import Incident
from posguard.store.backends.base import Backend
from posguard.store.params import Params
from posguard.store.schema import EVENT_COLUMNS, INCIDENT_COLUMNS
from posguard.store.writer import insert_incidents

__all__ = [
    "HistoryRow", "search_incidents", "count_incidents", "get_incident", "write_version",
    "incident_history", "receipt_events", "incidents_since",
]

_SELECT = ", ".join(INCIDENT_COLUMNS)
_EVENT_SELECT = ", ".join(EVENT_COLUMNS[:-3])
_HISTORY_COLUMNS = ("id", "version", "ts", "user", "action", "status", "expert_estimate",
                    "comment")


class HistoryRow(msgspec.Struct, frozen=True, kw_only=True):
    """One change of an incident: who did what, when, and the values it left."""

    id: str
    version: int
    ts: int
    user: str
    action: str
    status: int
    expert_estimate: int
    comment: str


def _where(f: IncidentFilter, t0: int | None, t1: int | None, p: Params) -> str:
    conds = ["1"]
    if t0 is not None:
        conds.append(f"ts_created >= {p.add(t0, 'Int64')}")
    if t1 is not None:
        conds.append(f"ts_created <= {p.add(t1, 'Int64')}")
    if f.cashiers:
        conds.append(p.any_of("cashier_name", f.cashiers))
    if f.terminals:
        conds.append(p.any_of("terminal_guid", f.terminals))
    if f.experts:
        conds.append(p.any_of("expert", f.experts))
    if f.detectors_names:
        names = p.strings(f.detectors_names)
        conds.append(f"(detector IN {names} OR type_name IN {names})")
    if f.incidents_ids:
        ids = p.strings(f.incidents_ids)
        conds.append(f"(id IN {ids} OR type_id IN {ids})")
    statuses = statuses_of(f.flags)
    if statuses:
        conds.append(f"status IN {p.add([int(s) for s in statuses], 'Array(UInt8)')}")
    if f.flags & IncidentFlag.FILTER_NONEMPTY_ESTIMATE:
        conds.append("expert_estimate != 0")
    return " AND ".join(conds)


def _to_incident(row: Sequence[Any]) -> tuple[Incident, int]:
    d = dict(zip(INCIDENT_COLUMNS, row, strict=True))
    version = int(d.pop("version"))
    return Incident(**d), version


def search_incidents(backend: Backend, f: IncidentFilter, t0: int | None = None,
                     t1: int | None = None, offset: int = 0) -> list[tuple[Incident, int]]:
    """Incidents created in [t0, t1] (microseconds; None = open) matching `f`, newest first.

    Returns:
        (incident, version) pairs, at most `f.limit` of them (-1 = all).
    """
    p = Params()
    sql = (f"SELECT {_SELECT} FROM {backend.database}.incidents FINAL "
           f"WHERE {_where(f, t0, t1, p)} ORDER BY ts_created DESC, id")
    if f.limit >= 0:
        sql += f" LIMIT {p.add(f.limit, 'UInt64')}"
    if offset:
        sql += f" OFFSET {p.add(int(offset), 'UInt64')}"
    return [_to_incident(r) for r in backend.query(sql, p.values).rows]


def count_incidents(backend: Backend, f: IncidentFilter, t0: int | None = None,
                    t1: int | None = None) -> int:
    """How many incidents match (ignoring `f.limit`)."""
    p = Params()
    sql = (f"SELECT count() FROM {backend.database}.incidents FINAL "
           f"WHERE {_where(f, t0, t1, p)}")
    return int(backend.query(sql, p.values).scalar() or 0)


def get_incident(backend: Backend, incident_id: str) -> tuple[Incident, int] | None:
    """The newest version of one incident and its version number, or None."""
    rows = backend.query(
        f"SELECT {_SELECT} FROM {backend.database}.incidents FINAL WHERE id = {{id:String}}",
        {"id": incident_id}).rows
    return _to_incident(rows[0]) if rows else None


def write_version(backend: Backend, incident: Incident, version: int, user: str, action: str,
                  ts: int) -> HistoryRow:
    """Store `incident` as `version` and its audit row; returns the audit row.

    The incident row goes first: an audit row never describes a change that was not stored.
    """
    insert_incidents(backend, [incident], version=version,
                     dedup_token=f"incident:{incident.id}:{version}")
    h = HistoryRow(id=incident.id, version=version, ts=ts, user=user, action=action,
                   status=int(incident.status), expert_estimate=incident.expert_estimate,
                   comment=incident.comment)
    backend.insert(f"{backend.database}.incident_history", _HISTORY_COLUMNS,
                   [[getattr(h, c)] for c in _HISTORY_COLUMNS],
                   dedup_token=f"history:{incident.id}:{version}")
    return h


def incident_history(backend: Backend, incident_id: str) -> list[HistoryRow]:
    """Every recorded change of an incident, oldest first."""
    rows = backend.query(
        f"SELECT {', '.join(_HISTORY_COLUMNS)} FROM {backend.database}.incident_history FINAL "
        "WHERE id = {id:String} ORDER BY version", {"id": incident_id}).rows
    return [HistoryRow(**dict(zip(_HISTORY_COLUMNS, r, strict=True))) for r in rows]


def receipt_events(backend: Backend, terminal: str, op_id: str, around: int,
                   window: int = 12 * 3600 * 1_000_000, limit: int = 5000) -> list[PosEvent]:
    """The events of receipt `op_id` on `terminal`, received within `window` of `around`.

    Receipt numbers repeat over time on some terminals, so the search is bounded in time
    around the incident (which also lets ClickHouse skip the hour buckets outside it).
    """
    sql = (f"SELECT {_EVENT_SELECT} FROM {backend.database}.events FINAL "
           "WHERE ts_received >= {t0:Int64} AND ts_received <= {t1:Int64} "
           "AND pos_terminal = {term:String} AND op_id = {op:String} "
           "ORDER BY ts_in_receipt, ts_received, event_id LIMIT {lim:UInt64}")
    rows = backend.query(sql, {"t0": around - window, "t1": around + window, "term": terminal,
                               "op": op_id, "lim": limit}).rows
    return [PosEvent(**dict(zip(EVENT_COLUMNS, r, strict=False))) for r in rows]


def incidents_since(backend: Backend, since: int, stores: tuple[str, ...] = (),
                    limit: int = 1000) -> list[tuple[Incident, int]]:
    """Incidents created at or after `since` (microseconds), oldest first: the live view."""
    p = Params()
    conds = [f"ts_created >= {p.add(since, 'Int64')}"]
    if stores:
        conds.append(p.any_of("store", stores))
    sql = (f"SELECT {_SELECT} FROM {backend.database}.incidents FINAL "
           f"WHERE {' AND '.join(conds)} ORDER BY ts_created, id LIMIT {p.add(limit, 'UInt64')}")
    return [_to_incident(r) for r in backend.query(sql, p.values).rows]
