"""The operator console in headless Chromium (Debian's /usr/bin/chromium driven by
playwright-python; no browser download): log in, watch a receipt arrive live, review an
incident and see the status survive a reload, search with a range filter and export CSV,
download a report and see its charts, see a script notification as a toast.

Screenshots of each page go to tests/artifacts/console/ (git-ignored).
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from argon2 import PasswordHasher

from posguard.console.api import ApiServer, create_api
from posguard.console.routes.notifications import notify
from posguard.console.settings import Settings
from posguard.console.state import NodeState
from posguard.console.web_setup import install_console
from posguard.model.events import PosEvent
from posguard.model.incidents import Incident
from posguard.model.receipts import Receipt
from posguard.store.incidents import get_incident
from posguard.store.writer import insert_events, insert_incidents, insert_receipts

pytestmark = [pytest.mark.browser, pytest.mark.integration]

CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run"]
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts" / "console"
PASSWORD = "operator password 1"
WAIT_MS = 15_000  # upper bound for a page to show data; nothing here is timed


def _chromium_missing() -> str | None:
    if not Path(CHROMIUM).exists():
        return f"{CHROMIUM} missing: apt-get install -y chromium"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError as e:  # pragma: no cover
        return f"playwright-python missing ({e})"
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def console(store: Any) -> Iterator[tuple[str, NodeState]]:
    reason = _chromium_missing()
    if reason:
        print(f"SKIP browser tests: {reason}")
        pytest.skip(reason)
    state = NodeState(settings=Settings(), backend=store, api_token="browser-test-token")
    c = install_console(state, hasher=PasswordHasher(time_cost=1, memory_cost=8, parallelism=1),
                        announce=lambda _: None)
    c.users.create("olga", "operator", PASSWORD)
    port = _free_port()
    server = ApiServer(create_api(state), "127.0.0.1", port)
    server.start()
    deadline = time.monotonic() + 10
    while not server.server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}", state
    server.stop()


@pytest.fixture
def page(console: tuple[str, NodeState]) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        ctx = browser.new_context(accept_downloads=True, viewport={"width": 1400, "height": 900})
        pg = ctx.new_page()
        pg.set_default_timeout(WAIT_MS)
        errors: list[str] = []
        pg.on("pageerror", lambda e: errors.append(str(e)))
        yield pg
        ctx.close()
        browser.close()
        assert errors == [], f"JavaScript errors: {errors}"


def login(page: Any, base: str, user: str = "olga", password: str = PASSWORD) -> None:
    page.goto(base + "/incidents")
    page.wait_for_url("**/login?next=*")
    page.fill("#username", user)
    page.fill("#password", password)
    page.screenshot(path=str(ARTIFACTS / "login.png"))
    page.click("#login-submit")
    page.wait_for_url("**/incidents")


def now_us() -> int:
    return int(time.time() * 1_000_000)


def ev(t: str, term: str, op: str, ts: int, i: int, **kw: Any) -> PosEvent:
    return PosEvent(type=t, pos_terminal=term, pos_terminal_name=f"Till {term}", op_id=op,
                    ts_in_receipt=ts, ts_received=ts, event_id=f"{term}-{op}-{i}", store="S1",
                    associated_channel="cam-7", cashier_name="Ivanov I", **kw)


def test_login_wrong_password_then_right(console: tuple[str, NodeState], page: Any) -> None:
    base, _ = console
    page.goto(base + "/login")
    page.fill("#username", "olga")
    page.fill("#password", "not the password")
    page.click("#login-submit")
    page.wait_for_selector("#login-error:has-text('wrong username or password')")
    login(page, base)
    assert page.inner_text(".who").startswith("olga")


def test_receipt_appears_live_with_incident_lines_marked(console: tuple[str, NodeState],
                                                         page: Any) -> None:
    base, state = console
    login(page, base)
    page.goto(base + "/live")
    page.wait_for_selector("#live-status:has-text('live')")
    t = now_us()
    evs = [ev("POS_RECEIPT_OPEN", "TL1", "501", t, 0),
           ev("POS_POSITION_ADD", "TL1", "501", t + 1, 1, position=1, price=8990,
              text="Milk 3.2%"),
           ev("POS_POSITION_ADD", "TL1", "501", t + 2, 2, position=2, price=45000,
              text="Cognac"),
           ev("POS_POSITION_DELETE", "TL1", "501", t + 3, 3, position=2, price=45000,
              text="Cognac")]
    insert_events(state.backend, evs)
    page.wait_for_selector("article[data-terminal='TL1'] >> text=Milk 3.2%")
    insert_incidents(state.backend, [Incident(
        id="live-inc", detector="DELNOADM", type_name="Delete without admin",
        terminal_guid="TL1", ts_created=t + 3, store="S1", op_id="501",
        related_events=["TL1-501-3"], related_ts=[t + 3])])
    page.wait_for_selector("article[data-terminal='TL1'] a.badge:has-text('Delete without')")
    marked = page.locator("article[data-terminal='TL1'] tr.trig")
    assert marked.count() == 1 and "Cognac" in marked.inner_text()
    page.screenshot(path=str(ARTIFACTS / "live.png"))


def test_review_persists_after_reload(console: tuple[str, NodeState], page: Any) -> None:
    base, state = console
    t = now_us() - 60_000_000
    insert_events(state.backend, [
        ev("POS_RECEIPT_OPEN", "TR1", "77", t, 0),
        ev("POS_POSITION_ADD", "TR1", "77", t + 1_000_000, 1, position=1, price=12000,
           text="Whisky"),
        ev("POS_POSITION_DELETE", "TR1", "77", t + 2_000_000, 2, position=1, price=12000,
           text="Whisky"),
        ev("POS_RECEIPT_CLOSE", "TR1", "77", t + 3_000_000, 3)])
    insert_incidents(state.backend, [Incident(
        id="rev-1", detector="DELNOADM", type_name="Delete without admin", terminal_guid="TR1",
        terminal_name="Till TR1", ts_created=t + 2_000_000, store="S1", op_id="77",
        cashier_name="Ivanov I", associated_channel="cam-7",
        related_events=["TR1-77-2"], related_ts=[t + 2_000_000])])
    login(page, base)
    page.wait_for_selector("#incident-table tr[data-id='rev-1']")
    page.screenshot(path=str(ARTIFACTS / "incidents.png"))
    page.click("#incident-table tr[data-id='rev-1'] a")
    page.wait_for_url("**/incidents/rev-1")
    page.wait_for_selector("#receipt-lines tr.trig")
    assert "Whisky" in page.inner_text("#receipt-lines tr.trig")
    assert "cam-7" in page.inner_text("#video-moment")
    page.check("input[name='status'][value='confirmed']")
    page.fill("#estimate", "120.00")
    page.fill("#comment", "seen on camera 7")
    page.screenshot(path=str(ARTIFACTS / "incident-review.png"))
    page.click("#review-submit")
    page.wait_for_selector("#history tbody tr:has-text('confirm')")
    page.reload()
    page.wait_for_selector("body[data-status='confirmed']")
    assert page.is_checked("input[name='status'][value='confirmed']")
    assert page.input_value("#estimate") == "120.00"
    assert page.input_value("#comment") == "seen on camera 7"
    stored, _ = get_incident(state.backend, "rev-1")  # type: ignore[misc]
    assert (stored.status, stored.expert, stored.expert_estimate) == (1, "olga", 12_000)
    page.screenshot(path=str(ARTIFACTS / "incident-reviewed.png"))


def test_search_with_a_range_filter_and_csv(console: tuple[str, NodeState], page: Any) -> None:
    base, state = console
    t = now_us() - 3_600_000_000
    insert_receipts(state.backend, [
        Receipt(receipt_id=f"rc{i}", pos_terminal="TS1", op_id=str(900 + i), ts_open=t + i,
                ts_close=t + i + 40_000_000, status="closed", store="S1",
                cashier_name="Petrova A", total=total, positions=i + 1,
                payment_types=["POS_PAYMENT_CARD"])
        for i, total in enumerate([5_000, 15_000, 150_000, 990_000])])
    login(page, base)
    page.goto(base + "/search")
    page.wait_for_selector("#search-count:has-text('4 receipt')")
    page.fill("input[name='total_min']", "100")  # roubles; no upper bound
    page.click("#search-submit")
    page.wait_for_selector("#search-count:has-text('3 receipt')")
    page.fill("input[name='total_max']", "2000")
    page.click("#search-submit")
    page.wait_for_selector("#search-count:has-text('2 receipt')")
    totals = page.locator("#search-results td.total").all_inner_texts()
    assert sorted(totals) == ["150.00", "1500.00"]
    page.screenshot(path=str(ARTIFACTS / "search.png"))
    with page.expect_download() as dl:
        page.click("#csv-link")
    text = Path(dl.value.path()).read_text(encoding="utf-8")
    assert text.count("\n") == 3 and "1500.00" in text and "50.00" not in text.split("\n")[1:][0]


def test_reports_page_downloads_a_report(console: tuple[str, NodeState], page: Any) -> None:
    base, _ = console
    login(page, base)
    page.goto(base + "/reports")
    page.wait_for_function("document.querySelectorAll('#report-type option').length > 0")
    # the charts follow the chosen days and load (same-origin SVG, allowed by the CSP)
    # (polled from here: wait_for_function re-evaluates with eval, which the CSP refuses)
    loaded = ("Array.from(document.querySelectorAll('#charts img')).filter((i) => "
              "i.src.includes('from=') && i.complete && i.naturalWidth > 0).length")
    deadline = time.monotonic() + WAIT_MS / 1000
    while page.evaluate(loaded) < 4 and time.monotonic() < deadline:
        page.wait_for_timeout(100)
    assert page.evaluate(loaded) == 4
    page.screenshot(path=str(ARTIFACTS / "reports.png"), full_page=True)
    with page.expect_download() as dl:
        page.click("#report-link")
    data = Path(dl.value.path()).read_bytes()
    assert data[:2] == b"PK"  # an ODS file is a zip


def test_script_notification_shows_as_a_toast(console: tuple[str, NodeState],
                                              page: Any) -> None:
    base, state = console
    login(page, base)
    page.goto(base + "/live")
    page.wait_for_selector("#live-status:has-text('live')")
    page.wait_for_timeout(500)  # let the notification stream connect (it starts at "now")
    notify(state, "alert", "Alcohol after 11pm on TL1", "night.py")
    page.wait_for_selector("#toasts .toast.alert:has-text('Alcohol after 11pm')")
    page.screenshot(path=str(ARTIFACTS / "toast.png"))


def test_logout(console: tuple[str, NodeState], page: Any) -> None:
    base, _ = console
    login(page, base)
    page.click("#logout")
    page.wait_for_url("**/login")
    page.goto(base + "/incidents")
    page.wait_for_url("**/login?next=*")
