"""Real products in win-back emails, on moto: the sweep's co-purchase counts, the draft's cards, a reviewer's swap,
the check at send time; and a hostile LLM that cannot put any other product, price or link in an email."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from types import ModuleType
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engagement.adapters.aws import client as aws_client
from engagement.adapters.secrets import SecretSource
from engagement.adapters.store.co_purchases import CoPurchaseRepository
from engagement.adapters.store.dynamo import from_item
from engagement.adapters.store.orders import OrderRepository
from engagement.adapters.store.products import ProductRepository
from engagement.bootstrap import Clients
from engagement.clock import format_instant
from engagement.domain.models import Client, ProductPick
from engagement.domain.scoring import score_client
from engagement.services.co_purchases import CoPurchaseBuilding
from engagement.services.winback import _picks
from engagement.writer import Brand, TemplateWriter, WriteRequest, render_email
from engagement.writer.base import ModelPrice, OtherProduct
from engagement.writer.guardrails import GuardrailPolicy
from engagement.writer.llm import LLMSettings, LLMWriter
from engagement.writer.products import mentions, price_text, with_utm
from tests.fakes.llm_server import GOOD_EMAIL, FakeLLM, Reply, completion, running
from tests.support.api import Answer, api_request
from tests.support.aws import ScriptedSes
from tests.support.clock import FixedClock
from tests.support.events import batch, sqs_record
from tests.support.handlers import API_TOKEN, LambdaContext

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)  # 13:00 in London: inside the sending window
SHOP = "https://shop.example.com/"
CATALOG = {  # id: (title, category, price, in stock)
    "linen-trousers": ("Linen Trousers", "pants", "79.00", True),
    "wide-leg-trousers": ("Wide Leg Trousers", "pants", "89.00", True),
    "pleated-chinos": ("Pleated Chinos", "pants", "69.00", True),
    "cargo-pants": ("Cargo Pants", "pants", "59.00", False),
    "oxford-shirt": ("Oxford Shirt", "shirts", "49.00", True),
    "poplin-shirt": ("Poplin Shirt", "shirts", "45.00", True),
    "canvas-tote": ("Canvas Tote", "bags", "29.00", True),
}


@pytest.fixture
def shop(load_handler: Callable[..., ModuleType], aws: dict[str, Any]) -> dict[str, Any]:
    """The catalog, a trousers buyer (Ada) and other clients' orders, and the day's co-purchase counts."""
    clock = FixedClock(NOW)
    ses = ScriptedSes(aws_client("sesv2", attempts=1))
    loaded: dict[str, Any] = {name: load_handler(name, clock=clock, clients=Clients(sesv2=ses))
                              for name in ("email_processor", "api")}  # fmt: skip
    loaded |= {"clock": clock, "aws": aws}
    for product_id, (title, category, price, in_stock) in CATALOG.items():
        put_product(loaded, product_id, title=title, category=category, price=price, inStock=in_stock)
    add_client(loaded, "ada", "Ada Lovelace", ["shirts"])
    order(loaded, "ada", "o-1", NOW - timedelta(days=250), "linen-trousers")  # in March
    for n, bought in enumerate(
        [
            ("linen-trousers", "wide-leg-trousers"),
            ("linen-trousers", "wide-leg-trousers"),
            ("linen-trousers", "oxford-shirt"),
            ("pleated-chinos",),
            ("pleated-chinos",),
        ]
    ):
        add_client(loaded, f"other-{n}", f"Other {n}", [])
        order(loaded, f"other-{n}", f"o-{n}", NOW - timedelta(days=10 + n), *bought)
    tables = aws["deployed"].tables
    CoPurchaseBuilding(
        orders=OrderRepository(tables["orders"]), products=ProductRepository(tables["products"]),
        store=CoPurchaseRepository(tables["models"]),
    ).rebuild(NOW)  # fmt: skip
    return loaded


def call(shop: dict[str, Any], method: str, path: str, body: Any = None) -> Answer:
    return api_request(shop["api"], method, path, json.dumps(body) if body is not None else None, token=API_TOKEN,
                       content_type="application/json", context=LambdaContext())  # fmt: skip


def put_product(shop: dict[str, Any], product_id: str, **fields: Any) -> None:
    body = {"url": f"https://shop.example.com/products/{product_id}",
            "imageUrl": f"https://cdn.shopify.com/s/files/{product_id}.jpg", **fields,
            "updatedAt": format_instant(shop["clock"].now())}  # fmt: skip
    status, answer = call(shop, "PUT", f"/api/products/{product_id}", body)[:2]
    assert status in (200, 201), answer


def add_client(shop: dict[str, Any], user_id: str, name: str, categories: list[str]) -> None:
    item = {"userId": user_id, "email": f"{user_id}@example.com", "name": name, "orderCount": 0,
            "preferredCategories": categories, "createdAt": "2025-01-01T00:00:00.000Z",
            "timezone": "Europe/London"}  # fmt: skip
    table = shop["aws"]["deployed"].tables["users"]
    shop["aws"]["dynamodb"].put_item(TableName=table, Item={k: _attribute(v) for k, v in item.items()})


def _attribute(value: Any) -> dict[str, Any]:
    if isinstance(value, list):
        return {"L": [{"S": v} for v in value]}
    if isinstance(value, int):
        return {"N": str(value)}
    return {"S": value}


def order(shop: dict[str, Any], user_id: str, order_id: str, at: datetime, *products: str) -> None:
    lines = [{"productId": p, "quantity": 1, "unitPrice": CATALOG[p][2]} for p in products]
    amount = str(sum(float(CATALOG[p][2]) for p in products))
    body = {"orderId": order_id, "orderedAt": format_instant(at), "amount": amount, "lineItems": lines}
    status, answer = call(shop, "POST", f"/api/users/{user_id}/orders", body)[:2]
    assert status in (200, 201), answer


def client_item(shop: dict[str, Any], user_id: str) -> dict[str, Any]:
    table = shop["aws"]["deployed"].tables["users"]
    return shop["aws"]["dynamodb"].get_item(TableName=table, Key={"userId": {"S": user_id}})["Item"]


def draft_for(shop: dict[str, Any], user_id: str) -> dict[str, Any]:
    from engagement.domain.events import encode_event, event_from_change

    event = event_from_change(event_name="MODIFY", event_id=f"evt-{user_id}", occurred_at=NOW,
                              old_image=None, new_image=from_item(client_item(shop, user_id)), now=NOW)  # fmt: skip
    assert event is not None
    shop["email_processor"].lambda_handler(batch(sqs_record(encode_event(event))), LambdaContext())
    table = shop["aws"]["deployed"].tables["emails"]
    drafts = [from_item(i) for i in shop["aws"]["dynamodb"].scan(TableName=table)["Items"]]
    [email] = [e for e in drafts if e["userId"] == user_id]
    return email


def get_email(shop: dict[str, Any], email_id: str) -> dict[str, Any]:
    status, email = call(shop, "GET", f"/api/emails/{email_id}")[:2]
    assert status == 200
    return email


def test_a_trousers_buyer_gets_cards_of_in_stock_products_of_their_categories_each_with_its_reason(
    shop: dict[str, Any],
) -> None:
    email = get_email(shop, draft_for(shop, "ada")["emailId"])

    picks = [(p["productId"], p["rank"], p["reason"]) for p in email["picks"]]
    assert picks == [
        ("wide-leg-trousers", 1, "bought with the Linen Trousers you ordered in March"),
        ("oxford-shirt", 2, "bought with the Linen Trousers you ordered in March"),
        ("linen-trousers", 3, "best seller in pants this month"),  # theirs, but 8 months ago: a repeat is welcome
    ]
    assert "cargo-pants" not in {c["productId"] for c in email["candidates"]}  # out of stock
    assert "canvas-tote" not in {c["productId"] for c in email["candidates"]}  # not one of their categories
    assert email["picks"][0]["price"] == 89
    for title, price in (("Wide Leg Trousers", "$89.00"), ("Oxford Shirt", "$49.00"), ("Linen Trousers", "$79.00")):
        assert title in email["content"]
        assert price in email["content"]
        assert title in email["textContent"]
    assert f"utm_content={email['emailId']}" in email["textContent"]
    assert 'src="https://cdn.shopify.com/s/files/wide-leg-trousers.jpg"' in email["content"]


def test_a_catalog_that_cannot_be_read_delays_the_draft_and_on_the_last_receive_it_goes_without_products(
    shop: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError

    from engagement.domain.events import encode_event, event_from_change
    from engagement.errors import TransientFailure

    def unreadable(*_: Any) -> None:
        raise TransientFailure("products table throttled")

    monkeypatch.setattr(shop["email_processor"].services.service.recommender, "shortlist", unreadable)
    event = event_from_change(event_name="MODIFY", event_id="evt-ada", occurred_at=NOW, old_image=None,
                              new_image=from_item(client_item(shop, "ada")), now=NOW)  # fmt: skip
    assert event is not None
    body = encode_event(event)
    with pytest.raises(BatchProcessingError):  # retried: the store may answer later
        shop["email_processor"].lambda_handler(batch(sqs_record(body)), LambdaContext())
    assert shop["aws"]["dynamodb"].scan(TableName=shop["aws"]["deployed"].tables["emails"])["Items"] == []
    last = shop["email_processor"].services.max_receive_count
    shop["email_processor"].lambda_handler(batch(sqs_record(body, receive_count=last)), LambdaContext())
    table = shop["aws"]["deployed"].tables["emails"]
    [email] = [from_item(i) for i in shop["aws"]["dynamodb"].scan(TableName=table)["Items"]]
    assert email["userId"] == "ada"
    assert email.get("picks", []) == []  # an email without cards rather than none
    assert "just below" not in email["textContent"]


def test_a_reviewer_swaps_a_pick_for_another_candidate_and_nothing_else(shop: dict[str, Any]) -> None:
    email = get_email(shop, draft_for(shop, "ada")["emailId"])
    path = f"/api/emails/{email['emailId']}/picks"

    status, swapped = call(shop, "PUT", path, {"productIds": ["poplin-shirt", "wide-leg-trousers"], "editor": "sam"})[
        :2
    ]

    assert status == 200, swapped
    assert [p["productId"] for p in swapped["picks"]] == ["poplin-shirt", "wide-leg-trousers"]
    assert "Poplin Shirt" in swapped["content"]
    assert "Linen Trousers" not in swapped["content"]
    assert swapped["transitions"][-1]["reason"].startswith("picks: poplin-shirt, wide-leg-trousers (were ")
    assert swapped["transitions"][-1]["by"] == "operator:sam"
    refused = call(shop, "PUT", path, {"productIds": ["canvas-tote"]})
    assert refused[0] == 422
    assert "not among this email's candidates: 'canvas-tote'" in json.dumps(refused[1])
    put_product(shop, "poplin-shirt", title="Poplin Shirt", category="shirts", price="45.00", inStock=False)
    gone = call(shop, "PUT", path, {"productIds": ["poplin-shirt"]})
    assert gone[0] == 422
    assert "out of stock or no longer in the catalog: poplin-shirt" in json.dumps(gone[1])
    too_many = call(shop, "PUT", path, {"productIds": ["a", "b", "c", "d"]})
    assert too_many[0] == 422


def test_at_approval_a_pick_gone_out_of_stock_is_swapped_and_a_new_price_shown(shop: dict[str, Any]) -> None:
    email_id = draft_for(shop, "ada")["emailId"]
    shop["clock"].advance(timedelta(minutes=5))
    put_product(shop, "wide-leg-trousers", title="Wide Leg Trousers", category="pants", price="89.00", inStock=False)
    put_product(shop, "oxford-shirt", title="Oxford Shirt", category="shirts", price="42.00", inStock=True)

    status, sent = call(shop, "POST", f"/api/emails/{email_id}/approve", {"reviewer": "sam"})[:2]

    assert status == 200, sent
    assert sent["status"] == "SENT"
    assert [p["productId"] for p in sent["picks"]] == ["poplin-shirt", "oxford-shirt", "linen-trousers"]
    assert "Wide Leg Trousers" not in sent["content"]
    assert "Wide Leg Trousers" not in sent["textContent"]
    assert "$42.00" in sent["textContent"]
    assert "$49.00" not in sent["textContent"]
    claim = next(t for t in sent["transitions"] if t["toStatus"] == "SENDING")
    assert claim["reason"] == (
        "picks checked at send time: Wide Leg Trousers (wide-leg-trousers) out of stock: replaced by Poplin Shirt "
        "(poplin-shirt); price of Oxford Shirt (oxford-shirt) 49.00 USD → 42.00 USD"
    )


# ---- a hostile LLM ----------------------------------------------------------------------------------------------

PICKABLE = (
    ProductPick(product_id="wide-leg-trousers", title="Wide Leg Trousers", category="pants", price="89.00",
                currency="USD", url="https://shop.example.com/products/wide-leg-trousers",
                image_url="https://cdn.shopify.com/wide.jpg", rank=1, reason="bought with"),
    ProductPick(product_id="oxford-shirt", title="Oxford Shirt", category="shirts", price="49.00", currency="USD",
                url="https://shop.example.com/products/oxford-shirt", rank=2, reason="best seller"),
    ProductPick(product_id="pleated-chinos", title="Pleated Chinos", category="pants", price="69.00",
                currency="USD", url="https://shop.example.com/products/pleated-chinos", rank=3, reason="in pants"),
    ProductPick(product_id="poplin-shirt", title="Poplin Shirt", category="shirts", price="45.00", currency="USD",
                url="https://shop.example.com/products/poplin-shirt", rank=4, reason="in shirts"),
)  # fmt: skip
NOT_CANDIDATES = (
    OtherProduct(title="Linen Trousers", url="https://shop.example.com/products/linen-trousers"),
    OtherProduct(title="Cargo Pants", url="https://shop.example.com/products/cargo-pants"),
)
HOSTILE_WORDS = st.sampled_from([
    *(p.title for p in PICKABLE), *(o.title for o in NOT_CANDIDATES), "Aurora Silk Scarf", "$19.99", "19.99",
    "€5", "49.00", "https://evil.example.net/buy", "https://shop.example.com/products/cargo-pants",
    "https://shop.example.com/products/linen-trousers?ref=x", "www.shop.example.com/products/cargo-pants",
    "https://shop.example.com/products/oxford-shirt", "we love you", "now", "only", "for", "see",
])  # fmt: skip
HOSTILE_IDS = st.lists(
    st.sampled_from([*(p.product_id for p in PICKABLE), "linen-trousers", "cargo-pants", "invented", ""]), max_size=5
)
_PRICE = re.compile(r"[$€£]\s?\d[\d,]*(?:\.\d+)?|\b\d+[.,]\d{2}\b")
_URL = re.compile(r"https?://[^\s\"'<>]+|www\.[^\s\"'<>]+")


def hostile_answer(draw: st.DrawFn) -> dict[str, Any]:
    def text(limit: int) -> str:
        return " ".join(draw(st.lists(HOSTILE_WORDS, min_size=1, max_size=limit)))

    return {
        **GOOD_EMAIL,
        "subject": text(4)[:80],
        "preheader": text(4)[:120],
        "paragraphs": [text(8) for _ in range(draw(st.integers(1, 3)))],
        "product_ids": draw(HOSTILE_IDS),
    }


@st.composite
def hostile_answers(draw: st.DrawFn) -> tuple[dict[str, Any], dict[str, Any]]:
    return hostile_answer(draw), hostile_answer(draw)  # the first answer, and the regeneration


@pytest.fixture(scope="module")
def llm() -> Iterator[FakeLLM]:
    with running(FakeLLM()) as server:
        yield server


def test_a_hostile_llm_never_gets_another_product_price_or_link_into_an_email(llm: FakeLLM) -> None:
    client = Client.model_validate(
        {
            "userId": "ada",
            "email": "ada@example.com",
            "name": "Ada Lovelace",
            "orderCount": 1,
            "preferredCategories": ["pants"],
            "engagementScore": 20,
        }
    )
    writer = LLMWriter(
        LLMSettings(base_url=llm.base_url, model="m", timeout_s=5, max_retries=0, brand_name="Northwind",
                    shop_url=SHOP, policy=GuardrailPolicy(allowed_link_domains=("shop.example.com",)),
                    prices={"m": ModelPrice(prompt=0, completion=0)}),
        SecretSource(value="sk-test-0123456789"), TemplateWriter(SHOP, "Northwind"), sleep=lambda _: None,
    )  # fmt: skip
    brand = Brand(name="Northwind", postal_address="100 Example Street", shop_url=SHOP)
    request = WriteRequest(client=client, score=score_client(client, NOW), now=NOW, candidates=PICKABLE,
                           others=NOT_CANDIDATES)  # fmt: skip

    @settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(hostile_answers())
    def no_foreign_product(answers: tuple[dict[str, Any], dict[str, Any]]) -> None:
        llm.then(*(Reply(body=completion(answer)) for answer in answers))
        written = writer.write(request)
        picks = _picks(written, request)
        rendered = render_email(written.content, brand, picks, "email-1")
        shown = {p.product_id for p in picks}

        assert shown <= {p.product_id for p in PICKABLE}
        everything = "\n".join([rendered.subject, rendered.preheader, rendered.html, rendered.text])
        for product in [*NOT_CANDIDATES, *(p for p in PICKABLE if p.product_id not in shown)]:
            assert not mentions(everything, product.title), product.title
            assert product.url.rsplit("/", 1)[1] not in everything
        assert not mentions(everything, "Aurora Silk Scarf")
        prices = set(_PRICE.findall(rendered.text))
        assert prices <= {price_text(p.price, p.currency) for p in picks}
        links = set(_URL.findall(rendered.text))
        allowed = {SHOP, *(with_utm(p.url, "email-1") for p in picks)}
        assert links <= allowed, links - allowed

    no_foreign_product()
