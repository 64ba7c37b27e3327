"""The stream processor's work: stream records in, engagement events out.

A batch is handled in two steps so that SNS is called once per ten events, not once per record:
`interpret` reads each record (inside powertools' BatchProcessor), then `publish` sends the events with
PublishBatch and reports which records must be retried.

Records that can never succeed go to the dead-letter queue at once and count as handled: a retried stream record
holds back its whole shard. Only transient errors (throttling, network) are reported for retry.
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from typing import Any

from engagement.adapters.messaging import (
    DEAD_LETTER_ATTRIBUTE_BYTES,
    MAX_MESSAGE_BYTES,
    DeadLetterQueue,
    EventPublisher,
)
from engagement.adapters.store.churn_models import ChurnModelRepository
from engagement.adapters.store.dynamo import from_item
from engagement.adapters.store.users import UserRepository
from engagement.clock import Clock
from engagement.domain.events import erased_system_attributes, event_from_change
from engagement.domain.models import EngagementEvent, EventType
from engagement.errors import InvalidRecord, Refused, TransientFailure
from engagement.observability import count, logger


class StreamService:
    def __init__(
        self,
        users: UserRepository,
        publisher: EventPublisher,
        dead_letters: DeadLetterQueue,
        clock: Clock,
        models: ChurnModelRepository,
    ) -> None:
        self.users = users
        self.models = models
        self.publisher = publisher
        self.dead_letters = dead_letters
        self.clock = clock

    def interpret(self, raw: dict[str, Any]) -> EngagementEvent | None:
        change = raw.get("dynamodb") or {}
        event_id = str(raw.get("eventID") or change.get("SequenceNumber") or "")
        logger.set_correlation_id(event_id)
        try:
            if not event_id:
                raise InvalidRecord("record has no eventID", "eventID")
            old_image, new_image = _image(change, "OldImage"), _image(change, "NewImage")
            event = event_from_change(
                event_name=str(raw.get("eventName")),
                event_id=event_id,
                occurred_at=_creation_time(change, self.clock),
                old_image=old_image,
                new_image=new_image,
                now=self.clock.now(),
                model=self.models.latest(),
            )
        except InvalidRecord as invalid:
            self._dead_letter(raw, invalid.reason, invalid.field)
            return None
        except Exception as unexpected:  # interpreting is pure: whatever breaks it is in the record itself
            logger.exception("record could not be interpreted", extra={"eventId": event_id})
            self._dead_letter(raw, f"record could not be interpreted: {type(unexpected).__name__}: {unexpected}", None)
            return None
        if event is None:
            logger.debug("no fact changed; nothing to publish", extra={"eventId": event_id})
            count("RecordsWithoutFactChange")
        if event is None or event.type is EventType.CLIENT_UPDATED:
            self._restore_erased(old_image, new_image)
        return event

    def _restore_erased(self, old_image: dict[str, Any] | None, new_image: dict[str, Any] | None) -> None:
        """An upstream put of the whole item erased the system's attributes: put them back (one write, no event),
        rather than leave the client unscored for the sweep to republish. TransientFailure retries the record."""
        erased = erased_system_attributes(old_image, new_image)
        if not erased or new_image is None:
            return
        try:
            self.users.restore(str(new_image.get("userId")), erased)
        except Refused as exc:  # the item at its size limit, say: the next score write sets them again
            logger.error("erased attributes not restored", extra={"attributes": sorted(erased), "error": str(exc)})
            return
        logger.info("erased attributes restored", extra={"attributes": sorted(erased)})
        count("SystemAttributesRestored")

    def publish(self, pending: list[tuple[Any, EngagementEvent]]) -> list[tuple[Any, Exception]]:
        if not pending:
            return []
        events = [event for _, event in pending]
        failed: dict[int, Exception] = {}
        for failure in self.publisher.publish(events):
            record, event = pending[failure.index]
            if failure.sender_fault:
                # SNS says the message itself is wrong: retrying it can only hold the shard back.
                reason = f"SNS refused the event: {failure.code}: {failure.message}"
                try:
                    self._dead_letter(record.raw_event, reason, None)
                except TransientFailure as exc:
                    failed[failure.index] = exc
            else:
                failed[failure.index] = TransientFailure(f"publish {event.id}: {failure.code}: {failure.message}")
        published = [(index, event) for index, event in enumerate(events) if index not in failed]
        count("EventsPublished", len(published))
        if failed:
            count("EventPublishFailures", len(failed))
        for index, event in published:
            try:
                self._record_score(event)
            except TransientFailure as exc:
                failed[index] = exc
            except Refused as exc:  # refused for good (say, an item at the size limit): the event is out
                logger.error("score not stored", extra={"eventId": event.id, "error": str(exc)})
                count("ScoreWritesRefused")
        for index, event in enumerate(events):
            logger.set_correlation_id(event.id)
            facts = {
                "eventId": event.id,
                "eventType": event.type.value,
                "userId": event.client.user_id,
                "band": event.score.band.value,
                "score": event.score.value,
            }
            if index in failed:
                logger.warning("event not published; will retry", extra={**facts, "error": str(failed[index])})
            else:
                logger.info("event published", extra=facts)
        return [(pending[index][0], error) for index, error in sorted(failed.items())]

    def _record_score(self, event: EngagementEvent) -> None:
        """Keep the computed score and band on the item (non-fact attributes, so no new event follows)."""
        if event.type is EventType.CLIENT_DELETED:
            return
        client, score = event.client, event.score
        if client.computed_score == score.computed_value and client.band is score.band:
            return
        self.users.record_score(client.user_id, score.computed_value, score.band, self.clock.now())

    def _dead_letter(self, raw: dict[str, Any], reason: str, field_name: str | None) -> None:
        logger.error(
            "record dead-lettered",
            extra={
                "reason": reason,
                "field": field_name,
                "eventId": raw.get("eventID"),
                "sequenceNumber": (raw.get("dynamodb") or {}).get("SequenceNumber"),
            },
        )
        count("RecordsDeadLettered")
        body = json.dumps(raw, default=str)
        size = len(body.encode())
        if size > MAX_MESSAGE_BYTES - DEAD_LETTER_ATTRIBUTE_BYTES:  # SQS would refuse it, and the shard wait 24 h
            body = json.dumps(_position_of(raw, size), default=str)
        self.dead_letters.send(body, reason=reason, field=field_name, failed_at=self.clock.now())


def _position_of(raw: dict[str, Any], size: int) -> dict[str, Any]:
    """What a dead letter keeps of a record too large for an SQS message: which item, and where in the stream."""
    change = raw.get("dynamodb")
    change = change if isinstance(change, dict) else {}
    kept = {name: change.get(name) for name in ("Keys", "SequenceNumber", "ApproximateCreationDateTime", "SizeBytes")}
    for name, value in kept.items():  # a real key is at most 2 KB (DynamoDB's limit), the rest far less
        if len(json.dumps(value, default=str)) > 4096:
            kept[name] = "over 4 KB: left out"
    return {
        "truncated": f"the record is {size} bytes, more than an SQS message holds: the item is in the table, and "
        "the whole record in the stream for 24 hours",
        "eventID": str(raw.get("eventID") or "")[:128],
        "eventName": str(raw.get("eventName") or "")[:32],
        "eventSourceARN": str(raw.get("eventSourceARN") or "")[:512],
        "dynamodb": kept,
    }


def _image(change: dict[str, Any], side: str) -> dict[str, Any] | None:
    image = change.get(side)
    if image is None:
        return None
    try:
        return from_item(_binaries_decoded(image))
    except (TypeError, ValueError, KeyError, AttributeError, RecursionError) as exc:
        raise InvalidRecord(f"{side} is not a DynamoDB image: {exc}", side) from exc


def _binaries_decoded(value: Any) -> Any:
    """Lambda's stream event carries B and BS values as base64 text; the deserialiser wants bytes."""
    if isinstance(value, dict):
        if len(value) == 1 and "B" in value and isinstance(value["B"], str):
            return {"B": base64.b64decode(value["B"], validate=True)}
        if len(value) == 1 and "BS" in value and isinstance(value["BS"], list):
            return {"BS": [base64.b64decode(item, validate=True) if isinstance(item, str) else item
                           for item in value["BS"]]}  # fmt: skip
        return {key: _binaries_decoded(inner) for key, inner in value.items()}
    if isinstance(value, list):
        return [_binaries_decoded(inner) for inner in value]
    return value


def _creation_time(change: dict[str, Any], clock: Clock) -> datetime:
    """When DynamoDB saw the change (epoch seconds in Lambda's stream event)."""
    created = change.get("ApproximateCreationDateTime")
    if isinstance(created, int | float) and not isinstance(created, bool):
        return datetime.fromtimestamp(created, UTC)
    return clock.now()
