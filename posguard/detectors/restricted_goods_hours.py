"""Rule 8: restricted goods (by word or article) sold inside a local-time window.

The window is in the store's local time (the terminal's zone from the engine, or `timezone`)
and may wrap midnight: start 23:00, end 08:00 means 23:00-07:59. Words match the position's
text case-insensitively anywhere in it; articles match the article or barcode exactly.
Positions of return receipts are not sales and are ignored.

Parameters (`RestrictedGoodsHoursParams`), defaults in brackets:
    words: words that mark restricted goods [BEER, WINE, VODKA, COGNAC, WHISKY, and the
        Russian ПИВО, ВИНО, ВОДКА, КОНЬЯК].
    articles: articles or barcodes of restricted goods [()].
    start: first minute of the forbidden window, "HH:MM" ["23:00"].
    end: first minute after the window, "HH:MM" ["08:00"].
    timezone: IANA zone; "" = the terminal's zone [""].

Example:
    >>> from posguard.detectors.testing import receipt, run_detector
    >>> late = 1_800_000_000_000_000 - 1_800_000_000_000_000 % 86_400_000_000 + 23 * 3_600_000_000
    >>> evs = receipt("T1", at=late).item("Beer Zhigulevskoe 0.5", 89_90).close().events()
    >>> len(run_detector(RestrictedGoodsHours("PGD00008"), evs))
    1
"""

from __future__ import annotations

from collections.abc import Sequence

from posguard.detectors.base import NO_INCIDENTS, Detector, NoState, Params, cashier_of
from posguard.detectors.localtime import MINUTE, check_zone, local_minute_of_day, parse_hhmm
from posguard.model.errors import TimeArgumentError
from posguard.model.event_types import POSITION_TYPES
from posguard.model.events import PosEvent
from posguard.model.incidents import Incident
from posguard.model.receipts import TerminalState

__all__ = ["RestrictedGoodsHours", "RestrictedGoodsHoursParams"]

_BUCKET = 15 * MINUTE
_WORDS = ("BEER", "WINE", "VODKA", "COGNAC", "WHISKY", "ПИВО", "ВИНО", "ВОДКА", "КОНЬЯК")


class RestrictedGoodsHoursParams(Params, frozen=True):
    """Parameters of RestrictedGoodsHours (see the module docstring)."""

    words: tuple[str, ...] = _WORDS
    articles: tuple[str, ...] = ()
    start: str = "23:00"
    end: str = "08:00"
    timezone: str = ""

    def __post_init__(self) -> None:
        try:
            start, end = parse_hhmm(self.start), parse_hhmm(self.end)
        except TimeArgumentError as e:
            raise ValueError(f"start/end: {e}") from None
        if start == end:
            raise ValueError("start/end: the window is empty (start == end)")
        if any(not w.strip() for w in self.words):
            raise ValueError("words: empty word")
        if self.timezone:
            check_zone(self.timezone, "timezone")


class RestrictedGoodsHours(Detector[RestrictedGoodsHoursParams, NoState]):
    """Raises an incident for each restricted position sold inside the forbidden hours."""

    type_name = "restricted_goods_hours"
    title = "Restricted goods out of hours"
    summary = "Restricted goods (e.g. alcohol) sold during forbidden local hours."
    params_type = RestrictedGoodsHoursParams

    def setup(self) -> None:
        """Window in minutes and folded words."""
        p = self.params
        self._start = parse_hhmm(p.start)
        self._end = parse_hhmm(p.end)
        self._words = tuple(w.casefold() for w in p.words)
        self._articles = frozenset(p.articles)
        # terminal -> (from_ts, until_ts, inside): whether the window is on stays the same
        # until the next start/end minute or the end of the 15-minute UTC-offset bucket. A
        # cache of a pure function of (params, zones, terminal, ts), not state.
        self._memo: dict[str, tuple[int, int, bool]] = {}

    def _inside(self, terminal: str, ts: int) -> bool:
        tz = self.params.timezone or self.zones.of(terminal)
        m = local_minute_of_day(ts, tz)
        s, e = self._start, self._end
        inside = s <= m < e if s < e else (m >= s or m < e)
        to_next = min((s - m) % 1440 or 1440, (e - m) % 1440 or 1440)
        start = ts - ts % MINUTE
        until = min(start + to_next * MINUTE, (ts // _BUCKET + 1) * _BUCKET)
        if len(self._memo) > 100_000:
            self._memo.clear()
        self._memo[terminal] = (start, until, inside)
        return inside

    def event_types(self) -> frozenset[str]:
        """Sold positions."""
        return POSITION_TYPES

    def _restricted(self, ev: PosEvent) -> str:
        if self._articles and (ev.article in self._articles or ev.barcode in self._articles):
            return ev.article or ev.barcode
        if self._words:
            text = ev.text.casefold()
            for w in self._words:
                if w in text:
                    return w
        return ""

    def step(
        self, state: NoState, ev: PosEvent, ctx: TerminalState | None
    ) -> tuple[NoState, Sequence[Incident]]:
        """Fire when a restricted position is sold inside the window."""
        ts = ev.ts_in_receipt
        hit = self._memo.get(ev.pos_terminal)
        if hit is not None and hit[0] <= ts < hit[1]:
            if not hit[2]:
                return state, NO_INCIDENTS  # the hot path: outside the forbidden hours
        elif not self._inside(ev.pos_terminal, ts):
            return state, NO_INCIDENTS
        r = ctx.receipt if ctx is not None else None
        if r is not None and r.kind == "return" and (not ev.op_id or ev.op_id == r.op_id):
            return state, NO_INCIDENTS
        what = self._restricted(ev)
        if not what:
            return state, NO_INCIDENTS
        m = local_minute_of_day(ts, self.params.timezone or self.zones.of(ev.pos_terminal))
        return state, [
            self.incident(
                ev,
                cashier=cashier_of(ev, ctx),
                details=f"{ev.text or what} sold at {m // 60:02d}:{m % 60:02d} local time "
                f"(forbidden {self.params.start}-{self.params.end})",
                columns={"matched": what, "local_time": f"{m // 60:02d}:{m % 60:02d}"},
            )
        ]
