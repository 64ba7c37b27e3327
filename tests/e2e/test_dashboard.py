"""The dashboard in a real browser (headless chromium) against the local mode: what an operator sees and does.

Screenshots go to .artifacts/screenshots/ (TEST_ARTIFACTS changes where)."""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from stack import resources
from tests.e2e.conftest import ARTIFACTS, RunningLocalMode
from tests.support.events import RUNBOOK_TEST_USER_8, client_values, to_image

pytestmark = pytest.mark.e2e
HOSTILE = "<img src=x onerror=alert(1)>"


def api(local_mode: RunningLocalMode, method: str, path: str, body: Any = None) -> Any:
    request = urllib.request.Request(
        local_mode.api_url + path, method=method, data=None if body is None else json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {local_mode.token}", "Content-Type": "application/json"},
    )  # fmt: skip
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def wait_for(check: Any, timeout: float = 20) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if found := check():
            return found
        time.sleep(0.2)
    raise AssertionError("timed out")


@pytest.fixture
def page(browser: Any, local_mode: RunningLocalMode) -> Iterator[Any]:
    """A signed-in tab that records dialogs, page errors and policy violations, so a test can assert there were none."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    tab = context.new_page()
    tab.dialogs, tab.problems = [], []
    tab.on("dialog", lambda dialog: (tab.dialogs.append(dialog.message), dialog.dismiss()))
    tab.on("pageerror", lambda error: tab.problems.append(f"page error: {error}"))
    tab.on("console", lambda message: message.type == "error" and tab.problems.append(message.text))
    tab.goto(local_mode.api_url + "/")
    tab.get_by_test_id("token-input").fill(local_mode.token)
    tab.get_by_test_id("token-submit").click()
    tab.get_by_test_id("overview").wait_for()
    yield tab
    context.close()


def screenshot(tab: Any, name: str) -> None:
    (ARTIFACTS / "screenshots").mkdir(parents=True, exist_ok=True)
    tab.screenshot(path=str(ARTIFACTS / "screenshots" / f"{name}.png"), full_page=True)


def put_client(local_mode: RunningLocalMode, item: dict[str, Any]) -> None:
    local_mode.client("dynamodb").put_item(TableName=resources.USERS.name, Item=item)


def test_the_overview_shows_clients_per_band_at_desktop_and_phone_width(
    page: Any, local_mode: RunningLocalMode
) -> None:
    for user_id, score in (("band-critical", 10), ("band-at-risk", 40), ("band-good", 90)):
        put_client(local_mode, to_image(client_values(user_id, engagementScore=score)))
    wait_for(lambda: api(local_mode, "GET", "/api/stats?refresh=true")["clients"]["total"] >= 3)

    page.get_by_test_id("refresh").click()
    chart = page.get_by_test_id("band-chart")
    wait_for(lambda: "Critical 0" not in (chart.get_attribute("aria-label") or "Critical 0"))
    counts = {bar.get_attribute("data-band"): int(bar.locator("text.bar-count").text_content())
              for bar in page.get_by_test_id("band-bar").all()}  # fmt: skip
    assert min(counts["critical"], counts["at_risk"], counts["good"]) >= 1, counts
    assert int(page.get_by_test_id("tile-clients").locator(".tile-value").text_content()) >= 3
    screenshot(page, "overview-1280")

    page.set_viewport_size({"width": 375, "height": 800})
    page.get_by_test_id("band-chart").wait_for()
    assert page.evaluate("document.documentElement.scrollWidth") <= 375  # nothing runs off a phone's screen
    screenshot(page, "overview-375")
    assert page.problems == []


def test_an_email_approved_in_the_review_queue_shows_in_the_outbox(page: Any, local_mode: RunningLocalMode) -> None:
    put_client(local_mode, RUNBOOK_TEST_USER_8)
    [draft] = wait_for(lambda: api(local_mode, "GET", "/api/users/test-user-8/emails")["items"])

    page.goto(f"{local_mode.api_url}/#/review")
    item = page.get_by_test_id("review-item").filter(has_text=draft["subject"])
    item.click()
    preview = page.get_by_test_id("email-preview")
    preview.wait_for()
    assert preview.get_attribute("sandbox") == ""  # the email's HTML cannot run anything
    screenshot(page, "review")
    page.get_by_test_id("approve").click()
    wait_for(lambda: api(local_mode, "GET", f"/api/emails/{draft['emailId']}")["status"] == "SENT")

    page.get_by_test_id("nav-outbox").click()
    row = page.get_by_test_id("outbox-row").filter(has_text=draft["subject"])
    row.first.wait_for()
    screenshot(page, "outbox")
    assert page.problems == []


def test_a_hostile_client_name_shows_as_text_and_runs_nothing(page: Any, local_mode: RunningLocalMode) -> None:
    api(local_mode, "POST", "/api/users", {"userId": "hostile", "email": "hostile@example.com", "name": HOSTILE,
                                           "engagementScore": 20})  # fmt: skip
    wait_for(lambda: api(local_mode, "GET", "/api/users/hostile/emails")["items"])  # its draft greets the name too

    injected = []  # an <img src=x> in the page would mean the name became HTML, on any of the views
    page.goto(f"{local_mode.api_url}/#/clients")
    page.get_by_test_id("client-search").fill("hostile")
    row = page.get_by_test_id("client-row").filter(has_text=HOSTILE)
    row.first.wait_for()
    injected.append(page.locator("img[src='x']").count())
    page.goto(f"{local_mode.api_url}/#/clients/hostile")
    page.get_by_test_id("client-detail").get_by_text(HOSTILE).first.wait_for()
    injected.append(page.locator("img[src='x']").count())
    page.goto(f"{local_mode.api_url}/#/review")
    page.get_by_test_id("review-item").filter(has_text="hostile@example.com").click()  # the hostile client's draft
    page.get_by_test_id("email-preview").wait_for()
    page.wait_for_timeout(500)  # time for an injected handler to fire, if there were one
    injected.append(page.locator("img[src='x']").count())
    screenshot(page, "hostile-name")

    assert injected == [0, 0, 0]
    assert page.dialogs == []
    assert page.problems == []
