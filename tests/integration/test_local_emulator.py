"""The emulator's DynamoDB applies each request atomically and each transaction all or nothing, as DynamoDB does:
what the local mode and the reliability suite measure is then the product, not moto's races; and a query, on the
table's key or an index's, reads one partition, not the whole table."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

from engagement.adapters.store.dynamo import from_item

THREADS = 8


def _at_once(work: Callable[[int], Any]) -> list[Any]:
    """Run work(0..THREADS-1) in threads released together; what each returned or raised."""
    start, outcomes = threading.Barrier(THREADS), [None] * THREADS

    def run(index: int) -> None:
        start.wait()
        try:
            outcomes[index] = work(index)
        except ClientError as exc:
            outcomes[index] = exc.response["Error"]["Code"]

    threads = [threading.Thread(target=run, args=(i,)) for i in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes


def _table(aws: dict[str, Any]) -> str:
    return str(aws["deployed"].tables["decisions"])


def _key(user: str, sort: str = "k") -> dict[str, Any]:
    return {"userId": {"S": user}, "decisionKey": {"S": sort}}


def test_concurrent_conditional_puts_of_one_item_let_exactly_one_win(aws: dict[str, Any]) -> None:
    for round_ in range(20):
        outcomes = _at_once(lambda i, r=round_: aws["dynamodb"].put_item(
            TableName=_table(aws), Item={**_key(f"u{r}"), "winner": {"N": str(i)}},
            ConditionExpression="attribute_not_exists(userId)"))  # fmt: skip
        assert sum(1 for outcome in outcomes if isinstance(outcome, dict)) == 1, outcomes


def test_concurrent_increments_are_never_lost(aws: dict[str, Any]) -> None:
    def add(_: int) -> None:
        for _ in range(25):
            aws["dynamodb"].update_item(TableName=_table(aws), Key=_key("counter"), UpdateExpression="ADD n :one",
                                        ExpressionAttributeValues={":one": {"N": "1"}})  # fmt: skip

    _at_once(add)
    item = aws["dynamodb"].get_item(TableName=_table(aws), Key=_key("counter"))["Item"]
    assert int(item["n"]["N"]) == THREADS * 25


def test_a_cancelled_transaction_writes_nothing_and_leaves_other_writes_alone(aws: dict[str, Any]) -> None:
    dynamodb, table = aws["dynamodb"], _table(aws)
    dynamodb.put_item(TableName=table, Item={**_key("done"), "reason": {"S": "eligible"}})
    transaction = [
        {"Put": {"TableName": table, "Item": _key("done"), "ConditionExpression": "attribute_not_exists(userId)",
                 "ReturnValuesOnConditionCheckFailure": "ALL_OLD"}},
        {"Update": {"TableName": table, "Key": _key("counter"), "UpdateExpression": "ADD n :one",
                    "ExpressionAttributeValues": {":one": {"N": "1"}}}},
    ]  # fmt: skip

    def work(index: int) -> list[Any]:
        """Half the threads retry a transaction that is cancelled; the others write items of their own."""
        outcomes = []
        for step in range(20):
            if index % 2:
                outcomes.append(dynamodb.put_item(TableName=table, Item=_key(f"other-{index}-{step}")))
                continue
            try:
                dynamodb.transact_write_items(TransactItems=transaction)
            except ClientError as refused:
                outcomes.append(refused.response["CancellationReasons"])
        return outcomes

    outcomes = _at_once(work)

    for reasons in (reasons for index in range(0, THREADS, 2) for reasons in outcomes[index]):
        assert [reason["Code"] for reason in reasons] == ["ConditionalCheckFailed", "None"]
        assert from_item(reasons[0]["Item"])["reason"] == "eligible"
    assert "Item" not in dynamodb.get_item(TableName=table, Key=_key("counter"))  # nothing written
    stored = {from_item(item)["userId"] for item in dynamodb.scan(TableName=table)["Items"]}
    written = {f"other-{index}-{step}" for index in range(1, THREADS, 2) for step in range(20)}
    assert written <= stored, f"{len(written - stored)} writes undone by a cancelled transaction"


def test_a_query_on_the_tables_key_reads_only_its_partition_and_answers_as_before(
    aws: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    from moto.dynamodb.models.table import Table

    dynamodb, table = aws["dynamodb"], _table(aws)
    for user in range(30):
        for sort in ("a", "b1", "b2", "b3", "c"):
            dynamodb.put_item(TableName=table, Item={**_key(f"u{user}", sort), "n": {"N": str(user)}})
    whole_table_reads: list[str] = []
    real_all_items = Table.all_items
    monkeypatch.setattr(Table, "all_items", lambda self: whole_table_reads.append(self.name) or real_all_items(self))

    def sorts(**request: Any) -> list[str]:
        answer = dynamodb.query(TableName=table, KeyConditionExpression="userId = :u" + request.pop("and_", ""),
                                **request)  # fmt: skip
        return [item["decisionKey"]["S"] for item in answer["Items"]]

    user = {":u": {"S": "u7"}}
    assert sorts(ExpressionAttributeValues=user) == ["a", "b1", "b2", "b3", "c"]
    assert sorts(ExpressionAttributeValues=user, ScanIndexForward=False) == ["c", "b3", "b2", "b1", "a"]
    assert sorts(ExpressionAttributeValues={**user, ":p": {"S": "b"}}, and_=" AND begins_with(decisionKey, :p)") == [
        "b1", "b2", "b3"
    ]  # fmt: skip
    first = dynamodb.query(TableName=table, KeyConditionExpression="userId = :u", ExpressionAttributeValues=user,
                           Limit=2)  # fmt: skip
    rest = dynamodb.query(TableName=table, KeyConditionExpression="userId = :u", ExpressionAttributeValues=user,
                          ExclusiveStartKey=first["LastEvaluatedKey"])  # fmt: skip
    assert [i["decisionKey"]["S"] for i in first["Items"] + rest["Items"]] == ["a", "b1", "b2", "b3", "c"]
    assert sorts(ExpressionAttributeValues={":u": {"S": "nobody"}}) == []
    assert whole_table_reads == []  # moto's own query sorted the whole table each time


def test_an_index_query_reads_only_its_partition_and_follows_every_kind_of_write(
    aws: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The emails table's indexes (byUser, byStatus) after puts, in-place updates of the indexed attribute, deletes,
    a transaction and a cancelled one: every query answers what a scan says, without reading the whole table."""
    from moto.dynamodb.models.table import Table

    dynamodb, table = aws["dynamodb"], str(aws["deployed"].tables["emails"])

    def email(number: int, user: str, status: str) -> dict[str, Any]:
        return {"emailId": {"S": f"e{number:02d}"}, "userId": {"S": user}, "status": {"S": status},
                "createdAt": {"S": f"2026-11-{1 + number % 28:02d}T00:{number:02d}:00Z"}}  # fmt: skip

    for number in range(40):
        dynamodb.put_item(TableName=table, Item=email(number, f"u{number % 5}", "PENDING_REVIEW"))
    dynamodb.query(TableName=table, IndexName="byUser", KeyConditionExpression="userId = :u",
                   ExpressionAttributeValues={":u": {"S": "u0"}})  # fmt: skip  # the keys beside the table exist now
    for number in range(0, 40, 3):  # approved and sent: the status changes in place
        dynamodb.update_item(TableName=table, Key={"emailId": {"S": f"e{number:02d}"}},
                             UpdateExpression="SET #s = :s", ExpressionAttributeNames={"#s": "status"},
                             ExpressionAttributeValues={":s": {"S": "SENT"}})  # fmt: skip
    for number in range(1, 40, 7):
        dynamodb.delete_item(TableName=table, Key={"emailId": {"S": f"e{number:02d}"}})
    dynamodb.put_item(TableName=table, Item=email(2, "u9", "CANCELLED"))  # replaced: another client, another status
    dynamodb.transact_write_items(TransactItems=[
        {"Put": {"TableName": table, "Item": email(40, "u1", "SENT")}},
        {"Update": {"TableName": table, "Key": {"emailId": {"S": "e04"}}, "UpdateExpression": "REMOVE #s",
                    "ExpressionAttributeNames": {"#s": "status"}}},
    ])  # fmt: skip
    with pytest.raises(ClientError):
        dynamodb.transact_write_items(TransactItems=[
            {"Put": {"TableName": table, "Item": email(41, "u1", "SENT")}},
            {"Delete": {"TableName": table, "Key": {"emailId": {"S": "e05"}},
                        "ConditionExpression": "attribute_not_exists(emailId)"}},
        ])  # fmt: skip
    scanned = [from_item(item) for item in dynamodb.scan(TableName=table)["Items"]]
    whole_table_reads: list[str] = []
    real_all_items = Table.all_items
    monkeypatch.setattr(Table, "all_items", lambda self: whole_table_reads.append(self.name) or real_all_items(self))

    def ids(index: str, attribute: str, value: str, **request: Any) -> list[str]:
        answer = dynamodb.query(TableName=table, IndexName=index, KeyConditionExpression="#k = :v",
                                ExpressionAttributeNames={"#k": attribute},
                                ExpressionAttributeValues={":v": {"S": value}}, **request)  # fmt: skip
        return [item["emailId"]["S"] for item in answer["Items"]]

    def expected(attribute: str, value: str) -> list[str]:
        found = [item for item in scanned if item.get(attribute) == value]
        return [item["emailId"] for item in sorted(found, key=lambda item: (item["createdAt"], item["emailId"]))]

    for user in ("u0", "u1", "u2", "u3", "u4", "u9", "nobody"):
        assert ids("byUser", "userId", user) == expected("userId", user), user
    for status in ("PENDING_REVIEW", "SENT", "CANCELLED", "FAILED"):
        assert ids("byStatus", "status", status) == expected("status", status), status
    assert ids("byStatus", "status", "SENT", ScanIndexForward=False) == expected("status", "SENT")[::-1]
    assert "e41" not in ids("byUser", "userId", "u1")  # the cancelled transaction wrote nothing
    assert whole_table_reads == []  # moto's own index query read every item of the table
