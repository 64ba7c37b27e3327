from __future__ import annotations

import pytest

from localmode.filters import passes

RECORD = {"eventName": "MODIFY", "dynamodb": {"NewImage": {"band": {"S": "at_risk"}}}, "awsRegion": "us-east-1"}


@pytest.mark.parametrize(
    ("patterns", "delivered"),
    [
        ((), True),
        (({"eventName": ["INSERT", "MODIFY", "REMOVE"]},), True),
        (({"eventName": ["INSERT"]},), False),
        (({"eventName": ["INSERT"]}, {"awsRegion": ["us-east-1"]}), True),  # any pattern
        (({"dynamodb": {"NewImage": {"band": {"S": ["at_risk"]}}}},), True),
        (({"dynamodb": {"NewImage": {"band": {"S": [{"prefix": "at"}]}}}},), True),
        (({"dynamodb": {"NewImage": {"email": {"S": [{"exists": True}]}}}},), False),
        (({"dynamodb": {"NewImage": {"email": {"S": [{"exists": False}]}}}},), True),  # absent, parent and all
        (({"eventName": [{"anything-but": ["REMOVE"]}]},), True),
        (({"eventName": ["MODIFY"], "awsRegion": ["eu-west-1"]},), False),  # every key must match
    ],
)
def test_filter_patterns_deliver_what_lambda_would(patterns: tuple[dict[str, object], ...], delivered: bool) -> None:
    assert passes(patterns, RECORD) is delivered
