"""Incident review as a pure function: the old incident and a decision in, the new one out.

Lifecycle: new → confirmed or rejected, and back (confirmed ↔ rejected, either → new). The
reviewing user becomes the expert; review_ts is when the review ended; review_duration adds up
the time spent over every review of the incident (start = when the reviewer opened it, as the
server told the page). Reopening (back to new) clears expert and review_ts (the incident is
unreviewed again) but keeps the estimate, the comment and the time already spent; the audit
rows keep every earlier value.
"""

from __future__ import annotations

from dataclasses import dataclass

import msgspec

from posguard.console.errors import ConsoleError
from posguard.model.incidents import Incident, IncidentStatus

__all__ = ["ReviewError", "Decision", "apply_review", "action_name", "MAX_COMMENT",
           "MAX_REVIEW_SPAN"]

MAX_COMMENT = 4000
# A review start older than this is treated as stale (a tab left open overnight).
MAX_REVIEW_SPAN = 24 * 3600 * 1_000_000


class ReviewError(ConsoleError):
    """A review that cannot be applied (bad estimate, comment too long)."""


@dataclass(frozen=True)
class Decision:
    """What the reviewer submits; None = leave that field as it is."""

    status: IncidentStatus | None = None
    expert_estimate: int | None = None
    comment: str | None = None
    started: int | None = None  # microseconds: when the reviewer opened the incident


def action_name(old: Incident, new: Incident) -> str:
    """The audit verb of a change: confirm, reject, reopen or update."""
    if new.status != old.status:
        return {IncidentStatus.CONFIRMED: "confirm", IncidentStatus.REJECTED: "reject",
                IncidentStatus.NEW: "reopen"}[IncidentStatus(new.status)]
    return "update"


def apply_review(old: Incident, d: Decision, user: str, now: int) -> Incident:
    """The incident after `user` submits decision `d` at `now` (microseconds).

    Example:
        >>> i = Incident(id="x", detector="D", type_name="T", terminal_guid="T1", ts_created=1)
        >>> j = apply_review(i, Decision(IncidentStatus.CONFIRMED, 500, "seen", started=100),
        ...                  "ann", 400)
        >>> j.status, j.expert, j.expert_estimate, j.review_ts, j.review_duration
        (1, 'ann', 500, 400, 300)
    """
    if d.expert_estimate is not None and d.expert_estimate < 0:
        raise ReviewError("expert_estimate must not be negative")
    if d.comment is not None and len(d.comment) > MAX_COMMENT:
        raise ReviewError(f"comment longer than {MAX_COMMENT} characters")
    status = IncidentStatus(old.status if d.status is None else d.status)
    estimate = old.expert_estimate if d.expert_estimate is None else d.expert_estimate
    comment = old.comment if d.comment is None else d.comment
    if status == IncidentStatus.NEW:
        return msgspec.structs.replace(old, status=int(status), expert="", review_ts=0,
                                       expert_estimate=estimate, comment=comment)
    started = now if d.started is None else min(max(d.started, now - MAX_REVIEW_SPAN), now)
    return msgspec.structs.replace(
        old, status=int(status), expert=user, expert_estimate=estimate, comment=comment,
        review_ts=now, review_duration=old.review_duration + (now - started))
