"""Static checks of terraform/: formatting, validity, completeness and least privilege.

moto does not enforce IAM, so the last test here is what catches an AccessDeniedException before a deploy: every
AWS call an adapter makes must be allowed, on the right resource, by the policy of each function that uses it.
"""

from __future__ import annotations

import ast
import inspect
import os
import re
import shutil
import subprocess
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from engagement.messaging import DeadLetterQueue, EventPublisher
from engagement.store import DecisionRepository, EmailRepository, UserRepository
from localmode import resources
from tests.terraform import hcl

REPO_ROOT = Path(__file__).resolve().parents[2]
FUNCTION_FOLDERS = sorted(p.name for p in (REPO_ROOT / "functions").iterdir() if (p / "handler.py").is_file())
PLUGIN_DIR = os.environ.get("TF_PLUGIN_DIR", "/opt/tf-plugins")
TERRAFORM = shutil.which("terraform")
needs_terraform = pytest.mark.skipif(TERRAFORM is None, reason="SKIPPED: terraform is not installed")


@needs_terraform
def test_terraform_is_formatted() -> None:
    checked = subprocess.run(
        [str(TERRAFORM), "fmt", "-check", "-recursive", "-diff", "terraform"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
    )
    assert checked.returncode == 0, f"run `terraform fmt -recursive terraform`:\n{checked.stdout}{checked.stderr}"


@needs_terraform
def test_terraform_is_valid(tmp_path: Path) -> None:
    if not Path(PLUGIN_DIR).is_dir():
        pytest.skip(
            f"SKIPPED: terraform validate needs the AWS provider; no local mirror at {PLUGIN_DIR} (TF_PLUGIN_DIR)"
        )
    environment = {**os.environ, "TF_DATA_DIR": str(tmp_path / "data"), "TF_IN_AUTOMATION": "1"}
    init = subprocess.run(
        [str(TERRAFORM), "-chdir=terraform", "init", "-backend=false", "-input=false", f"-plugin-dir={PLUGIN_DIR}",
         "-lockfile=readonly" if (REPO_ROOT / "terraform" / ".terraform.lock.hcl").exists() else "-upgrade=false"],
        cwd=REPO_ROOT, env=environment, capture_output=True, text=True,
    )  # fmt: skip
    assert init.returncode == 0, init.stdout + init.stderr
    validated = subprocess.run(
        [str(TERRAFORM), "-chdir=terraform", "validate", "-no-color"],
        cwd=REPO_ROOT, env=environment, capture_output=True, text=True,
    )  # fmt: skip
    assert validated.returncode == 0, validated.stdout + validated.stderr


def test_every_function_folder_has_a_lambda_a_log_group_and_a_role() -> None:
    root = hcl.root()
    assert sorted(root.locals["functions"]) == FUNCTION_FOLDERS == sorted(f.logical_name for f in resources.FUNCTIONS)
    assert sorted(root.locals["function_policies"]) == FUNCTION_FOLDERS
    assert sorted(root.locals["function_environment"]) == FUNCTION_FOLDERS
    call = root.modules["function"]
    assert (call["source"], call["for_each"]) == ("./modules/function", "${local.functions}")
    assert call["package_path"] == "${local.dist}/${each.key}.zip"
    function_module = hcl.child("function")
    assert function_module.resource("aws_lambda_function", "this")["role"] == "${aws_iam_role.this.arn}"
    assert function_module.resource("aws_cloudwatch_log_group", "this")["name"] == "/aws/lambda/${var.name}"
    assert function_module.resource("aws_iam_role_policy", "this")["role"] == "${aws_iam_role.this.id}"
    assert function_module.resource("aws_lambda_function", "this")["tracing_config"][0]["mode"] == "Active"
    for folder in FUNCTION_FOLDERS:
        assert root.locals["function_policies"][folder] == f"${{data.aws_iam_policy_document.{folder}.json}}"


def _star_resource_lines() -> Iterator[tuple[Path, int, str]]:
    for tf in sorted((REPO_ROOT / "terraform").rglob("*.tf")):
        for number, line in enumerate(tf.read_text().splitlines(), start=1):
            if re.search(r'resources\s*=\s*\[[^\]]*"\*"', line):
                yield tf, number, line


def test_no_policy_grants_star_resources_without_saying_why() -> None:
    lines = list(_star_resource_lines())
    assert lines, "the key policies and X-Ray legitimately use '*': the scan must find them"
    unexplained = [f"{tf.relative_to(REPO_ROOT)}:{n}: {line.strip()}" for tf, n, line in lines if "#" not in line]
    assert unexplained == []
    function_policies = [hcl.root().data["aws_iam_policy_document"][f] for f in FUNCTION_FOLDERS]
    for policy in function_policies:
        for statement in policy["statement"]:
            assert "*" not in statement["resources"], statement["sid"]
            assert not any(action.endswith(":*") for action in statement["actions"]), statement["sid"]


def test_every_event_source_mapping_reports_batch_item_failures() -> None:
    mappings = hcl.root().resources["aws_lambda_event_source_mapping"]
    assert set(mappings) == {"users_stream", "email_requests"}
    for name, mapping in mappings.items():
        assert mapping["function_response_types"] == ["ReportBatchItemFailures"], name


def _statements(policy: dict[str, Any]) -> list[dict[str, Any]]:
    return list(policy["statement"])


def test_the_key_policy_lets_sns_deliver_to_encrypted_queues_and_logs_encrypt() -> None:
    data = hcl.child("data")
    key_policy = _statements(data.data["aws_iam_policy_document"]["key"])
    by_principal = {statement["principals"][0]["identifiers"][0]: statement for statement in key_policy}
    assert {"kms:GenerateDataKey*", "kms:Decrypt"} <= set(by_principal["sns.amazonaws.com"]["actions"])
    assert {"kms:GenerateDataKey*", "kms:Decrypt"} <= set(by_principal["cloudwatch.amazonaws.com"]["actions"])
    assert "kms:Encrypt*" in by_principal["logs.${local.region}.amazonaws.com"]["actions"]
    messaging = hcl.child("messaging")
    for name, queue in messaging.resources["aws_sqs_queue"].items():
        assert queue["kms_master_key_id"] == "${var.kms_key_arn}", name
    assert messaging.resource("aws_sns_topic", "events")["kms_master_key_id"] == "${var.kms_key_arn}"
    for name, table in data.resources["aws_dynamodb_table"].items():
        assert table["server_side_encryption"][0]["kms_key_arn"] == "${aws_kms_key.this.arn}", name
        assert table["point_in_time_recovery"][0]["enabled"] is True, name


# ---- every AWS call an adapter makes is allowed for each function that makes it -----------------------------

ADAPTERS = (UserRepository, EmailRepository, DecisionRepository, EventPublisher, DeadLetterQueue)
ACTION_NAMES = {"publish_batch": "sns:Publish"}  # PublishBatch is authorised as sns:Publish
SERVICES = {"_dynamodb": "dynamodb", "_sns": "sns", "_sqs": "sqs"}
# How policies name each resource (Terraform expressions) by the local mode's logical names.
POLICY_RESOURCES = {
    ("table", "users"): "${module.data.users_table_arn}",
    ("table", "emails"): "${module.data.emails_table_arn}",
    ("index", "emails"): "${module.data.emails_table_arn}/index/*",
    ("table", "decisions"): "${module.data.decisions_table_arn}",
    ("stream", "users"): "${module.data.users_table_arn}/stream/*",
    ("topic", "events"): "${module.messaging.events_topic_arn}",
    ("queue", "email-requests"): "${module.messaging.email_requests_queue_arn}",
    ("queue", "email-requests-dlq"): "${module.messaging.email_requests_dlq_arn}",
    ("queue", "stream-dlq"): "${module.messaging.stream_dlq_arn}",
    ("parameter", "api-token"): "${aws_ssm_parameter.api_token.arn}",
    ("parameter", "openrouter-api-key"): "${aws_ssm_parameter.openrouter_api_key.arn}",
    ("key", "data"): "${module.data.kms_key_arn}",
}


def _calls(tree: ast.AST) -> Iterator[tuple[ast.expr, str]]:
    """(receiver, method) for every `receiver.method(...)` call in a tree."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            yield node.func.value, node.func.attr


def _self_attribute(receiver: ast.expr) -> str | None:
    if isinstance(receiver, ast.Attribute) and isinstance(receiver.value, ast.Name) and receiver.value.id == "self":
        return receiver.attr
    return None


def method_actions(adapter: type, method: str) -> set[str]:
    """IAM actions a call of adapter.method leads to (self._dynamodb.put_item(...) is dynamodb:PutItem),
    following the adapter's own helper methods."""
    actions: set[str] = set()
    pending, done = [method], set()
    while pending:
        name = pending.pop()
        if name in done or not hasattr(adapter, name):
            continue
        done.add(name)
        source = textwrap.dedent(inspect.getsource(getattr(adapter, name)))
        for receiver, called in _calls(ast.parse(source)):
            client = _self_attribute(receiver)
            if client in SERVICES:
                pascal = "".join(part.title() for part in called.split("_"))
                actions.add(ACTION_NAMES.get(called, f"{SERVICES[client]}:{pascal}"))
            elif isinstance(receiver, ast.Name) and receiver.id == "self":
                pending.append(called)
    return actions


def _engagement_objects(handler: ModuleType) -> list[Any]:
    found: list[Any] = []

    def visit(value: Any, depth: int) -> None:
        if depth > 2 or any(value is seen for seen in found):
            return
        if type(value).__module__.startswith("engagement.") and hasattr(value, "__dict__"):
            found.append(value)
            for attribute in vars(value).values():
                visit(attribute, depth + 1)

    for value in vars(handler).values():
        visit(value, 0)
    return found


def adapter_uses(handler: ModuleType) -> set[tuple[Any, str]]:
    """(adapter instance, method) pairs a handler's code calls, resolved through the live objects it wires."""
    objects = _engagement_objects(handler)
    units: list[tuple[ast.AST, dict[str, Any]]] = [(ast.parse(inspect.getsource(handler)), dict(vars(handler)))]
    service_modules = {inspect.getmodule(type(o)) for o in objects if not isinstance(o, ADAPTERS)}
    for module in filter(None, service_modules):
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if cls.__module__ != module.__name__:
                continue
            instance = next((o for o in objects if type(o) is cls), None)
            names = {f"self.{k}": v for k, v in vars(instance).items()} if instance is not None else {}
            units.append((ast.parse(inspect.getsource(cls)), names))
    uses: set[tuple[Any, str]] = set()
    for tree, names in units:
        for receiver, method in _calls(tree):
            attribute = _self_attribute(receiver)
            key = f"self.{attribute}" if attribute else getattr(receiver, "id", None)
            target = names.get(key) if key else None
            if isinstance(target, ADAPTERS):
                uses.add((target, method))
    return uses


def needs(adapter: Any, method: str) -> set[tuple[str, tuple[str, str]]]:
    """(action, resource) pairs a call of adapter.method needs."""
    prefix = resources.PREFIX + "-"
    if isinstance(adapter, EventPublisher):
        resource = ("topic", "events")
    elif isinstance(adapter, DeadLetterQueue):
        resource = ("queue", adapter.queue_url.rsplit("/", 1)[1].removeprefix(prefix))
    else:
        resource = ("table", adapter.table_name.removeprefix(prefix))
    pairs = set()
    for action in method_actions(type(adapter), method):
        pairs.add((action, resource))
        if action == "dynamodb:Query" and "IndexName" in inspect.getsource(type(adapter)):
            pairs.add((action, ("index", resource[1])))
    if pairs and resource[0] in ("topic", "queue"):
        pairs |= {("kms:GenerateDataKey", ("key", "data")), ("kms:Decrypt", ("key", "data"))}
    return pairs


# What the event source mappings, Lambda itself and powertools' parameters do with the function's role.
OTHER_NEEDS = {
    "stream_processor": {
        (action, ("stream", "users"))
        for action in (
            "dynamodb:DescribeStream",
            "dynamodb:GetRecords",
            "dynamodb:GetShardIterator",
            "dynamodb:ListStreams",
        )
    }
    | {("sqs:SendMessage", ("queue", "stream-dlq"))},  # the mapping's on-failure destination
    "email_processor": {
        (action, ("queue", "email-requests"))
        for action in ("sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes")
    }
    | {("kms:Decrypt", ("key", "data")), ("ssm:GetParameter", ("parameter", "openrouter-api-key"))},
    "api": {("ssm:GetParameter", ("parameter", "api-token")), ("kms:Decrypt", ("key", "data"))},
}


@pytest.mark.parametrize("folder", FUNCTION_FOLDERS)
def test_every_aws_call_an_adapter_makes_is_allowed_by_the_functions_policy(
    folder: str, load_handler: Callable[..., ModuleType]
) -> None:
    handler = load_handler(folder)
    uses = adapter_uses(handler)
    assert uses, f"{folder} calls no adapter: the scan is broken"
    required = set().union(*(needs(adapter, method) for adapter, method in uses)) | OTHER_NEEDS[folder]
    granted = {
        (action, resource)
        for statement in _statements(hcl.root().data["aws_iam_policy_document"][folder])
        for action in statement["actions"]
        for resource in statement["resources"]
    }
    missing = sorted(
        f"{action} on {POLICY_RESOURCES[resource]}" for action, resource in required
        if (action, POLICY_RESOURCES[resource]) not in granted
    )  # fmt: skip
    assert missing == [], f"terraform/main.tf's {folder} policy does not allow what its code calls"


def test_the_api_reads_its_token_from_the_parameter_terraform_creates() -> None:
    environment = hcl.root().locals["function_environment"]["api"]
    assert environment["API_TOKEN_PARAMETER"] == "${aws_ssm_parameter.api_token.name}"


def test_terraform_tfvars_example_documents_every_variable() -> None:
    example = (REPO_ROOT / "terraform" / "terraform.tfvars.example").read_text()
    undocumented = [name for name in hcl.root().variables if not re.search(rf"^#? ?{name}\s*=", example, re.MULTILINE)]
    assert undocumented == []
