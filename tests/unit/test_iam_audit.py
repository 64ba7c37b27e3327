"""The IAM audit's evaluator, against the IAM User Guide's documented behaviour ("Policy evaluation logic",
"Condition operators", "Multivalued context keys"), and the authorisations it derives from a call."""

from __future__ import annotations

from typing import Any

import pytest

from localmode.iam_audit import (
    UNREAD_PARTITION,
    Place,
    Request,
    UnmappedCall,
    audit,
    essentials,
    evaluate,
    requests_for,
    statements_of,
)

TABLE = "arn:aws:dynamodb:us-east-1:123456789012:table/decisions"
KEY = "arn:aws:kms:us-east-1:123456789012:key/k-1"


def policy(*statements: dict[str, Any]) -> list[Any]:
    return statements_of({"Version": "2012-10-17", "Statement": list(statements)}, policy="runtime")


def allow(action: Any, resource: Any = "*", sid: str = "Allowed", **condition: Any) -> dict[str, Any]:
    statement = {"Sid": sid, "Effect": "Allow", "Action": action, "Resource": resource}
    return statement | ({"Condition": condition} if condition else {})


def test_nothing_allows_what_no_statement_names_the_implicit_deny() -> None:
    verdict = evaluate(Request("dynamodb:PutItem", TABLE), policy(allow("dynamodb:GetItem", TABLE)))
    assert (verdict.allowed, verdict.by) == (False, None)


def test_an_explicit_deny_overrides_any_allow() -> None:
    statements = policy(
        allow("dynamodb:*", "*"),
        {"Sid": "NoDeletes", "Effect": "Deny", "Action": "dynamodb:DeleteItem", "Resource": TABLE},
    )
    assert evaluate(Request("dynamodb:PutItem", TABLE), statements).allowed
    verdict = evaluate(Request("dynamodb:DeleteItem", TABLE), statements)
    assert not verdict.allowed
    assert verdict.by is not None
    assert verdict.by.sid == "NoDeletes"


def test_actions_match_without_regard_to_case_and_with_wildcards() -> None:
    statements = policy(allow(["DynamoDB:get*", "sqs:?eceiveMessage"], "*"))
    assert evaluate(Request("dynamodb:GetItem", TABLE), statements).allowed
    assert evaluate(Request("sqs:ReceiveMessage", "*"), statements).allowed
    assert not evaluate(Request("dynamodb:PutItem", TABLE), statements).allowed


def test_a_resource_wildcard_spans_the_index_path_but_the_table_needs_its_own_arn() -> None:
    statements = policy(allow("dynamodb:Query", f"{TABLE}/index/*"))
    assert evaluate(Request("dynamodb:Query", f"{TABLE}/index/byUser"), statements).allowed
    assert not evaluate(Request("dynamodb:Query", TABLE), statements).allowed


def test_not_action_and_not_resource_allow_everything_else() -> None:
    statements = policy(
        {"Sid": "AllButIam", "Effect": "Allow", "NotAction": "iam:*", "NotResource": f"{TABLE}/index/*"}
    )
    assert evaluate(Request("dynamodb:GetItem", TABLE), statements).allowed
    assert not evaluate(Request("iam:PassRole", "*"), statements).allowed
    assert not evaluate(Request("dynamodb:Query", f"{TABLE}/index/byUser"), statements).allowed


def test_leading_keys_for_all_values_limit_a_write_to_its_partition() -> None:
    statements = policy(
        allow("dynamodb:PutItem", TABLE, **{"ForAllValues:StringEquals": {"dynamodb:LeadingKeys": ["#stats"]}})
    )
    assert evaluate(Request("dynamodb:PutItem", TABLE, (("dynamodb:LeadingKeys", ("#stats",)),)), statements).allowed
    assert not evaluate(
        Request("dynamodb:PutItem", TABLE, (("dynamodb:LeadingKeys", ("user-1",)),)), statements
    ).allowed
    mixed = (("dynamodb:LeadingKeys", ("#stats", "user-1")),)
    assert not evaluate(Request("dynamodb:PutItem", TABLE, mixed), statements).allowed
    # The guide's caution: ForAllValues holds when the key is absent from the request.
    assert evaluate(Request("dynamodb:PutItem", TABLE), statements).allowed


def test_for_any_value_needs_one_match_and_fails_on_an_absent_key() -> None:
    statements = policy(
        allow("dynamodb:GetItem", TABLE, **{"ForAnyValue:StringLike": {"dynamodb:LeadingKeys": ["#*"]}})
    )
    assert evaluate(
        Request("dynamodb:GetItem", TABLE, (("dynamodb:LeadingKeys", ("a", "#stats")),)), statements
    ).allowed
    assert not evaluate(Request("dynamodb:GetItem", TABLE, (("dynamodb:LeadingKeys", ("a",)),)), statements).allowed
    assert not evaluate(Request("dynamodb:GetItem", TABLE), statements).allowed


def test_string_equals_on_a_single_valued_key_and_if_exists() -> None:
    identity = "arn:aws:ses:us-east-1:123456789012:identity/shop.example.com"
    exact = policy(allow("ses:SendEmail", identity, StringEquals={"ses:FromAddress": ["winback@shop.example.com"]}))
    lenient = policy(allow("ses:SendEmail", identity, StringEqualsIfExists={"ses:FromAddress": ["a@shop.example.com"]}))
    sent_as = (("ses:FromAddress", ("winback@shop.example.com",)),)
    assert evaluate(Request("ses:SendEmail", identity, sent_as), exact).allowed
    assert not evaluate(
        Request("ses:SendEmail", identity, (("ses:FromAddress", ("x@shop.example.com",)),)), exact
    ).allowed
    assert not evaluate(Request("ses:SendEmail", identity), exact).allowed  # absent: the condition fails
    assert evaluate(Request("ses:SendEmail", identity), lenient).allowed  # ...IfExists: absent passes


def test_negated_and_null_operators() -> None:
    not_stats = policy(allow("dynamodb:GetItem", TABLE, StringNotEquals={"dynamodb:LeadingKeys": ["#stats"]}))
    must_be_absent = policy(allow("dynamodb:GetItem", TABLE, Null={"dynamodb:LeadingKeys": ["true"]}))
    assert evaluate(Request("dynamodb:GetItem", TABLE, (("dynamodb:LeadingKeys", ("u1",)),)), not_stats).allowed
    assert not evaluate(Request("dynamodb:GetItem", TABLE, (("dynamodb:LeadingKeys", ("#stats",)),)), not_stats).allowed
    # The guide: a negated operator on a key the request does not have is true.
    assert evaluate(Request("dynamodb:GetItem", TABLE), not_stats).allowed
    assert evaluate(Request("dynamodb:GetItem", TABLE), must_be_absent).allowed
    assert not evaluate(
        Request("dynamodb:GetItem", TABLE, (("dynamodb:LeadingKeys", ("u1",)),)), must_be_absent
    ).allowed


def test_arn_operators_match_each_of_the_six_parts_with_wildcards() -> None:
    statements = policy(
        {"Sid": "NotFromOtherRegions", "Effect": "Deny", "Action": "ses:SendEmail", "Resource": "*",
         "Condition": {"ArnNotEquals": {"ses:FromAddress": ["arn:aws:ses:us-east-1:*:identity/*"]}}},
        allow("ses:SendEmail"),
    )  # fmt: skip
    inside = (("ses:FromAddress", ("arn:aws:ses:us-east-1:123456789012:identity/shop.example.com",)),)
    outside = (("ses:FromAddress", ("arn:aws:ses:eu-west-1:123456789012:identity/shop.example.com",)),)
    assert evaluate(Request("ses:SendEmail", "*", inside), statements).allowed
    assert not evaluate(Request("ses:SendEmail", "*", outside), statements).allowed


def test_a_condition_key_the_audit_does_not_fill_is_named_rather_than_taken_as_absent() -> None:
    statements = policy(allow("dynamodb:GetItem", TABLE, StringNotEquals={"aws:SourceVpc": ["vpc-1"]}))
    with pytest.raises(ValueError, match="aws:SourceVpc"):
        evaluate(Request("dynamodb:GetItem", TABLE), statements)


def test_an_operator_the_audit_does_not_know_is_named_rather_than_guessed() -> None:
    statements = policy(allow("dynamodb:GetItem", TABLE, DateGreaterThan={"dynamodb:LeadingKeys": ["2020-01-01"]}))
    with pytest.raises(ValueError, match="DateGreaterThan"):
        evaluate(Request("dynamodb:GetItem", TABLE, (("dynamodb:LeadingKeys", ("2026-01-01",)),)), statements)


def test_a_url_encoded_document_as_iam_stores_it_is_read() -> None:
    encoded = (
        "%7B%22Statement%22%3A%20%7B%22Effect%22%3A%20%22Allow%22%2C%20%22Action%22%3A%20%22sqs%3A%2A%22%2C%20"
        "%22Resource%22%3A%20%22%2A%22%7D%7D"
    )
    (statement,) = statements_of(encoded)
    assert (statement.effect, statement.actions, statement.resources) == ("Allow", ("sqs:*",), ("*",))


# ---- calls → authorisations -------------------------------------------------------------------------------------

PLACE = Place(
    region="us-east-1",
    account="123456789012",
    hash_key=lambda table: "emailId" if table == "emails" else "userId",
    kms_key_of=lambda arn: KEY if ":sqs:" in arn or ":sns:" in arn or "openrouter" in arn else None,
)


def test_a_batch_and_a_transaction_need_each_table_they_touch_with_its_leading_keys() -> None:
    batch = essentials(
        {
            "RequestItems": {
                "emails": {"Keys": [{"emailId": {"S": "e1"}}]},
                "decisions": {"Keys": [{"userId": {"S": "u1"}, "decisionKey": {"S": "d"}}]},
            }
        }
    )
    transaction = essentials(
        {
            "TransactItems": [
                {"Put": {"TableName": "decisions", "Item": {"userId": {"S": "u1"}, "note": {"S": "x" * 5000}}}},
                {
                    "Update": {
                        "TableName": "decisions",
                        "Key": {"userId": {"S": "#stats#3"}},
                        "UpdateExpression": "ADD n :one",
                    }
                },
            ]
        }
    )
    assert {str(r) for r in requests_for("dynamodb", "BatchGetItem", batch, PLACE)} == {
        "dynamodb:BatchGetItem on arn:aws:dynamodb:us-east-1:123456789012:table/emails [dynamodb:LeadingKeys=e1]",
        "dynamodb:BatchGetItem on arn:aws:dynamodb:us-east-1:123456789012:table/decisions [dynamodb:LeadingKeys=u1]",
    }
    assert [str(r) for r in requests_for("dynamodb", "TransactWriteItems", transaction, PLACE)] == [
        f"dynamodb:PutItem on {TABLE} [dynamodb:LeadingKeys=u1]",
        f"dynamodb:UpdateItem on {TABLE} [dynamodb:LeadingKeys=#stats#3]",
    ]
    assert "x" * 5000 not in str(transaction)  # an item's content is never recorded


def test_a_query_names_the_partition_its_key_condition_reads_and_an_index_query_its_index() -> None:
    on_table = {"TableName": "decisions", "KeyConditionExpression": "#u = :u AND begins_with(decisionKey, :d)",
                "ExpressionAttributeNames": {"#u": "userId"},
                "ExpressionAttributeValues": {":u": {"S": "u9"}, ":d": {"S": "decision#"}}}  # fmt: skip
    on_index = {"TableName": "emails", "IndexName": "byUser", "KeyConditionExpression": "userId = :u",
                "ExpressionAttributeValues": {":u": {"S": "u9"}}}  # fmt: skip
    (table,) = requests_for("dynamodb", "Query", essentials(on_table), PLACE)
    (index,) = requests_for("dynamodb", "Query", essentials(on_index), PLACE)
    assert str(table) == f"dynamodb:Query on {TABLE} [dynamodb:LeadingKeys=u9]"
    # The index's partition is not the table's: the audit does not guess which one AWS checks.
    assert index.resource.endswith(":table/emails/index/byUser")
    assert index.key("dynamodb:LeadingKeys") == (UNREAD_PARTITION,)


def test_sending_to_an_encrypted_queue_or_topic_needs_its_key_too() -> None:
    queue = requests_for("sqs", "SendMessageBatch", {"QueueUrl": "http://x/123456789012/work-dlq"}, PLACE)
    topic = requests_for("sns", "PublishBatch", {"TopicArn": "arn:aws:sns:us-east-1:123456789012:events"}, PLACE)
    assert [r.action for r in queue] == ["sqs:SendMessage", "kms:GenerateDataKey", "kms:Decrypt"]
    assert [r.resource for r in queue] == ["arn:aws:sqs:us-east-1:123456789012:work-dlq", KEY, KEY]
    assert [r.action for r in topic] == ["sns:Publish", "kms:GenerateDataKey", "kms:Decrypt"]


def test_an_email_is_authorised_on_its_identity_and_configuration_set_as_its_sender() -> None:
    params = {"FromEmailAddress": "Northwind <winback@shop.example.com>", "ConfigurationSetName": "emails"}
    requests = requests_for("sesv2", "SendEmail", essentials(params), PLACE)
    assert [(r.action, r.resource.rsplit(":", 1)[1], r.key("ses:FromAddress")) for r in requests] == [
        ("ses:SendEmail", "identity/shop.example.com", ("winback@shop.example.com",)),
        ("ses:SendEmail", "configuration-set/emails", ("winback@shop.example.com",)),
    ]


def test_a_secure_string_read_needs_its_parameter_and_its_key() -> None:
    requests = requests_for("ssm", "GetParameter", {"Name": "/app/openrouter-api-key", "WithDecryption": True}, PLACE)
    assert [str(r).split(" (")[0] for r in requests] == [
        "ssm:GetParameter on arn:aws:ssm:us-east-1:123456789012:parameter/app/openrouter-api-key",
        f"kms:Decrypt on {KEY}",
    ]


def test_the_audit_names_what_is_denied_and_the_statements_nothing_used() -> None:
    statements = policy(allow("dynamodb:GetItem", TABLE, sid="ReadDecisions"), allow("sqs:SendMessage", sid="Send"))
    report = audit(
        {
            "email_processor": [
                Request("dynamodb:GetItem", TABLE),
                Request("dynamodb:PutItem", TABLE),
                Request("dynamodb:GetItem", TABLE),
            ]
        },
        {"email_processor": statements},
    )
    assert (report.checked, report.distinct) == (3, 2)
    assert [(f, r.action) for f, r, _ in report.denied] == [("email_processor", "dynamodb:PutItem")]
    assert report.unused == [("email_processor", "runtime:Send")]
    assert (
        report.lines()[1]
        == f"  DENIED  email_processor: dynamodb:PutItem on {TABLE}: no statement of its role allows it"
    )


def test_a_write_whose_partition_was_not_recorded_fails_a_leading_keys_condition() -> None:
    statements = policy(
        allow("dynamodb:PutItem", TABLE, **{"ForAllValues:StringEquals": {"dynamodb:LeadingKeys": ["#stats"]}})
    )
    (request,) = requests_for(
        "dynamodb", "PutItem", essentials({"TableName": "decisions", "Item": {"n": {"N": "1"}}}), PLACE
    )
    assert request.key("dynamodb:LeadingKeys") == (UNREAD_PARTITION,)
    assert not evaluate(request, statements).allowed


def test_a_call_the_audit_cannot_map_is_reported_not_guessed() -> None:
    with pytest.raises(UnmappedCall, match=r"iam\.PassRole"):
        requests_for("iam", "PassRole", {}, PLACE)
    assert [str(r) for r in requests_for("cloudwatch", "GetMetricData", {}, PLACE)] == ["cloudwatch:GetMetricData on *"]


def test_a_put_limited_to_some_attributes_allows_an_item_of_those_names_only() -> None:
    statements = policy(allow("dynamodb:PutItem", TABLE, **{"ForAllValues:StringEquals": {
        "dynamodb:Attributes": ["userId", "decisionKey", "requestedAt", "expiresAt"]}}))  # fmt: skip
    key = {"userId": {"S": "u1"}, "decisionKey": {"S": "request#r1"}}
    request_record = essentials({"TableName": "decisions", "Item": {**key, "requestedAt": {"S": "t"}}})
    forged = essentials({"TableName": "decisions", "Item": {**key, "reason": {"S": "eligible"}}})
    [allowed] = requests_for("dynamodb", "PutItem", request_record, PLACE)
    [refused] = requests_for("dynamodb", "PutItem", forged, PLACE)
    assert evaluate(allowed, statements).allowed
    assert not evaluate(refused, statements).allowed
