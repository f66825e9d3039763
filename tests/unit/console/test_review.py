"""Incident review as a pure function, and the login limiter with an injected clock."""

from __future__ import annotations

import pytest

from posguard.console.review import (
    MAX_REVIEW_SPAN,
    Decision,
    ReviewError,
    action_name,
    apply_review,
)
from posguard.console.sessions import LoginLimiter
from posguard.model.incidents import Incident, IncidentStatus

NEW = Incident(id="i", detector="D", type_name="T", terminal_guid="T1", ts_created=1)


def test_confirm_sets_expert_time_and_duration() -> None:
    i = apply_review(NEW, Decision(IncidentStatus.CONFIRMED, 500, "ok", started=1_000), "ann",
                     4_000)
    assert (i.status, i.expert, i.expert_estimate, i.comment) == (1, "ann", 500, "ok")
    assert (i.review_ts, i.review_duration) == (4_000, 3_000)
    assert action_name(NEW, i) == "confirm"


def test_reject_keeps_unsent_fields_and_adds_time() -> None:
    a = apply_review(NEW, Decision(IncidentStatus.CONFIRMED, 500, "ok", started=0), "ann", 10)
    b = apply_review(a, Decision(IncidentStatus.REJECTED, started=20), "bob", 25)
    assert (b.status, b.expert, b.expert_estimate, b.comment) == (2, "bob", 500, "ok")
    assert b.review_duration == 15 and action_name(a, b) == "reject"


def test_reopen_clears_expert_and_review_time_only() -> None:
    a = apply_review(NEW, Decision(IncidentStatus.CONFIRMED, 500, "ok", started=0), "ann", 10)
    b = apply_review(a, Decision(IncidentStatus.NEW), "bob", 50)
    assert (b.status, b.expert, b.review_ts) == (0, "", 0)
    assert (b.expert_estimate, b.comment, b.review_duration) == (500, "ok", 10)
    assert action_name(a, b) == "reopen"
    c = apply_review(b, Decision(comment="note"), "bob", 60)
    assert action_name(b, c) == "update" and c.status == 0 and c.comment == "note"


def test_review_start_is_clamped() -> None:
    now = 10 * MAX_REVIEW_SPAN
    assert apply_review(NEW, Decision(IncidentStatus.REJECTED, started=0), "a",
                        now).review_duration == MAX_REVIEW_SPAN
    assert apply_review(NEW, Decision(IncidentStatus.REJECTED, started=now + 99), "a",
                        now).review_duration == 0
    assert apply_review(NEW, Decision(IncidentStatus.REJECTED), "a", now).review_duration == 0


def test_bad_decisions() -> None:
    with pytest.raises(ReviewError):
        apply_review(NEW, Decision(expert_estimate=-1), "a", 1)
    with pytest.raises(ReviewError):
        apply_review(NEW, Decision(comment="x" * 4001), "a", 1)


def test_limiter_window_slides() -> None:
    now = [1000.0]
    lim = LoginLimiter(per_user=2, per_address=3, window=60, clock=lambda: now[0])
    lim.failed("Ann", "1.2.3.4")
    assert lim.retry_after("ann", "1.2.3.4") == 0
    now[0] += 10
    lim.failed("ann", "1.2.3.4")
    assert lim.retry_after("ann", "1.2.3.4") == pytest.approx(50)  # the first one ages out
    assert lim.retry_after("ann", "5.6.7.8") == 0  # another address
    lim.failed("bob", "1.2.3.4")
    assert lim.retry_after("carl", "1.2.3.4") == pytest.approx(50)  # the address is blocked
    now[0] += 51
    assert lim.retry_after("ann", "1.2.3.4") == 0
    lim.failed("ann", "9.9.9.9")
    lim.succeeded("ann", "9.9.9.9")
    assert lim.retry_after("ann", "9.9.9.9") == 0
