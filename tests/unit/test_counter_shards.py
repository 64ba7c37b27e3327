"""The decision and conversion counters are spread over shards, so no single item takes every write."""

from __future__ import annotations

from collections import Counter

from engagement.adapters.store.decisions import COUNTER_SHARDS, DecisionRepository


def test_ten_thousand_decisions_spread_over_every_shard_evenly() -> None:
    repository = DecisionRepository("decisions", dynamodb=object())  # type: ignore[arg-type]  # builds requests only
    owners = [f"client-{index:05d}" for index in range(10_000)]

    per_shard = Counter(repository.increment(owner, decided_eligible=1)["Update"]["Key"]["userId"]["S"]
                        for owner in owners)  # fmt: skip

    assert len(per_shard) == COUNTER_SHARDS == 16
    mean = len(owners) / COUNTER_SHARDS
    # The busiest shard takes about a sixteenth of the writes: ~1,000 writes a second each, 16,000 for the product.
    assert max(per_shard.values()) < 1.15 * mean, per_shard
    assert min(per_shard.values()) > 0.85 * mean, per_shard
