"""Seed a shop: realistic clients, their order histories and a catalog.

    python scripts/seed_users.py                       # 20 clients into the local mode
    python scripts/seed_users.py --count 1000 --seed 42
    python scripts/seed_users.py --profile prod --region eu-west-1 --table client-engagement-prod-users \
        --orders-table client-engagement-prod-orders --products-table client-engagement-prod-products

Clients are a mix a retailer would see: active, cooling and lapsed buyers, a few who never ordered, and some
whose engagementScore was set upstream. Each buyer has an order history in their own rhythm: regular buyers
(every two weeks to every few months), irregular ones, seasonal ones (coats in winter, dresses in summer) and
one-time buyers, a few to dozens of orders, each of real products from a catalog of a few hundred. A client's
aggregates (orderCount, totalSpent, averageOrderValue, firstOrderDate, lastOrderDate, categoryCounts) are derived
from their orders by the same code the pipeline uses. The same --seed and --as-of give the same shop. Items are
written with BatchWriteItem, 25 at a time, retrying what DynamoDB leaves unprocessed.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

FIRST_NAMES = (
    "Amara",
    "Ben",
    "Chloé",
    "Dmitri",
    "Elena",
    "Farah",
    "Gabriel",
    "Hana",
    "Isaac",
    "Jia",
    "Kofi",
    "Lena",
    "Mateo",
    "Nadia",
    "Oscar",
    "Priya",
    "Quinn",
    "Rosa",
    "Samuel",
    "Tamsin",
    "Umar",
    "Valentina",
    "Wei",
    "Ximena",
    "Yusuf",
    "Zoë",
    "Aiko",
    "Bruno",
    "Carmen",
    "Declan",
    "Esther",
    "Felix",
    "Grace",
    "Hugo",
    "Ines",
    "Jonas",
)
LAST_NAMES = (
    "Adeyemi",
    "Becker",
    "Castillo",
    "Dubois",
    "Eriksen",
    "Fernandes",
    "García",
    "Haddad",
    "Ivanova",
    "Jensen",
    "Kowalski",
    "Lindqvist",
    "Moreau",
    "Nakamura",
    "O'Brien",
    "Patel",
    "Quintero",
    "Rossi",
    "Schmidt",
    "Tanaka",
    "Ueda",
    "Vasquez",
    "Williams",
    "Xu",
    "Yilmaz",
    "Zhang",
    "Murphy",
    "Okafor",
    "Silva",
    "Novak",
)
CATEGORIES = (
    "dresses",
    "tops",
    "pants",
    "shirts",
    "jeans",
    "shoes",
    "outerwear",
    "knitwear",
    "accessories",
    "activewear",
    "jewelry",
    "bags",
)
TIMEZONES = (
    "America/New_York",
    "America/Chicago",
    "America/Denver",
    "America/Los_Angeles",
    "Europe/London",
    "Europe/Berlin",
    "Asia/Tokyo",
    "Australia/Sydney",
)
SHOP_DOMAIN = "shop.example.com"  # the local mode's shop (stack.resources.SENDER_DOMAIN)
CURRENCY = "USD"
PRODUCT_NOUNS = {
    "dresses": ("wrap dress", "midi dress", "shirt dress", "slip dress"),
    "tops": ("tee", "blouse", "tank", "camisole"),
    "pants": ("trousers", "chinos", "wide-leg pants", "joggers"),
    "shirts": ("oxford shirt", "overshirt", "poplin shirt", "flannel shirt"),
    "jeans": ("straight jeans", "slim jeans", "mom jeans", "bootcut jeans"),
    "shoes": ("loafers", "sneakers", "ankle boots", "sandals"),
    "outerwear": ("trench coat", "puffer jacket", "wool coat", "rain jacket"),
    "knitwear": ("crewneck sweater", "cardigan", "turtleneck", "knit vest"),
    "accessories": ("scarf", "belt", "beanie", "sunglasses"),
    "activewear": ("leggings", "sports bra", "running shorts", "track jacket"),
    "jewelry": ("hoop earrings", "pendant necklace", "signet ring", "bracelet"),
    "bags": ("tote bag", "crossbody bag", "backpack", "weekender"),
}
ADJECTIVES = ("Classic", "Relaxed", "Everyday", "Tailored", "Cropped", "Oversized", "Vintage", "Essential", "Soft")
MATERIALS = ("linen", "cotton", "wool", "denim", "leather", "cashmere", "recycled", "organic", "silk")
# A seasonal buyer's months: winter for coats and knits, summer for dresses and sandals.
SEASONS = {"winter": (10, 11, 12, 1, 2), "summer": (4, 5, 6, 7, 8)}
# How each client buys: their rhythm, by share of clients, and the days between orders it means.
RHYTHMS = (("regular", 0.35), ("irregular", 0.35), ("seasonal", 0.12), ("one-time", 0.18))
REGULAR_GAPS = (14, 21, 30, 45, 60, 90)
IRREGULAR_GAPS = (20, 45, 90, 150)
MAX_ORDERS = 60


def _timestamp(instant: datetime) -> str:
    return instant.strftime("%Y-%m-%dT%H:%M:%S.") + f"{instant.microsecond // 1000:03d}Z"


@dataclass(frozen=True)
class Shop:
    """What the seed writes: users-table items, orders-table items and products-table items."""

    clients: list[dict[str, Any]]
    orders: list[dict[str, Any]]
    products: list[dict[str, Any]]


def generate_shop(count: int, *, seed: int = 7, as_of: datetime | None = None) -> Shop:
    """count clients with their order histories, and the catalog they bought from (items as plain Python values,
    numbers as Decimal)."""
    rng = random.Random(seed)
    now = (as_of or datetime.now(UTC)).astimezone(UTC)
    catalog = generate_catalog(random.Random(f"catalog-{seed}"), now)
    by_category: dict[str, list[dict[str, Any]]] = {}
    for product in catalog:
        by_category.setdefault(product["category"], []).append(product)
    clients, orders = [], []
    for index in range(count):
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        local_part = f"{first}.{last}".lower().replace("'", "").encode("ascii", "ignore").decode()
        tenure_days = rng.uniform(20, 1500)
        created = now - timedelta(days=tenure_days)
        item: dict[str, Any] = {
            "userId": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            "email": f"{local_part}.{index}@example.com",
            "name": f"{first} {last}",
            "preferredCategories": rng.sample(CATEGORIES, rng.randint(1, 3)),
            "createdAt": _timestamp(created),
            "updatedAt": _timestamp(now),
            "timezone": rng.choice(TIMEZONES),
        }
        if rng.random() < 0.04:  # signed up, never ordered
            item.update(orderCount=Decimal(0), averageOrderValue=Decimal(0))
        else:
            own = random.Random(f"{seed}-{item['userId']}")  # the history's own: the clients stay as they were
            first_order = created + timedelta(days=own.uniform(0, min(30.0, tenure_days)))
            history = _history(own, item, _order_instants(own, first_order, now), by_category)
            orders += history
            item.update(_aggregates(history, catalog))
        if rng.random() < 0.10:  # an upstream model set the score
            item["engagementScore"] = Decimal(rng.randint(5, 95))
        clients.append(item)
    return Shop(clients=clients, orders=orders, products=catalog)


def generate_clients(count: int, *, seed: int = 7, as_of: datetime | None = None) -> list[dict[str, Any]]:
    """The shop's clients alone (their aggregates still those of their generated orders)."""
    return generate_shop(count, seed=seed, as_of=as_of).clients


def generate_catalog(rng: random.Random, now: datetime) -> list[dict[str, Any]]:
    """About 25 products a category (a few hundred), on the shop's domain, about one in ten out of stock."""
    products: list[dict[str, Any]] = []
    for category in CATEGORIES:
        nouns = PRODUCT_NOUNS[category]
        titles = sorted({f"{rng.choice(ADJECTIVES)} {rng.choice(MATERIALS)} {rng.choice(nouns)}" for _ in range(40)})
        for title in titles[:25]:
            handle = title.lower().replace(" ", "-")
            product_id = f"{category[:3]}-{len(products) + 1:04d}"
            products.append({
                "productId": product_id,
                "title": title,
                "url": f"https://{SHOP_DOMAIN}/products/{handle}",
                "imageUrl": f"https://{SHOP_DOMAIN}/images/{handle}.jpg",
                "category": category,
                "price": Decimal(str(round(rng.lognormvariate(3.7, 0.45)) + 0.99)).quantize(Decimal("0.01")),
                "currency": CURRENCY,
                "inStock": rng.random() > 0.1,
                "updatedAt": _timestamp(now - timedelta(days=rng.uniform(0, 90))),
            })  # fmt: skip
    return products


def _order_instants(rng: random.Random, first: datetime, now: datetime) -> list[datetime]:
    """When a client ordered: from their first order on, in their rhythm, until now or until they leave. After each
    order a client leaves with a chance of their own (most stay for several orders, some leave at once), as the
    churn model assumes: lapsed clients are those whose silence outlasts their rhythm."""
    rhythm = rng.choices([name for name, _ in RHYTHMS], [share for _, share in RHYTHMS])[0]
    if rhythm == "one-time":
        return [first]
    leaves = rng.betavariate(1.2, 6.0)
    gap = {"regular": rng.choice(REGULAR_GAPS), "irregular": rng.choice(IRREGULAR_GAPS),
           "seasonal": rng.choice((182.5, 365.0))}[rhythm]  # fmt: skip
    if rhythm == "seasonal":  # their first order in their season (winter's coats and knits, summer's dresses)
        months, season_start = SEASONS[rng.choice(tuple(SEASONS))], first
        while season_start.month not in months:
            season_start += timedelta(days=15)
        first = season_start if season_start <= now else first
    instants, at = [first], first
    while len(instants) < MAX_ORDERS and rng.random() >= leaves:
        if rhythm == "irregular":
            at += timedelta(days=rng.expovariate(1 / gap))
        else:  # a regular or seasonal buyer: the same gap, a few days either way
            at += timedelta(days=gap * rng.uniform(0.85, 1.15))
        if at > now:
            break
        instants.append(at)
    return instants


def _history(
    rng: random.Random, client: dict[str, Any], instants: list[datetime], by_category: dict[str, list[dict[str, Any]]]
) -> list[dict[str, Any]]:
    """The client's orders at those instants, of products mostly from their favourite categories."""
    favourites = [c for c in client["preferredCategories"] if c in by_category] or list(by_category)
    orders = []
    for number, at in enumerate(instants, 1):
        lines = []
        basket = [_pick(rng, favourites, by_category) for _ in range(rng.choice((1, 1, 2, 2, 3, 4)))]
        for product in {product["productId"]: product for product in basket}.values():
            lines.append({"productId": product["productId"], "title": product["title"],
                          "quantity": rng.choice((1, 1, 1, 2)), "unitPrice": product["price"]})  # fmt: skip
        amount = sum((line["unitPrice"] * line["quantity"] for line in lines), Decimal(0))
        orders.append({
            "userId": client["userId"],
            "orderId": f"seed-{client['userId'][:8]}-{number:03d}",
            "orderedAt": _timestamp(at),
            "amount": amount,
            "currency": CURRENCY,
            "lineItems": lines,
            "source": "import",
            "recordedAt": _timestamp(at),
            "flags": [],
        })  # fmt: skip
    return orders


def _pick(rng: random.Random, favourites: list[str], by_category: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    category = rng.choice(favourites) if rng.random() < 0.8 else rng.choice(tuple(by_category))
    return rng.choice(by_category[category])


def _aggregates(history: list[dict[str, Any]], catalog: list[dict[str, Any]]) -> dict[str, Any]:
    """The client's aggregates from their orders, by the pipeline's own fold (engagement.domain.orders)."""
    from engagement.domain.orders import Order, recompute

    categories = {product["productId"]: product["category"] for product in catalog}
    aggregates = recompute((Order.model_validate(order) for order in history), categories)
    values = aggregates.attributes(derive_categories=False)
    return {name: value for name, value in values.items() if value is not None}


def write_clients(
    dynamodb: Any, table: str, clients: Sequence[dict[str, Any]], *, progress: bool = True, max_attempts: int = 8
) -> int:
    """The clients alone (for load tests: their aggregates stand without orders, as an upstream writer's would)."""
    return write_items(dynamodb, table, clients, unit="client", progress=progress, max_attempts=max_attempts)


def write_shop(
    dynamodb: Any,
    tables: dict[str, str],
    shop: Shop,
    *,
    progress: bool = True,
    before_clients: Callable[[], None] | None = None,
) -> dict[str, int]:
    """The catalog, the orders, then the clients (so the stream's first sight of a client finds their orders);
    tables: the users, orders and products tables by those names; before_clients runs once the orders are in (the
    local demo builds the co-purchase counts there). The number of items written, by table."""
    written = {
        "products": write_items(dynamodb, tables["products"], shop.products, unit="product", progress=progress),
        "orders": write_items(dynamodb, tables["orders"], shop.orders, unit="order", progress=progress),
    }
    if before_clients is not None:
        before_clients()
    return written | {"users": write_items(dynamodb, tables["users"], shop.clients, unit="client", progress=progress)}


def write_items(
    dynamodb: Any,
    table: str,
    items: Sequence[dict[str, Any]],
    *,
    unit: str,
    progress: bool = True,
    max_attempts: int = 8,
) -> int:
    """BatchWriteItem in chunks of 25, retrying unprocessed items with backoff; returns the number written."""
    from boto3.dynamodb.types import TypeSerializer
    from tqdm import tqdm

    serializer = TypeSerializer()
    written = 0
    with tqdm(total=len(items), unit=unit, disable=not progress, file=sys.stderr) as bar:
        for start in range(0, len(items), 25):
            requests = [
                {"PutRequest": {"Item": {k: serializer.serialize(v) for k, v in item.items()}}}
                for item in items[start : start + 25]
            ]
            for attempt in range(max_attempts):
                response = dynamodb.batch_write_item(RequestItems={table: requests})
                left = response.get("UnprocessedItems", {}).get(table, [])
                done = len(requests) - len(left)
                written += done
                bar.update(done)
                if not left:
                    break
                requests = left
                time.sleep(min(0.05 * 2**attempt, 2.0))
            else:
                raise RuntimeError(f"{len(requests)} items still unprocessed after {max_attempts} attempts")
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=20, help="how many clients (default 20)")
    parser.add_argument("--seed", type=int, default=7, help="random seed: the same seed gives the same clients")
    parser.add_argument("--as-of", help="ISO date the clients' histories end at (default now)")
    parser.add_argument("--endpoint-url", help="DynamoDB endpoint (default: the local mode's, unless --profile)")
    parser.add_argument("--profile", help="AWS profile: write to AWS instead of the local mode")
    parser.add_argument("--region", help="AWS region (default: the profile's, or us-east-1 locally)")
    parser.add_argument("--table", help="users table (default: the local mode's)")
    parser.add_argument("--orders-table", help="orders table (default: the local mode's)")
    parser.add_argument("--products-table", help="products table (default: the local mode's)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)

    if args.count < 1:
        parser.error("--count must be at least 1")
    as_of = None
    if args.as_of:
        try:
            as_of = datetime.fromisoformat(args.as_of.replace("Z", "+00:00"))
        except ValueError:
            parser.error(f"--as-of is not an ISO date: {args.as_of!r}")
        if as_of.tzinfo is None:
            as_of = as_of.replace(tzinfo=UTC)

    import boto3

    local = args.profile is None and args.endpoint_url is None
    if local:
        from stack.local import running_endpoint

        args.endpoint_url = running_endpoint()  # the running local mode's, whatever its port
        session = boto3.Session(
            aws_access_key_id="local",
            aws_secret_access_key="local",  # noqa: S106 - the emulator accepts any credentials
            region_name=args.region or "us-east-1",
        )
    else:
        session = boto3.Session(profile_name=args.profile, region_name=args.region)
    if None in (args.table, args.orders_table, args.products_table):
        if not local:
            parser.error("--table, --orders-table and --products-table are required when writing to AWS "
                         "(see `make deploy`'s output)")  # fmt: skip
        from stack.resources import ORDERS, PRODUCTS, USERS

        args.table, args.orders_table = args.table or USERS.name, args.orders_table or ORDERS.name
        args.products_table = args.products_table or PRODUCTS.name
    dynamodb = session.client("dynamodb", endpoint_url=args.endpoint_url)
    shop = generate_shop(args.count, seed=args.seed, as_of=as_of)
    tables = {"users": args.table, "orders": args.orders_table, "products": args.products_table}
    try:
        written = write_shop(dynamodb, tables, shop, progress=not args.no_progress)
    except Exception as exc:  # a clear message, not a traceback, for the usual causes
        target = args.endpoint_url or f"AWS ({session.region_name})"
        print(f"could not write to {args.table} at {target}: {exc}", file=sys.stderr)
        if local:
            print("is the local mode running? start it with `make local`", file=sys.stderr)
        return 1
    print(f"wrote {written['users']} clients to {args.table}, {written['orders']} orders to {args.orders_table} and "
          f"{written['products']} products to {args.products_table}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # for stack, run as a file
    sys.exit(main())
