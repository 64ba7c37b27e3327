"""moto made to answer as AWS does where the project's Terraform reads back what it wrote.

`make deploy-local` applies the real `terraform/` root module to the emulator, and the AWS provider reads every
resource back after writing it (and again on the next plan): where moto answers differently from AWS, the apply
waits forever, fails to parse, or the next plan wants to change what it just made. Each fix below names what
moto 5.2 does and what AWS does; `FIXES` lists them (the README and `make deploy-local` print it), and
tests/integration/test_emulator_fidelity.py checks each through boto3.

Installed by the emulator (moto server), beside its DynamoDB and SES changes, and by the tests' in-process moto.
"""

from __future__ import annotations

import json
from typing import Any

from moto.awslambda.models import LambdaFunction
from moto.core.utils import unix_time
from moto.dynamodb.models.table import Table
from moto.ses.models import ConfigurationSet
from moto.sesv2 import urls as sesv2_urls
from moto.sesv2.models import SESV2Backend
from moto.sesv2.responses import SESV2Response
from moto.sqs.models import Queue, SQSBackend
from moto.utilities.utils import get_partition

COMPACT = (",", ":")

# What each fix corrects: moto's answer, then AWS's.
FIXES: dict[str, str] = {
    "sqs.redrive-allow-policy": "moto stores RedriveAllowPolicy but never returns it (and rejects the name in "
    "GetQueueAttributes), so the provider waits forever for it; AWS returns it as set",
    "sqs.policy-kept": "moto's SetQueueAttributes without Policy erases the queue's policy; AWS changes only the "
    "attributes named",
    "sqs.compact-json": "moto answers RedrivePolicy and Policy as JSON with spaces; AWS answers them compact, as "
    "the provider wrote them",
    "sqs.retention-check": "moto works out every attribute of a queue, counting its messages, for each message a "
    "receive looks at, so one receive costs the square of the backlog (a local import with a thousand messages "
    "waiting slowed every poller to a crawl); it reads the queue's retention period alone here, as it means to",
    "sesv2.sending-enabled": "moto answers a configuration set's SendingOptions as "
    '{"SendingEnabled": {"SendingEnabled": true}}, which the provider cannot read, and options never set as {}; '
    "AWS answers a boolean and leaves out what was not set",
    "sesv2.identity-tags": "moto tags an email identity under email-identity/<name>; AWS's ARN (the one the "
    "provider lists tags for) is identity/<name>",
    "sesv2.event-destinations": "moto has no configuration-set event destinations in SESv2; here they are "
    "stored and read back as AWS does (the local mode's bounces still come from identity notifications)",
    "lambda.mappings-polled-by-the-runtime": "moto delivers an event source mapping's records itself, by running "
    "the function in Docker (absent here): it receives the queue's messages and empties the stream's shard; in AWS "
    "Lambda's pollers do that, and here the local runtime's pollers are them, so moto's are switched off",
    "lambda.logging-config": "moto drops a function's LoggingConfig; AWS returns it (Text format and the "
    "/aws/lambda/<name> log group unless set)",
}


# ---- SQS ------------------------------------------------------------------------------------------------------


def _sqs() -> None:
    set_attributes = Queue._set_attributes
    read_attributes = Queue.__dict__["attributes"].fget  # a property
    get_queue_attributes = SQSBackend.get_queue_attributes

    def _set_attributes(self: Queue, attributes: dict[str, Any], now: float | None = None) -> None:
        kept = getattr(self, "_policy_json", None) if "Policy" not in attributes else None
        set_attributes(self, attributes, now)
        if kept is not None:
            self._policy_json = kept

    def attributes(self: Queue) -> dict[str, Any]:
        result: dict[str, Any] = read_attributes(self)
        if self.redrive_policy:
            result["RedrivePolicy"] = json.dumps(self.redrive_policy, separators=COMPACT)
        if self.policy:
            result["Policy"] = json.dumps(self._policy_json, separators=COMPACT)
        if allowed := getattr(self, "redrive_allow_policy", None):
            result["RedriveAllowPolicy"] = allowed
        return result

    def _get_queue_attributes(self: SQSBackend, queue_name: str, attribute_names: list[str]) -> dict[str, Any]:
        others = [name for name in attribute_names if name != "RedriveAllowPolicy"]
        result: dict[str, Any] = get_queue_attributes(self, queue_name, others)
        if others != attribute_names or "All" in attribute_names:
            allowed = self.get_queue(queue_name).attributes.get("RedriveAllowPolicy")
            if allowed:
                result["RedriveAllowPolicy"] = allowed
        return result

    def is_message_valid_based_on_retention_period(self: SQSBackend, queue_name: str, message: Any) -> bool:
        retention = int(getattr(self.get_queue(queue_name), "message_retention_period"))  # noqa: B009 - moto sets it
        return bool(retention + message.sent_timestamp / 1000 > unix_time())

    SQSBackend.is_message_valid_based_on_retention_period = is_message_valid_based_on_retention_period  # type: ignore[method-assign]
    Queue._set_attributes = _set_attributes  # type: ignore[method-assign]
    Queue.attributes = property(attributes)  # type: ignore[assignment,method-assign]
    SQSBackend.get_queue_attributes = _get_queue_attributes  # type: ignore[method-assign]


# ---- SESv2 ----------------------------------------------------------------------------------------------------


def _sesv2() -> None:
    to_dict_v2 = ConfigurationSet.to_dict_v2
    create_email_identity = SESV2Backend.create_email_identity

    def _to_dict_v2(self: ConfigurationSet) -> dict[str, Any]:
        answer: dict[str, Any] = to_dict_v2(self)
        enabled = self.enabled.get("SendingEnabled", True) if isinstance(self.enabled, dict) else self.enabled
        answer["SendingOptions"] = {"SendingEnabled": bool(enabled)}
        return {name: value for name, value in answer.items() if value != {}}  # AWS leaves out what was not set

    def _create_email_identity(self: SESV2Backend, email_identity: str, tags: Any = None, **kwargs: Any) -> Any:
        created = create_email_identity(self, email_identity=email_identity, tags=tags, **kwargs)
        if tags:
            arn = f"arn:{get_partition(self.region_name)}:ses:{self.region_name}:{self.account_id}:"
            self.core_backend.tagger.untag_resource_using_names(
                arn + f"email-identity/{email_identity}", [tag["Key"] for tag in tags]
            )
            self.core_backend.tagger.tag_resource(arn=arn + f"identity/{email_identity}", tags=tags)
        return created

    ConfigurationSet.to_dict_v2 = _to_dict_v2  # type: ignore[method-assign]
    SESV2Backend.create_email_identity = _create_email_identity  # type: ignore[method-assign,assignment]
    for name, method in _EVENT_DESTINATION_ACTIONS.items():
        setattr(SESV2Response, name, method)
    destinations = "{0}/v2/email/configuration-sets/(?P<ConfigurationSetName>[^/]+)/event-destinations"
    sesv2_urls.url_paths[destinations + "$"] = SESV2Response.dispatch  # moto server's routes
    sesv2_urls.url_paths[destinations + "/(?P<EventDestinationName>[^/]+)$"] = SESV2Response.dispatch


def _destinations(response: SESV2Response) -> dict[str, dict[str, Any]]:
    """The configuration set's event destinations by name (the set must exist, as in AWS)."""
    backend = response.sesv2_backend
    name = response._get_param("ConfigurationSetName")
    backend.get_configuration_set(configuration_set_name=name)  # NotFoundException if it does not exist
    every: dict[str, dict[str, dict[str, Any]]] = backend.__dict__.setdefault("event_destinations_v2", {})
    return every.setdefault(name, {})


def _create_event_destination(self: SESV2Response) -> str:
    destination = {"Name": self._get_param("EventDestinationName"), **(self._get_param("EventDestination") or {})}
    _destinations(self)[destination["Name"]] = destination
    return "{}"


def _get_event_destinations(self: SESV2Response) -> str:
    return json.dumps({"EventDestinations": list(_destinations(self).values())})


def _update_event_destination(self: SESV2Response) -> str:
    name = self._get_param("EventDestinationName")
    _destinations(self)[name] = {"Name": name, **(self._get_param("EventDestination") or {})}
    return "{}"


def _delete_event_destination(self: SESV2Response) -> str:
    _destinations(self).pop(self._get_param("EventDestinationName"), None)
    return "{}"


_EVENT_DESTINATION_ACTIONS = {
    "create_configuration_set_event_destination": _create_event_destination,
    "get_configuration_set_event_destinations": _get_event_destinations,
    "update_configuration_set_event_destination": _update_event_destination,
    "delete_configuration_set_event_destination": _delete_event_destination,
}


# ---- Lambda ---------------------------------------------------------------------------------------------------


def _lambda() -> None:
    initialise = LambdaFunction.__init__
    get_configuration = LambdaFunction.get_configuration
    update_configuration = LambdaFunction.update_configuration

    def __init__(self: LambdaFunction, account_id: str, spec: dict[str, Any], *args: Any, **kwargs: Any) -> None:
        initialise(self, account_id, spec, *args, **kwargs)
        self.logging_config = _logging_config(self.function_name, spec.get("LoggingConfig"))  # type: ignore[attr-defined]

    def _get_configuration(self: LambdaFunction, on_create: bool = False) -> dict[str, Any]:
        configuration: dict[str, Any] = get_configuration(self, on_create)
        configuration["LoggingConfig"] = getattr(self, "logging_config", None) or _logging_config(
            self.function_name, None
        )
        return configuration

    def _update_configuration(self: LambdaFunction, config_updates: dict[str, Any]) -> dict[str, Any]:
        if "LoggingConfig" in config_updates:
            self.logging_config = _logging_config(self.function_name, config_updates["LoggingConfig"])  # type: ignore[attr-defined]
        return update_configuration(self, config_updates)

    # A registry that stays empty: moto finds no mapping to deliver to, and the local runtime's pollers read.
    no_mappings = property(lambda self: {}, lambda self, value: None)
    Queue.lambda_event_source_mappings = no_mappings  # type: ignore[assignment]
    Table.lambda_event_source_mappings = no_mappings  # type: ignore[assignment]
    LambdaFunction.__init__ = __init__  # type: ignore[method-assign]
    LambdaFunction.get_configuration = _get_configuration  # type: ignore[method-assign]
    LambdaFunction.update_configuration = _update_configuration  # type: ignore[method-assign]


def _logging_config(function_name: str, given: dict[str, Any] | None) -> dict[str, Any]:
    """What AWS answers: the format (Text unless set) and the log group (/aws/lambda/<name> unless set); the
    levels only in JSON format."""
    given = given or {}
    answer = {
        "LogFormat": given.get("LogFormat", "Text"),
        "LogGroup": given.get("LogGroup") or f"/aws/lambda/{function_name}",
    }
    if answer["LogFormat"] == "JSON":
        answer["ApplicationLogLevel"] = given.get("ApplicationLogLevel", "INFO")
        answer["SystemLogLevel"] = given.get("SystemLogLevel", "INFO")
    return answer


_INSTALLED: list[bool] = []


def install() -> None:
    if _INSTALLED:
        return
    _sqs()
    _sesv2()
    _lambda()
    _INSTALLED.append(True)
