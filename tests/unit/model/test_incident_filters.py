"""The Table 14 incident filter as a value: keys, types, flags."""

from __future__ import annotations

import pytest

from posguard.model.incident_filters import (
    IncidentFilter,
    IncidentFlag,
    incident_filter_from_dict,
    statuses_of,
)
from posguard.model.incidents import IncidentStatus


def test_flag_values_match_pos_utils() -> None:
    assert [int(f) for f in IncidentFlag] == [1, 2, 4, 8]
    assert [f.name for f in IncidentFlag] == [
        "FILTER_CONFIRMED", "FILTER_DECLINED", "FILTER_NEW", "FILTER_NONEMPTY_ESTIMATE"]


def test_status_flags_or_together() -> None:
    assert statuses_of(0) == ()
    assert statuses_of(IncidentFlag.FILTER_NONEMPTY_ESTIMATE) == ()
    assert statuses_of(IncidentFlag.FILTER_CONFIRMED | IncidentFlag.FILTER_DECLINED) == (
        IncidentStatus.CONFIRMED, IncidentStatus.REJECTED)
    assert statuses_of(7) == (IncidentStatus.NEW, IncidentStatus.CONFIRMED,
                              IncidentStatus.REJECTED)


def test_reference_example_filter() -> None:
    f = incident_filter_from_dict({
        "flags": IncidentFlag.FILTER_CONFIRMED | IncidentFlag.FILTER_NONEMPTY_ESTIMATE,
        "limit": 20})
    assert f == IncidentFilter(flags=9, limit=20)


def test_strings_lists_and_bytes() -> None:
    f = incident_filter_from_dict({"cashiers": "Ivanov I", "terminals": (b"T1", "T2"),
                                   "detectors_names": ["D1"], "experts": [],
                                   "incidents_ids": None})
    assert f.cashiers == ("Ivanov I",) and f.terminals == ("T1", "T2")
    assert f.detectors_names == ("D1",) and f.experts == () and f.incidents_ids == ()
    assert f.limit == -1 and f.flags == 0


@pytest.mark.parametrize("bad", [
    {"cashier": ["x"]}, {"flags": 16}, {"flags": -1}, {"limit": -2}, {"flags": "1"},
    {"limit": True}, {"terminals": [1]}, {"experts": 5},
])
def test_bad_filters_are_refused(bad: dict[str, object]) -> None:
    with pytest.raises((KeyError, TypeError, ValueError)):
        incident_filter_from_dict(bad)  # type: ignore[arg-type]
