"""The churn model's versions: one item per fit (partition `model` = "churn", sort key `version` = when it was fitted),
newest last; every function scores with the newest. Old versions stay for a year (TTL) so a fit can be compared
with the ones before it.

Functions read the latest through a short in-process cache (a minute; the API's, which an operator watches, five
seconds), and keep the version they have when a read fails; with none read yet, the failure is transient and the
batch is retried.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError
from pydantic import ValidationError

from engagement.adapters import aws
from engagement.adapters.store.dynamo import from_item, to_item, translated_errors
from engagement.domain.churn_model import MODEL_NAME, ChurnModel
from engagement.errors import TransientFailure
from engagement.observability import logger

if TYPE_CHECKING:
    from types_boto3_dynamodb import DynamoDBClient

KEPT_FOR = timedelta(days=365)


class ChurnModelRepository:
    def __init__(
        self,
        table_name: str,
        dynamodb: DynamoDBClient | None = None,
        *,
        max_age_s: float = 60.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.table_name = table_name
        self._dynamodb = dynamodb or aws.client("dynamodb")
        self.max_age_s = max_age_s
        self._monotonic = monotonic
        self._cached: tuple[float, ChurnModel | None] | None = None

    def latest(self, *, at_least: str | None = None) -> ChurnModel | None:
        """The newest version, read at most once per max_age_s (or again when the one read is older than the
        version at_least); None while no fit was ever stored."""
        now = self._monotonic()
        if self._cached is not None and now - self._cached[0] < self.max_age_s:
            cached = self._cached[1]
            if at_least is None or (cached is not None and cached.version >= at_least):
                return cached
        try:
            model = self.newest()
        except (TransientFailure, ClientError) as exc:
            if self._cached is None:
                raise TransientFailure(f"read the churn model: {exc}") from exc
            logger.warning("churn model not re-read; scoring with the version already read", extra={"error": str(exc)})
            self._cached = (now, self._cached[1])
            return self._cached[1]
        self._cached = (now, model)
        return model

    def newest(self) -> ChurnModel | None:
        """The newest version, read now (consistently)."""
        with translated_errors("read the churn model"):
            response = self._dynamodb.query(
                TableName=self.table_name,
                KeyConditionExpression="#model = :model",
                ExpressionAttributeNames={"#model": "model"},
                ExpressionAttributeValues={":model": {"S": MODEL_NAME}},
                ScanIndexForward=False,
                Limit=1,
                ConsistentRead=True,
            )
        items = response.get("Items", [])
        if not items:
            return None
        stored = from_item(items[0])
        try:
            return ChurnModel.model_validate(stored)
        except ValidationError as exc:  # a hand-edited or future item: score by the rules rather than fail
            logger.error("the stored churn model is unreadable", extra={"version": stored.get("version"),
                                                                      "error": str(exc)})  # fmt: skip
            return None

    def save(self, model: ChurnModel) -> None:
        item = {"model": MODEL_NAME, **model.model_dump(mode="json", by_alias=True, exclude_none=True),
                "expiresAt": int((model.fitted_at + KEPT_FOR).timestamp())}  # fmt: skip
        with translated_errors(f"store churn model {model.version}"):
            self._dynamodb.put_item(TableName=self.table_name, Item=to_item(item))
        self._cached = (self._monotonic(), model)
