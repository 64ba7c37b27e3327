"""An IAM audit moto cannot give: every AWS call each function made, checked against that function's role policies
as the Terraform applied them.

moto's own enforcement is of no use here: it checks resources only for SQS, ignores conditions, and names some
actions wrongly, so it denies calls these policies allow. Instead the local runtime records each call a function
makes through boto3 (service, operation, the parameters that name resources and condition keys), and this module:

- turns each call into the authorisations AWS checks for it: an IAM action, a resource ARN and the condition keys
  that apply (`dynamodb:LeadingKeys`, `ses:FromAddress`), one per table a batch or transaction touches, and the
  KMS use an encrypted queue, topic or SecureString implies;
- adds what Lambda does with the function's role: its event source mappings' reads (stream or queue), their
  on-failure destination, and the function's own log stream;
- evaluates each against the role's policies: an explicit Deny wins, then any Allow; actions and resources with
  `*` and `?` wildcards; the condition operators the policies use (String*, Arn*, Bool, Null, Numeric*, with
  `IfExists` and the `ForAllValues:`/`ForAnyValue:` set operators), per the IAM policy evaluation logic in the IAM
  User Guide ("Policy evaluation logic", "IAM JSON policy elements: Condition operators", "Multivalued context
  keys").

No well-kept Python evaluator of identity policies exists to reuse (policyuniverse and parliament expand and lint
policies; they do not evaluate requests), so this one is kept small and tested against the guide's examples
(tests/unit/test_iam_audit.py).
"""

from __future__ import annotations

import fnmatch
import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

# ---- recording (in the function's worker process) ---------------------------------------------------------------

_NAMING = ("TableName", "IndexName", "Key", "KeyConditionExpression", "ExpressionAttributeNames", "QueueUrl",
           "QueueName", "TopicArn", "Name", "Names", "WithDecryption", "FromEmailAddress", "ConfigurationSetName",
           "StreamArn", "Namespace")  # fmt: skip


def _scalars(item: dict[str, Any] | None) -> dict[str, Any]:
    """An item's short string and number attributes: enough to find its key, without its content."""
    return {
        name: value
        for name, value in (item or {}).items()
        if isinstance(value, dict) and ("S" in value or "N" in value) and len(str(value.get("S", ""))) <= 2048
    }


def essentials(params: dict[str, Any]) -> dict[str, Any]:
    """The parameters of a call that name its resources and its condition keys (never an item's content)."""
    kept = {name: params[name] for name in _NAMING if name in params}
    if "Item" in params:
        kept["Item"] = _scalars(params["Item"])
        kept["ItemAttributes"] = sorted(params["Item"])  # names only: PutItem's dynamodb:Attributes
    if "ExpressionAttributeValues" in params and "KeyConditionExpression" in params:
        kept["ExpressionAttributeValues"] = _scalars(params["ExpressionAttributeValues"])
    if "RequestItems" in params:  # BatchGetItem, BatchWriteItem: each table's keys
        kept["RequestItems"] = {
            table: [_scalars(key) for key in request.get("Keys", [])]
            if isinstance(request, dict)
            else [
                _scalars(w.get("PutRequest", {}).get("Item") or w.get("DeleteRequest", {}).get("Key")) for w in request
            ]
            for table, request in params["RequestItems"].items()
        }
    if "TransactItems" in params:
        kept["TransactItems"] = [
            {"kind": kind, "TableName": body["TableName"], "Key": _scalars(body.get("Key") or body.get("Item"))}
            for entry in params["TransactItems"]
            for kind, body in entry.items()
        ]
    return kept


# ---- what AWS authorises for a call -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Request:
    """One authorisation: an action on a resource, with the condition keys that apply to it."""

    action: str
    resource: str
    context: tuple[tuple[str, tuple[str, ...]], ...] = ()
    origin: str = "call"  # or "event source mapping", "Lambda's logs", "KMS for …"

    def key(self, name: str) -> tuple[str, ...] | None:
        return next((values for key, values in self.context if key.lower() == name.lower()), None)

    def __str__(self) -> str:
        condition = "".join(f" [{key}={','.join(values)}]" for key, values in self.context)
        return f"{self.action} on {self.resource}{condition}" + ("" if self.origin == "call" else f" ({self.origin})")


@dataclass(frozen=True)
class Place:
    """Where the calls were made, and what the audit needs to know about the resources they name."""

    region: str
    account: str
    hash_key: Callable[[str], str]  # a table's partition key attribute
    kms_key_of: Callable[[str], str | None]  # a queue, topic or parameter ARN → its KMS key ARN (None: not CMK)

    def arn(self, service: str, resource: str) -> str:
        return f"arn:aws:{service}:{self.region}:{self.account}:{resource}"


_DYNAMODB_ACTIONS = {"Put": "PutItem", "Update": "UpdateItem", "Delete": "DeleteItem",
                     "ConditionCheck": "ConditionCheckItem", "Get": "GetItem"}  # fmt: skip
_SQS_ACTIONS = {"SendMessageBatch": "SendMessage", "DeleteMessageBatch": "DeleteMessage",
                "ChangeMessageVisibilityBatch": "ChangeMessageVisibility"}  # fmt: skip
_IAM_PREFIX = {"sesv2": "ses"}
# Actions IAM authorises on no resource (Resource "*" only).
RESOURCELESS = frozenset({"cloudwatch:GetMetricData", "cloudwatch:GetMetricStatistics", "cloudwatch:ListMetrics",
                          "sts:GetCallerIdentity", "xray:PutTraceSegments", "xray:PutTelemetryRecords"})  # fmt: skip
# Condition keys the audit fills when a call has them: any other key in a policy would always look absent.
MODELLED_KEYS = frozenset({"dynamodb:leadingkeys", "dynamodb:attributes", "ses:fromaddress", "cloudwatch:namespace"})


class UnmappedCall(ValueError):
    """A call the audit cannot turn into IAM authorisations: reported, never guessed."""


# The partition a call names when the audit cannot read it: a value no policy lists, so ForAllValues fails.
UNREAD_PARTITION = "<partition not recorded>"


def _partition(value: dict[str, Any] | None) -> tuple[str, ...]:
    """A partition key's attribute value as a LeadingKeys value (unread if the call's essentials lack it)."""
    return (str(value.get("S", value.get("N"))),) if value else (UNREAD_PARTITION,)


def _leading_key(place: Place, table: str, key: dict[str, Any]) -> tuple[str, ...]:
    return _partition(key.get(place.hash_key(table)))


def _query_leading_key(place: Place, table: str, params: dict[str, Any]) -> tuple[str, ...]:
    """The partition key value a Query's key condition names (`hash = :v`, names and values substituted)."""
    hash_key, names = place.hash_key(table), params.get("ExpressionAttributeNames", {})
    for left, right in re.findall(r"([#\w]+)\s*=\s*(:\w+)", params.get("KeyConditionExpression", "")):
        if names.get(left, left) == hash_key:
            return _partition(params.get("ExpressionAttributeValues", {}).get(right))
    return (UNREAD_PARTITION,)  # an index's partition key, or one the audit could not read


def requests_for(service: str, operation: str, params: dict[str, Any], place: Place) -> list[Request]:
    """The authorisations AWS checks for one call (its essentials)."""
    prefix = _IAM_PREFIX.get(service, service)
    if service == "dynamodb":
        return _dynamodb_requests(operation, params, place)
    if service == "sqs":
        name = params.get("QueueName") or params.get("QueueUrl", "").rsplit("/", 1)[-1]
        queue = place.arn("sqs", name)
        requests = [Request(f"sqs:{_SQS_ACTIONS.get(operation, operation)}", queue)]
        if operation in ("SendMessage", "SendMessageBatch"):
            requests += _kms(place, queue, ("GenerateDataKey", "Decrypt"))
        elif operation == "ReceiveMessage":
            requests += _kms(place, queue, ("Decrypt",))
        return requests
    if service == "sns":
        topic = params.get("TopicArn", "")
        action = "Publish" if operation == "PublishBatch" else operation
        return [
            Request(f"sns:{action}", topic),
            *(_kms(place, topic, ("GenerateDataKey", "Decrypt")) if action == "Publish" else []),
        ]
    if service == "sesv2" and operation == "SendEmail":
        sender = re.sub(r"^.*<(.+)>$", r"\1", params.get("FromEmailAddress", "")).strip()
        context = (("ses:FromAddress", (sender,)),)
        resources = [place.arn("ses", f"identity/{sender.rpartition('@')[2]}")]
        if params.get("ConfigurationSetName"):
            resources.append(place.arn("ses", f"configuration-set/{params['ConfigurationSetName']}"))
        return [Request("ses:SendEmail", resource, context) for resource in resources]
    if service == "ssm":
        names = params.get("Names") or [params.get("Name", "")]
        requests = []
        for name in names:
            parameter = place.arn("ssm", f"parameter/{name.lstrip('/')}")
            requests.append(Request(f"ssm:{operation}", parameter))
            if params.get("WithDecryption"):
                requests += _kms(place, parameter, ("Decrypt",))
        return requests
    if service == "cloudwatch" and operation == "PutMetricData":
        return [Request("cloudwatch:PutMetricData", "*", (("cloudwatch:namespace", (params.get("Namespace", ""),)),))]
    if f"{prefix}:{operation}" in RESOURCELESS:
        return [Request(f"{prefix}:{operation}", "*")]
    raise UnmappedCall(f"{service}.{operation}: the audit does not know what AWS authorises for it")


def _dynamodb_requests(operation: str, params: dict[str, Any], place: Place) -> list[Request]:
    def on(table: str, action: str, leading: tuple[str, ...], index: str | None = None) -> Request:
        resource = place.arn("dynamodb", f"table/{table}" + (f"/index/{index}" if index else ""))
        return Request(f"dynamodb:{action}", resource, (("dynamodb:LeadingKeys", leading),) if leading else ())

    if operation in ("BatchGetItem", "BatchWriteItem"):
        return [
            on(table, operation, tuple(v for key in keys for v in _leading_key(place, table, key)))
            for table, keys in params.get("RequestItems", {}).items()
        ]
    if operation in ("TransactWriteItems", "TransactGetItems"):
        return [
            on(
                entry["TableName"],
                _DYNAMODB_ACTIONS[entry["kind"]],
                _leading_key(place, entry["TableName"], entry["Key"]),
            )
            for entry in params.get("TransactItems", [])
        ]
    table = params.get("TableName", "")
    if operation == "Query":
        return [on(table, operation, _query_leading_key(place, table, params), params.get("IndexName"))]
    if operation == "PutItem":  # dynamodb:Attributes: the item's attribute names (modelled for PutItem only)
        put = on(table, operation, _leading_key(place, table, params.get("Item") or {}))
        names = tuple(params.get("ItemAttributes", ())) or ("<attributes not recorded>",)  # no policy lists it
        return [Request(put.action, put.resource, (*put.context, ("dynamodb:Attributes", names)))]
    if operation in ("GetItem", "UpdateItem", "DeleteItem"):
        return [on(table, operation, _leading_key(place, table, params.get("Key") or {}))]
    return [on(table, operation, (), params.get("IndexName"))]


def _kms(place: Place, resource: str, actions: Iterable[str]) -> list[Request]:
    key = place.kms_key_of(resource)
    return [Request(f"kms:{action}", key, origin=f"KMS for {resource}") for action in actions] if key else []


# ---- the role's policies ----------------------------------------------------------------------------------------


def _listed(value: Any) -> tuple[str, ...]:
    """A policy element's values as strings (JSON's true is "true"); policy variables are not resolved here."""
    if value is None:
        return ()
    values = value if isinstance(value, list) else [value]
    texts = tuple(str(v).lower() if isinstance(v, bool) else str(v) for v in values)
    if any("${" in text for text in texts):
        raise ValueError(f"policy variables are not supported by the audit: {texts}")
    return texts


@dataclass(frozen=True)
class Statement:
    sid: str
    effect: str
    actions: tuple[str, ...] = ()
    not_actions: tuple[str, ...] = ()
    resources: tuple[str, ...] = ()
    not_resources: tuple[str, ...] = ()
    conditions: dict[str, dict[str, tuple[str, ...]]] = field(default_factory=dict)
    policy: str = ""

    @property
    def name(self) -> str:
        return f"{self.policy}:{self.sid}" if self.policy else self.sid

    def applies_to(self, request: Request) -> bool:
        if self.actions and not any(_like(pattern, request.action, case=False) for pattern in self.actions):
            return False
        if self.not_actions and any(_like(pattern, request.action, case=False) for pattern in self.not_actions):
            return False
        if self.resources and not any(_like(pattern, request.resource) for pattern in self.resources):
            return False
        if self.not_resources and any(_like(pattern, request.resource) for pattern in self.not_resources):
            return False
        return all(
            _holds(operator, key, values, request.key(key))
            for operator, keys in self.conditions.items()
            for key, values in keys.items()
        )


def statements_of(document: dict[str, Any] | str, policy: str = "") -> list[Statement]:
    """A policy document's statements (the document as IAM stores it: a dict, or JSON, URL-encoded or not)."""
    parsed: dict[str, Any] = (
        json.loads(unquote(document) if document.startswith("%7B") else document)
        if isinstance(document, str)
        else document
    )
    listed = parsed.get("Statement", [])
    return [
        Statement(
            sid=raw.get("Sid") or f"statement {number}",
            effect=raw["Effect"],
            actions=_listed(raw.get("Action")),
            not_actions=_listed(raw.get("NotAction")),
            resources=_listed(raw.get("Resource")),
            not_resources=_listed(raw.get("NotResource")),
            conditions={
                op: {key: _listed(values) for key, values in keys.items()}
                for op, keys in raw.get("Condition", {}).items()
            },
            policy=policy,
        )
        for number, raw in enumerate([listed] if isinstance(listed, dict) else listed, start=1)
    ]


def _like(pattern: str, value: str, *, case: bool = True) -> bool:
    """IAM's wildcards: * any run of characters (across : and /), ? one character; actions ignore case."""
    if not case:
        pattern, value = pattern.lower(), value.lower()
    return fnmatch.fnmatchcase(value, pattern.replace("[", "[[]"))


def _one(operator: str, wanted: str, given: str) -> bool:
    if operator == "StringEquals":
        return given == wanted
    if operator == "StringEqualsIgnoreCase":
        return given.lower() == wanted.lower()
    if operator == "StringLike":
        return _like(wanted, given)
    if operator in ("ArnEquals", "ArnLike"):  # the same in IAM: each of the six parts matched, with wildcards
        wanted_parts, given_parts = wanted.split(":", 5), given.split(":", 5)
        return len(wanted_parts) == len(given_parts) == 6 and all(map(_like, wanted_parts, given_parts))
    if operator == "Bool":
        return given.lower() == wanted.lower()
    if operator.startswith("Numeric"):
        number, limit = float(given), float(wanted)
        return {"NumericEquals": number == limit, "NumericLessThan": number < limit,
                "NumericLessThanEquals": number <= limit, "NumericGreaterThan": number > limit,
                "NumericGreaterThanEquals": number >= limit}[operator]  # fmt: skip
    raise ValueError(f"condition operator not supported by the audit: {operator}")


_NEGATED = {"StringNotEquals": "StringEquals", "StringNotEqualsIgnoreCase": "StringEqualsIgnoreCase",
            "StringNotLike": "StringLike", "ArnNotEquals": "ArnEquals", "ArnNotLike": "ArnLike",
            "NumericNotEquals": "NumericEquals"}  # fmt: skip


def _holds(operator: str, key: str, wanted: tuple[str, ...], given: tuple[str, ...] | None) -> bool:
    """One condition: operator(key, wanted values) on the request's values for the key (None: key absent)."""
    set_operator, _, operator = operator.rpartition(":")
    if_exists = operator.endswith("IfExists")
    operator = operator.removesuffix("IfExists")
    if key.lower() not in MODELLED_KEYS:
        raise ValueError(f"condition key not modelled by the audit: {key} (it would always look absent)")
    if operator == "Null":  # true: the key must be absent; false: present
        return (given is None) == (wanted[0].lower() == "true")
    if given is None or (set_operator and not given):
        if set_operator == "ForAllValues":
            return True  # nothing to fail (the guide's caution: an absent key passes ForAllValues)
        if set_operator == "ForAnyValue":
            return False
        return if_exists or operator in _NEGATED  # the guide: a negated operator on an absent key is true
    base = _NEGATED.get(operator, operator)

    def matches(value: str) -> bool:
        hit = any(_one(base, w, value) for w in wanted)
        return not hit if operator in _NEGATED else hit

    if set_operator == "ForAllValues":
        return all(matches(value) for value in given)
    if set_operator == "ForAnyValue":
        return any(matches(value) for value in given)
    return any(matches(value) for value in given) if operator not in _NEGATED else all(matches(v) for v in given)


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    by: Statement | None  # the Allow that grants it, or the Deny that refuses it (None: no statement applies)


def evaluate(request: Request, statements: Iterable[Statement]) -> Verdict:
    applying = [statement for statement in statements if statement.applies_to(request)]
    deny = next((statement for statement in applying if statement.effect == "Deny"), None)
    if deny is not None:
        return Verdict(False, deny)
    allow = next((statement for statement in applying if statement.effect == "Allow"), None)
    return Verdict(allow is not None, allow)


# ---- the audit --------------------------------------------------------------------------------------------------


@dataclass
class Report:
    checked: int = 0
    distinct: int = 0
    denied: list[tuple[str, Request, Verdict]] = field(default_factory=list)
    unused: list[tuple[str, str]] = field(default_factory=list)  # (function, statement)
    unmapped: list[tuple[str, str]] = field(default_factory=list)  # (function, why): calls the audit cannot check

    @property
    def passed(self) -> bool:
        return not self.denied and not self.unmapped

    def lines(self) -> list[str]:
        lines = [f"IAM audit: {self.checked} authorisations checked ({self.distinct} distinct), "
                 f"denied {len(self.denied)}, unused statements {len(self.unused)}"
                 + (f", calls it cannot check {len(self.unmapped)}" if self.unmapped else "")]  # fmt: skip
        lines += [f"  UNCHECKED  {function}: {why}" for function, why in self.unmapped]
        for function, request, verdict in self.denied:
            why = f"denied by {verdict.by.name}" if verdict.by else "no statement of its role allows it"
            lines.append(f"  DENIED  {function}: {request}: {why}")
        by_function: dict[str, list[str]] = {}
        for function, statement in self.unused:
            by_function.setdefault(function, []).append(statement.rpartition(":")[2])
        for function, statements in by_function.items():
            lines.append(f"  unused  {function}: {', '.join(statements)} (no call in this run needed them)")
        return lines


def audit(needs: dict[str, list[Request]], policies: dict[str, list[Statement]]) -> Report:
    """needs: each function's authorisations, as made; policies: each function's role statements."""
    report = Report()
    for function, requests in sorted(needs.items()):
        statements, used = policies.get(function, []), set()
        distinct = set(requests)
        report.checked += len(requests)
        report.distinct += len(distinct)
        for request in sorted(distinct, key=str):
            verdict = evaluate(request, statements)
            if verdict.allowed:
                used |= {s.name for s in statements if s.effect == "Allow" and s.applies_to(request)}
            else:
                report.denied.append((function, request, verdict))
        report.unused += [(function, s.name) for s in statements if s.effect == "Allow" and s.name not in used]
    return report
