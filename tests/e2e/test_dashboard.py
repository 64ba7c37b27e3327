"""The dashboard in a real browser (headless chromium) against the local mode: what an operator sees and does.

Screenshots go to .artifacts/screenshots/ (TEST_ARTIFACTS changes where)."""

from __future__ import annotations

import base64
import json
import time
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from engagement.clock import format_instant
from engagement.domain.orders import Order
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


def add_client(local_mode: RunningLocalMode, user_id: str) -> None:
    api(local_mode, "POST", "/api/users", {"userId": user_id, "email": f"{user_id}@example.com", "name": user_id,
                                           "createdAt": "2025-01-01T00:00:00Z"})  # fmt: skip


def put_product(local_mode: RunningLocalMode, product_id: str, title: str, category: str, *, in_stock: bool) -> None:
    api(local_mode, "PUT", f"/api/products/{product_id}", {
        "title": title, "url": f"https://shop.example.com/products/{product_id}", "category": category, "price": 19.5,
        "inStock": in_stock,
    })  # fmt: skip


def days_ago(days: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - days * 86400))


def test_the_client_page_lists_orders_newest_first_and_flags_an_unknown_product(
    page: Any, local_mode: RunningLocalMode
) -> None:
    put_product(local_mode, "e2e-tee-1", "Linen tee", "e2e-tops", in_stock=True)
    add_client(local_mode, "orders-e2e")
    for order_id, days, amount, lines in (
        ("o-e2e-mid", 20, 12.5, []),
        ("o-e2e-old", 40, 49.95, [{"productId": "e2e-tee-1", "quantity": 1, "unitPrice": 49.95, "title": "Linen tee"}]),
        ("o-e2e-new", 5, 30, [{"productId": "e2e-gone-9", "quantity": 2, "unitPrice": 10}]),
    ):
        api(local_mode, "POST", "/api/users/orders-e2e/orders",
            {"orderId": order_id, "orderedAt": days_ago(days), "amount": amount, "lineItems": lines})  # fmt: skip

    page.goto(f"{local_mode.api_url}/#/clients/orders-e2e")
    rows = page.get_by_test_id("order-row")
    rows.first.wait_for()
    assert [row.get_attribute("data-order-id") for row in rows.all()] == ["o-e2e-new", "o-e2e-mid", "o-e2e-old"]
    newest, _, oldest = rows.all()
    assert "30.00" in newest.text_content()
    assert "2 \u00d7 e2e-gone-9" in newest.text_content()  # no title given: the product id
    assert "49.95" in oldest.text_content()
    assert "1 \u00d7 Linen tee" in oldest.text_content()
    flags = newest.get_by_test_id("order-flag").all_text_contents()
    assert any("not in the catalog: e2e-gone-9" in flag for flag in flags), flags
    assert any("do not add up to the amount" in flag for flag in flags), flags
    assert oldest.get_by_test_id("order-flag").count() == 0
    assert "92.45" in page.locator("dt:text-is('Total spent') + dd").text_content()  # 30 + 12.50 + 49.95
    screenshot(page, "order-history")
    assert page.problems == []


def test_recording_an_order_id_twice_counts_it_once(page: Any, local_mode: RunningLocalMode) -> None:
    add_client(local_mode, "duplicate-e2e")
    page.goto(f"{local_mode.api_url}/#/clients/duplicate-e2e")
    form = page.get_by_test_id("order-form")
    result = page.get_by_test_id("order-result")
    for expected in ("Recorded.", "Already recorded (counted once)"):
        form.get_by_label("Amount").fill("25")
        form.get_by_label("Order id").fill("dup-e2e-1")
        form.get_by_role("button", name="Record order").click()
        wait_for(lambda expected=expected: expected in (result.text_content() or ""))

    page.get_by_test_id("order-row").first.wait_for()
    page.wait_for_timeout(500)  # the history reloads after each order: let the last reload land
    order_ids = page.get_by_test_id("order-row").evaluate_all("rows => rows.map(r => r.dataset.orderId)")
    assert order_ids == ["dup-e2e-1"]
    assert api(local_mode, "GET", "/api/users/duplicate-e2e")["orderCount"] == 1
    assert page.problems == []


def test_the_catalog_lists_products_filters_them_and_shows_a_hostile_title_as_text(
    page: Any, local_mode: RunningLocalMode
) -> None:
    put_product(local_mode, "e2e-hat-1", "Wool hat", "e2e-hats", in_stock=True)
    put_product(local_mode, "e2e-hat-2", "Straw hat", "e2e-hats", in_stock=False)
    put_product(local_mode, "e2e-bag-1", HOSTILE, "e2e-bags", in_stock=True)

    def shown() -> set[str]:
        # one read of every row at once: the list re-renders as filters change, so row-by-row reads can race it
        return set(page.get_by_test_id("product-row").evaluate_all("rows => rows.map(r => r.dataset.productId)"))

    page.get_by_test_id("nav-catalog").click()
    wait_for(lambda: {"e2e-hat-1", "e2e-hat-2", "e2e-bag-1"} <= shown())
    title = page.locator("[data-product-id='e2e-bag-1'] a").first
    assert title.text_content() == HOSTILE
    assert (title.get_attribute("target"), title.get_attribute("rel")) == ("_blank", "noopener noreferrer")
    assert page.locator("[data-testid='catalog'] img").count() == 0  # titles are text and no picture is loaded

    page.get_by_test_id("category-filter").fill("e2e-hats")
    wait_for(lambda: shown() == {"e2e-hat-1", "e2e-hat-2"})
    page.get_by_test_id("stock-filter").select_option(label="In stock")
    wait_for(lambda: shown() == {"e2e-hat-1"})
    assert page.evaluate("location.hash") == "#/catalog?category=e2e-hats&inStock=true"

    page.reload()  # the filters are in the address, so a reload keeps them
    wait_for(lambda: shown() == {"e2e-hat-1"})
    assert page.get_by_test_id("category-filter").input_value() == "e2e-hats"
    page.get_by_test_id("stock-filter").select_option(label="Out of stock")
    wait_for(lambda: shown() == {"e2e-hat-2"})
    screenshot(page, "catalog")

    assert page.dialogs == []
    assert page.problems == []


def test_a_client_the_churn_model_did_not_judge_shows_why_and_no_chance_of_still_being_a_client(
    page: Any, local_mode: RunningLocalMode
) -> None:
    add_client(local_mode, "unjudged-e2e")
    note = api(local_mode, "GET", "/api/users/unjudged-e2e")["score"]["note"]  # nothing has fitted a model here

    page.goto(f"{local_mode.api_url}/#/clients/unjudged-e2e")
    page.get_by_test_id("score-note").wait_for()
    assert page.get_by_test_id("score-note").text_content() == note
    score = page.get_by_test_id("score")
    assert [score.get_by_test_id(testid).count() for testid in ("p-alive", "next-order", "overdue")] == [0, 0, 0]
    assert "rule score" in score.text_content()
    screenshot(page, "client-score-note")
    assert page.problems == []


def test_the_overview_says_why_no_churn_model_is_in_use(page: Any, local_mode: RunningLocalMode) -> None:
    reason = api(local_mode, "GET", "/api/stats")["churn"]["model"]["reason"]

    panel = page.get_by_test_id("churn-panel")
    panel.wait_for()
    assert panel.get_by_test_id("churn-model-reason").text_content() == reason
    assert panel.get_by_test_id("p-alive-bar").count() == 0  # no distribution without a model
    screenshot(page, "overview-churn-model-none")
    assert page.problems == []


# The smallest PNG: one transparent pixel.
PNG = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII=")
E2E_CATALOG = {  # id: (title, category, price, in stock)
    "e2e-linen-trousers": ("Linen Trousers", "trousers", "79.00", True),
    "e2e-wide-leg": ("Wide Leg Trousers", "trousers", "89.00", True),
    "e2e-chinos": ("Pleated Chinos", "trousers", "69.00", True),
    "e2e-cargo": ("Cargo Trousers", "trousers", "59.00", False),
    "e2e-oxford": ("Oxford Shirt", "shirts", "49.00", True),
    "e2e-poplin": ("Poplin Shirt", "shirts", "45.00", True),
    "e2e-tote": ("Canvas Tote", "bags", "29.00", True),
}


def put_e2e_product(local_mode: RunningLocalMode, product_id: str, *, in_stock: bool | None = None) -> None:
    title, category, price, stocked = E2E_CATALOG[product_id]
    api(local_mode, "PUT", f"/api/products/{product_id}", {
        "title": title, "category": category, "price": price, "inStock": stocked if in_stock is None else in_stock,
        "url": f"https://shop.example.com/products/{product_id}", "imageUrl": f"https://cdn.shopify.com/{product_id}.jpg",
        "updatedAt": datetime.now(UTC).isoformat(),
    })  # fmt: skip


def test_a_trousers_buyer_gets_product_cards_and_one_gone_out_of_stock_is_swapped_at_approval(
    page: Any, local_mode: RunningLocalMode
) -> None:
    for product_id in E2E_CATALOG:
        put_e2e_product(local_mode, product_id)
    bought_at = datetime.now(UTC) - timedelta(days=200)
    order = Order.model_validate({
        "userId": "trousers-buyer", "orderId": "e2e-order-1", "orderedAt": bought_at, "recordedAt": bought_at,
        "amount": "79.00", "currency": "USD", "source": "api",
        "lineItems": [{"productId": "e2e-linen-trousers", "quantity": 1, "unitPrice": "79.00"}],
    })  # fmt: skip
    local_mode.client("dynamodb").put_item(TableName=resources.ORDERS.name, Item=to_image(order.item()))
    at = format_instant(bought_at)
    put_client(local_mode, to_image(client_values(
        "trousers-buyer", name="Tess Trousers", orderCount=1, lastOrderDate=at, firstOrderDate=at, totalSpent=79,
        averageOrderValue=79, preferredCategories=["shirts"], createdAt="2025-01-01T00:00:00.000Z",
        engagementScore=None,
    )))  # fmt: skip
    [draft] = wait_for(lambda: api(local_mode, "GET", "/api/users/trousers-buyer/emails")["items"], timeout=40)
    email = api(local_mode, "GET", f"/api/emails/{draft['emailId']}")

    shown = [pick["productId"] for pick in email["picks"]]
    assert len(shown) == 3, email["picks"]
    in_their_categories = {pid for pid, (_, category, _, stocked) in E2E_CATALOG.items()
                           if stocked and category in ("trousers", "shirts")}  # fmt: skip
    assert set(shown) <= in_their_categories
    for pick in email["picks"]:
        assert pick["title"] in email["content"]
        assert pick["reason"]

    pictures: list[str] = []  # no internet here: the shop's CDN answers from the test, and says what was asked
    page.route(
        "https://cdn.shopify.com/**",
        lambda route: (pictures.append(route.request.url), route.fulfill(body=PNG, content_type="image/png")),
    )
    page.goto(f"{local_mode.api_url}/#/review/{email['emailId']}")
    panel = page.get_by_test_id("picks")
    panel.wait_for()
    assert panel.get_by_test_id("shown").count() == 3
    assert panel.get_by_test_id("pick-reason").first.text_content()
    wait_for(lambda: len(set(pictures)) == 3)  # the preview shows the cards' pictures, as the client will see them
    assert set(pictures) == {f"https://cdn.shopify.com/{product_id}.jpg" for product_id in shown}
    cards = page.frame_locator("[data-testid=email-preview]").locator("img")
    assert cards.evaluate_all("pictures => pictures.map(picture => picture.naturalWidth)") == [1, 1, 1]
    screenshot(page, "review-picks")

    unpicked = next(pick for pick in email["candidates"] if pick["productId"] not in shown)["productId"]
    panel.locator(f"[data-product-id='{shown[-1]}'] input").uncheck()  # the reviewer swaps the last pick
    panel.locator(f"[data-product-id='{unpicked}'] input").check()
    panel.get_by_test_id("save-picks").click()
    panel.locator(f"[data-product-id='{unpicked}'] [data-testid=shown]").wait_for()  # saved and re-rendered
    swapped = api(local_mode, "GET", f"/api/emails/{email['emailId']}")
    assert {pick["productId"] for pick in swapped["picks"]} == {*shown[:-1], unpicked}
    assert E2E_CATALOG[unpicked][0] in swapped["content"]
    assert E2E_CATALOG[shown[-1]][0] not in swapped["content"]
    shown = [pick["productId"] for pick in swapped["picks"]]

    gone = shown[0]
    put_e2e_product(local_mode, gone, in_stock=False)  # sold out while the draft waits for review
    page.get_by_test_id("approve").click()
    wait_for(lambda: api(local_mode, "GET", f"/api/emails/{email['emailId']}")["status"] == "SENT")

    sent = api(local_mode, "GET", f"/api/emails/{email['emailId']}")
    now_shown = [pick["productId"] for pick in sent["picks"]]
    assert gone not in now_shown
    assert len(now_shown) == 3
    assert E2E_CATALOG[gone][0] not in sent["textContent"]
    claim = next(step for step in sent["transitions"] if step["toStatus"] == "SENDING")
    assert f"({gone}) out of stock: replaced by" in claim["reason"]
    assert page.problems == []


def post(local_mode: RunningLocalMode, path: str, body: Any) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(local_mode.api_url + path, method="POST", data=json.dumps(body).encode(),
                                     headers={"Authorization": f"Bearer {local_mode.token}",
                                              "Content-Type": "application/json"})  # fmt: skip
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as refused:
        return refused.code, json.loads(refused.read())


def test_an_operator_forces_a_draft_within_the_cooldown_once_and_finds_it_in_the_email_processors_logs(
    page: Any, local_mode: RunningLocalMode
) -> None:
    started = int(time.time() * 1000)
    put_client(local_mode, to_image(client_values("forced", name="Fiona Forced", engagementScore=30)))
    wait_for(lambda: api(local_mode, "GET", "/api/users/forced/emails")["items"])  # the pipeline's draft: cooldown on
    put_client(local_mode, to_image(client_values("unwilling", engagementScore=30, optedOut=True)))
    status, refused = post(local_mode, "/api/users/unwilling/winback", {"override": ["cooldown", "frequency_cap"]})
    assert (status, refused["reason"]) == (409, "opted_out")

    page.goto(f"{local_mode.api_url}/#/clients/forced")
    section = page.get_by_test_id("winback-request")
    section.get_by_test_id("winback-reason").fill("called about a late parcel")
    section.get_by_test_id("request-winback").click()
    section.get_by_test_id("winback-result").get_by_text("7-day cooldown", exact=False).wait_for()  # refused: why
    section.get_by_test_id("override-cooldown").check()
    section.get_by_test_id("request-winback").click()
    section.get_by_text("Requested").wait_for()
    wait_for(lambda: len(api(local_mode, "GET", "/api/users/forced/emails")["items"]) == 2)
    page.reload()
    asked = page.get_by_test_id("requested-by").first
    asked.wait_for()
    assert asked.text_content() == ("asked by operator: called about a late parcel · "
                                    "overriding the cooldown (emailed recently)")  # fmt: skip
    screenshot(page, "client-winback-request")

    body = {"requestId": "e2e-ask-1", "override": ["cooldown", "frequency_cap"], "requestedBy": "ana"}
    answers = [post(local_mode, "/api/users/forced/winback", body) for _ in range(3)]  # a double click and a retry
    assert answers[0][0] == 202  # queued; sent again once drafted, the answer is the draft (200)
    assert {status for status, _ in answers} <= {200, 202}, answers
    assert len({answer["emailId"] for _, answer in answers}) == 1
    forced = wait_for(lambda: next((email for email in api(local_mode, "GET", "/api/users/forced/emails")["items"]
                                    if email["emailId"] == answers[0][1]["emailId"]), None))  # fmt: skip
    assert forced["request"]["requestedBy"] == "ana"
    time.sleep(2)  # the other two messages have been handled by now: still one draft for the request
    assert len(api(local_mode, "GET", "/api/users/forced/emails")["items"]) == 3

    correlation_id = answers[0][1]["correlationId"]
    logs = local_mode.client("logs")  # as `aws logs filter-log-events --filter-pattern '"<id>"'` asks

    def logged() -> list[dict[str, Any]]:
        found = logs.filter_log_events(logGroupName=f"/aws/lambda/{resources.EMAIL_PROCESSOR.name}",
                                       startTime=started, filterPattern=f'"{correlation_id}"')  # fmt: skip
        return list(found["events"])

    lines = [json.loads(event["message"]) for event in wait_for(logged)]
    assert {line["correlation_id"] for line in lines} == {correlation_id}
    assert "win-back email drafted" in {line["message"] for line in lines}
    # the browser's note of the refused request (409), and nothing else
    assert page.problems == ["Failed to load resource: the server responded with a status of 409 (Conflict)"]
