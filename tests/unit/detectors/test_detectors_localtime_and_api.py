"""Local time helpers against zoneinfo, the builder, and the package's public names."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

import posguard.detectors as detectors
from posguard.detectors.localtime import (
    Zones,
    check_zone,
    format_day,
    local_day,
    local_minute_of_day,
    parse_hhmm,
    utc_offset,
    zones_from,
)
from posguard.detectors.testing import CRASH, Crash, pos_event, receipt
from posguard.model.errors import TimeArgumentError
from posguard.model.times import datetime_to_micros, zone


@pytest.mark.parametrize("tz", ["Europe/Moscow", "Europe/Berlin", "America/New_York",
                                "Australia/Lord_Howe", "Asia/Kathmandu", "UTC"])
def test_offsets_match_zoneinfo_across_a_year_and_its_transitions(tz: str) -> None:
    t = datetime(2026, 1, 1, tzinfo=UTC)
    while t.year == 2026:
        ts = datetime_to_micros(t)
        local = t.astimezone(zone(tz))
        assert utc_offset(tz, ts) == int(local.utcoffset().total_seconds()) * 1_000_000
        assert local_minute_of_day(ts, tz) == local.hour * 60 + local.minute
        assert format_day(local_day(ts, tz)) == local.date().isoformat()
        t += timedelta(minutes=97)


def test_offsets_exact_around_a_dst_change() -> None:
    # Berlin, 2026-03-29 01:00 UTC: 02:00 CET becomes 03:00 CEST.
    edge = datetime_to_micros(datetime(2026, 3, 29, 1, 0, tzinfo=UTC))
    assert local_minute_of_day(edge - 1, "Europe/Berlin") == 60 + 59  # 01:59 CET
    assert local_minute_of_day(edge, "Europe/Berlin") == 3 * 60


def test_hhmm_and_zone_checks() -> None:
    assert parse_hhmm("00:00") == 0 and parse_hhmm("23:59") == 1439
    for bad in ("24:00", "7:00", "12:60", "noon", ""):
        with pytest.raises(TimeArgumentError):
            parse_hhmm(bad)
    with pytest.raises(TimeArgumentError):
        check_zone("Nowhere/Land")
    with pytest.raises(ValueError, match="timezone"):
        check_zone("Nowhere/Land", "timezone")
    with pytest.raises(TimeArgumentError):
        zones_from({"T1": "Nowhere/Land"})
    assert zones_from({"T1": "Europe/Moscow"}, "Asia/Tokyo") == Zones(
        terminals={"T1": "Europe/Moscow"}, default="Asia/Tokyo")


def test_builder_times_ids_and_totals() -> None:
    b = receipt("T1", op_id="5", step_s=2).item("a", 100).item("b", 250).delete(1)
    evs = b.close().events()
    assert [e.ts_in_receipt - evs[0].ts_in_receipt for e in evs] == [0, 2_000_000, 4_000_000,
                                                                     6_000_000, 8_000_000]
    assert len({e.event_id for e in evs}) == len(evs)
    assert evs[-1].price == 250 and evs[3].price == 100
    assert all(e.ts_received > e.ts_in_receipt for e in evs)
    assert receipt("T1", kind="return").close().events()[-1].type == "POS_RECEIPT_RETURN_CLOSE"
    assert pos_event("T2", "POS_DRAWER_OPEN", at=7).ts_in_receipt == 7
    assert Crash() is CRASH and repr(CRASH) == "CRASH"


def test_public_names_are_pinned() -> None:
    assert sorted(detectors.__all__) == sorted([
        "Detector", "DetectorState", "IncidentType", "Params", "Scope", "DetectorConfig",
        "DetectorSpec", "config_from_bytes", "config_to_bytes", "default_config",
        "export_config", "parse_config", "DetectorEngine", "ScopeState", "archive_order", "OrderBuffer",
        "decode_state", "encode_state", "run_archive", "run_scope", "ConfigError",
        "DetectorError", "StateError", "Zones", "STANDARD_DETECTORS",
    ])
    for name in detectors.__all__:
        assert getattr(detectors, name) is not None


def test_every_detector_documents_parameters_defaults_and_an_example() -> None:
    import importlib

    for cls in detectors.STANDARD_DETECTORS.values():
        doc = importlib.import_module(cls.__module__).__doc__ or ""
        assert "Example:" in doc and "defaults in brackets" in doc, cls.__module__
        for field in cls.params_type.__struct_fields__:
            assert f"{field}:" in doc, f"{cls.__module__} does not document {field}"
