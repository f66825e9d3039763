"""report_timezone: which timezone a report is shown in, from the terminal registry."""

from __future__ import annotations

from posguard.reports import ReportZone, report_timezone

REGISTRY = [("S1", "Europe/Moscow"), ("S1", "Europe/Moscow"), ("S2", "Asia/Yekaterinburg"),
            ("S3", "Europe/Moscow"), ("S3", "Asia/Omsk")]


def test_store_with_one_zone_gets_it() -> None:
    chosen = report_timezone(REGISTRY, "S1")
    assert chosen.tz == "Europe/Moscow"
    assert chosen.note == "the timezone of store S1's terminals"
    assert report_timezone(REGISTRY, "S2").tz == "Asia/Yekaterinburg"


def test_unknown_store_keeps_utc_and_says_so() -> None:
    assert report_timezone(REGISTRY, "S9") == ReportZone(
        "UTC", "UTC: store S9 has no terminals in the terminal registry")
    assert report_timezone([], "S1").tz == "UTC"


def test_store_whose_terminals_disagree_keeps_utc_and_names_the_zones() -> None:
    assert report_timezone(REGISTRY, "S3") == ReportZone(
        "UTC", "UTC: store S3's terminals are in different timezones (Asia/Omsk, Europe/Moscow)")


def test_fallback_is_the_configured_default() -> None:
    assert report_timezone(REGISTRY, "S9", default="Europe/Samara").tz == "Europe/Samara"
    assert report_timezone(REGISTRY, default="Europe/Samara").tz == "Europe/Samara"


def test_explicit_timezone_wins() -> None:
    assert report_timezone(REGISTRY, "S1", explicit="UTC") == ReportZone("UTC")
    assert report_timezone(REGISTRY, "S3", explicit="Asia/Omsk") == ReportZone("Asia/Omsk")
    assert report_timezone(REGISTRY, explicit="Europe/Kaliningrad").tz == "Europe/Kaliningrad"


def test_chain_wide_single_zone_is_used() -> None:
    registry = [("S1", "Europe/Moscow"), ("S2", "Europe/Moscow"), ("", "Europe/Moscow")]
    for store in (None, ""):
        assert report_timezone(registry, store) == ReportZone(
            "Europe/Moscow", "the timezone of every registered terminal")


def test_chain_wide_several_zones_or_none_keeps_the_default() -> None:
    chosen = report_timezone(REGISTRY)
    assert chosen.tz == "UTC"
    assert chosen.note == ("UTC: the terminals are in different timezones "
                           "(Asia/Omsk, Asia/Yekaterinburg, Europe/Moscow)")
    assert report_timezone([]) == ReportZone("UTC")  # no registry: nothing to say


def test_empty_zone_counts_as_utc_and_long_lists_are_cut() -> None:
    assert report_timezone([("S1", ""), ("S1", "UTC")], "S1").tz == "UTC"
    assert report_timezone([("S1", ""), ("S2", "Europe/Moscow")]).tz == "UTC"
    zones = [(f"S{i}", z) for i, z in enumerate(
        ["Asia/Omsk", "Asia/Tokyo", "Europe/Berlin", "Europe/Moscow", "Europe/Paris",
         "Europe/Samara", "UTC"])]
    assert report_timezone(zones).note.endswith(
        "(Asia/Omsk, Asia/Tokyo, Europe/Berlin, Europe/Moscow, Europe/Paris, and 2 more)")
