"""Seed the users table with realistic clients.

    python scripts/seed_users.py                       # 20 clients into the local mode
    python scripts/seed_users.py --count 1000 --seed 42
    python scripts/seed_users.py --profile prod --region eu-west-1 --table client-engagement-prod-users

Clients are a mix a retailer would see: active, cooling and lapsed buyers, a few who never ordered, and some
whose engagementScore was set upstream. The same --seed and --as-of give the same clients. Items are written
with BatchWriteItem, 25 at a time, retrying what DynamoDB leaves unprocessed.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
import uuid
from collections.abc import Sequence
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
# Days since the last order, by share of clients: active, cooling, drifting, lapsed.
RECENCY_SEGMENTS = ((0.30, 0, 30), (0.20, 30, 90), (0.20, 90, 180), (0.30, 180, 720))


def _timestamp(instant: datetime) -> str:
    return instant.strftime("%Y-%m-%dT%H:%M:%S.") + f"{instant.microsecond // 1000:03d}Z"


def _days_since_last_order(rng: random.Random) -> float:
    roll, floor = rng.random(), 0.0
    for share, low, high in RECENCY_SEGMENTS:
        floor += share
        if roll < floor:
            return rng.uniform(low, high)
    return rng.uniform(180, 720)


def generate_clients(count: int, *, seed: int = 7, as_of: datetime | None = None) -> list[dict[str, Any]]:
    """count clients as users-table items (plain Python values; numbers as Decimal)."""
    rng = random.Random(seed)
    now = (as_of or datetime.now(UTC)).astimezone(UTC)
    clients = []
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
            days = min(_days_since_last_order(rng), tenure_days)
            orders = max(1, int(rng.lognormvariate(1.6, 0.8) * min(1.0, tenure_days / 365)))
            item.update(
                lastOrderDate=_timestamp(now - timedelta(days=days)),
                orderCount=Decimal(orders),
                averageOrderValue=Decimal(str(round(rng.lognormvariate(4.6, 0.5), 2))),
            )
        if rng.random() < 0.10:  # an upstream model set the score
            item["engagementScore"] = Decimal(rng.randint(5, 95))
        clients.append(item)
    return clients


def write_clients(
    dynamodb: Any, table: str, clients: Sequence[dict[str, Any]], *, progress: bool = True, max_attempts: int = 8
) -> int:
    """BatchWriteItem in chunks of 25, retrying unprocessed items with backoff; returns the number written."""
    from boto3.dynamodb.types import TypeSerializer
    from tqdm import tqdm

    serializer = TypeSerializer()
    written = 0
    with tqdm(total=len(clients), unit="client", disable=not progress, file=sys.stderr) as bar:
        for start in range(0, len(clients), 25):
            requests = [
                {"PutRequest": {"Item": {k: serializer.serialize(v) for k, v in client.items()}}}
                for client in clients[start : start + 25]
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
    if args.table is None:
        if not local:
            parser.error("--table is required when writing to AWS (see `make deploy`'s output)")
        from stack.resources import USERS

        args.table = USERS.name
    dynamodb = session.client("dynamodb", endpoint_url=args.endpoint_url)
    clients = generate_clients(args.count, seed=args.seed, as_of=as_of)
    try:
        written = write_clients(dynamodb, args.table, clients, progress=not args.no_progress)
    except Exception as exc:  # a clear message, not a traceback, for the usual causes
        target = args.endpoint_url or f"AWS ({session.region_name})"
        print(f"could not write to {args.table} at {target}: {exc}", file=sys.stderr)
        if local:
            print("is the local mode running? start it with `make local`", file=sys.stderr)
        return 1
    print(f"wrote {written} clients to {args.table}")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # for stack, run as a file
    sys.exit(main())
