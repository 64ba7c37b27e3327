"""The churn model in the local mode: a seeded shop, two buyers whose orders come through the API, `make rescore`
fits the model on their histories, and each client is judged by their own rhythm.

Its own local mode (module scope): 400 seeded clients would change what the other end-to-end tests count."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from engagement.clock import format_instant
from tests.e2e.conftest import REPO_ROOT, RunningLocalMode, start_local_mode
from tests.e2e.test_dashboard import screenshot
from tests.e2e.test_rescore_local import as_a_second_shell
from tests.support.local_mode import api_get, wait_for

pytestmark = pytest.mark.e2e

IN_WORDS = re.compile(
    r"^(usually orders every ~\d+ days; last order \d+ days? ago, [\d.]+ times the usual gap|"
    r"one order so far; last order \d+ days? ago); (under 1|\d+) % likely still a client; "
    r"about [\d.]+ orders? expected in the next 90 days$"
)


@pytest.fixture(scope="module")
def local_mode(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningLocalMode]:
    running = start_local_mode(tmp_path_factory.mktemp("churn"), "churn-token-0123456789abcdef")
    yield running
    if running.process.poll() is None:
        running.stop()


def api_post(local_mode: RunningLocalMode, path: str, body: Any) -> Any:
    request = urllib.request.Request(local_mode.api_url + path, method="POST", data=json.dumps(body).encode(),
                                     headers={"Authorization": f"Bearer {local_mode.token}",
                                              "Content-Type": "application/json"})  # fmt: skip
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def buyer_with_orders(
    local_mode: RunningLocalMode, user_id: str, first_days_ago: float, gap: float, orders: int
) -> None:
    now = datetime.now(UTC)
    joined = format_instant(now - timedelta(days=first_days_ago + 5))
    api_post(
        local_mode,
        "/api/users",
        {"userId": user_id, "email": f"{user_id}@example.com", "name": user_id.title(), "createdAt": joined},
    )
    for number in range(orders):
        ordered_at = now - timedelta(days=first_days_ago - number * gap)
        api_post(local_mode, f"/api/users/{user_id}/orders",
                 {"orderId": f"{user_id}-{number}", "orderedAt": format_instant(ordered_at), "amount": 40})  # fmt: skip


def test_each_client_is_judged_by_their_own_rhythm_once_the_sweep_fits_the_model(local_mode: RunningLocalMode) -> None:
    shell = as_a_second_shell(local_mode)
    seeded = subprocess.run([sys.executable, "scripts/seed_users.py", "--count", "400", "--seed", "7", "--no-progress"],
                            cwd=REPO_ROOT, env=shell, capture_output=True, text=True, timeout=120,
                            check=False)  # fmt: skip
    assert seeded.returncode == 0, seeded.stderr
    buyer_with_orders(local_mode, "fortnightly", first_days_ago=370, gap=14, orders=21)  # silent for 90 days
    buyer_with_orders(local_mode, "twice-yearly", first_days_ago=850, gap=182.5, orders=5)  # silent for 120 days
    before = api_get(local_mode, "/api/users/twice-yearly")["score"]
    assert before["source"] == "computed"
    assert before["note"] == "no churn model fitted yet: the rule score is in use"

    swept = subprocess.run([sys.executable, "-m", "localmode", "rescore"], cwd=REPO_ROOT, env=shell,
                           capture_output=True, text=True, timeout=180, check=False)  # fmt: skip

    assert swept.returncode == 0, swept.stdout + swept.stderr
    assert re.search(r"churn model: MBG/NBD fitted on \d+ clients \(\d+ with a repeat order\)", swept.stdout)
    fortnightly = wait_for(lambda: api_get(local_mode, "/api/users/fortnightly")["score"].get("rhythm") and
                           api_get(local_mode, "/api/users/fortnightly")["score"], timeout=20)  # fmt: skip
    twice_yearly = api_get(local_mode, "/api/users/twice-yearly")["score"]
    assert (fortnightly["source"], twice_yearly["source"]) == ("model", "model")
    assert fortnightly["band"] in ("at_risk", "critical")
    assert twice_yearly["band"] in ("moderate", "good")
    assert fortnightly["rhythm"]["explanation"].startswith("usually orders every ~14 days; last order 90 days ago, ")
    assert twice_yearly["rhythm"]["explanation"].startswith("usually orders every ~182 days; last order 120 days ago")
    assert fortnightly["rhythm"]["overdue"] is True
    assert twice_yearly["rhythm"]["overdue"] is False

    page = api_get(local_mode, "/api/users?limit=40")["items"]
    judged = [item["userId"] for item in page if item["score"]["source"] == "model"][:10]
    assert judged, page
    for user_id in judged:  # the seeded clients, regular and irregular buyers, in words
        assert IN_WORDS.match(api_get(local_mode, f"/api/users/{user_id}")["score"]["rhythm"]["explanation"])
    overview = api_get(local_mode, "/api/stats?refresh=true")["churn"]
    assert overview["model"]["status"] == "fitted"
    assert overview["judged"] >= 300
    assert sum(overview["pAlive"].values()) == overview["judged"]


def test_the_dashboard_shows_the_model_s_view_of_a_client_and_of_the_shop(
    browser: Any, local_mode: RunningLocalMode
) -> None:
    """After the test above: the model is fitted."""
    score = api_get(local_mode, "/api/users/fortnightly")["score"]
    assert score["source"] == "model"
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.goto(local_mode.api_url + "/")
    page.get_by_test_id("token-input").fill(local_mode.token)
    page.get_by_test_id("token-submit").click()

    panel = page.get_by_test_id("churn-panel")
    panel.get_by_test_id("p-alive-bar").first.wait_for()
    buckets = panel.get_by_test_id("p-alive-bar").evaluate_all("bars => bars.map(bar => bar.dataset.bucket)")
    assert buckets == [f"{low}-{low + 10}" for low in range(0, 100, 10)]
    assert re.search(r"\d+ of \d+ clients overdue against their own rhythm",
                     panel.get_by_test_id("overdue-count").text_content())  # fmt: skip
    screenshot(page, "overview-churn-model")

    def rescored() -> bool:  # the sweep's event reaches the email processor behind the other clients' events
        timeline = api_get(local_mode, "/api/users/fortnightly")["timeline"]
        return any(entry.get("eventType") == "client.rescored" for entry in timeline)

    assert wait_for(rescored, timeout=180), api_get(local_mode, "/api/users/fortnightly")["timeline"][:3]
    page.goto(f"{local_mode.api_url}/#/clients/fortnightly")
    page.get_by_test_id("rhythm-explanation").wait_for()
    assert page.get_by_test_id("rhythm-explanation").text_content() == score["rhythm"]["explanation"]
    percent = round(score["rhythm"]["pAlive"] * 100)
    assert page.get_by_test_id("p-alive").text_content().endswith("under 1 %" if percent == 0 else f"{percent} %")
    assert page.get_by_test_id("overdue").count() == 1
    assert "if still a client" in page.get_by_test_id("next-order").text_content()
    assert page.get_by_test_id("score-note").count() == 0
    page.get_by_test_id("order-row").first.wait_for()  # the history the rhythm was read from
    assert page.get_by_test_id("order-row").count() == 21
    swept = page.locator("[data-kind='decision']", has_text="client.rescored").first.text_content()
    assert "by the churn model" in swept  # the decision says which score it was made on
    screenshot(page, "client-churn-model")
    context.close()
    assert problems == []
