"""Static checks of terraform/: formatting, validity, completeness and least privilege.

moto does not enforce IAM, so the last test here is what catches an AccessDeniedException before a deploy: every
AWS call an adapter makes must be allowed, on the right resource, by the policy of each function that uses it.
"""

from __future__ import annotations

import ast
import dataclasses
import inspect
import os
import re
import shutil
import subprocess
import textwrap
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from engagement.adapters.mailer import Mailer
from engagement.adapters.messaging import DeadLetterQueue, EventPublisher
from engagement.adapters.pipeline_monitor import PipelineMonitor
from engagement.adapters.segment_queue import SegmentQueue
from engagement.adapters.store import DecisionRepository, EmailRepository, SuppressionRepository, UserRepository
from engagement.adapters.store.orders import OrderRepository
from engagement.adapters.store.products import ProductRepository
from engagement.adapters.store.webhooks import WebhookRepository
from engagement.adapters.webhook_inbox import WebhookInbox
from engagement.http import app as http_app
from engagement.http.context import ApiServices
from engagement.http.routers import catalog as catalog_routes
from engagement.http.routers import clients as clients_routes
from engagement.http.routers import emails as emails_routes
from engagement.http.routers import operations as operations_routes
from engagement.http.routers import public as public_routes
from engagement.http.routers import webhooks as webhooks_routes
from stack import resources
from tests.terraform import hcl

ROUTERS = (public_routes, clients_routes, catalog_routes, emails_routes, operations_routes, webhooks_routes)

REPO_ROOT = Path(__file__).resolve().parents[2]
FUNCTION_FOLDERS = sorted(p.name for p in (REPO_ROOT / "functions").iterdir() if (p / "handler.py").is_file())
PLUGIN_DIR = os.environ.get("TF_PLUGIN_DIR", "/opt/tf-plugins")
TERRAFORM = shutil.which("terraform")
needs_terraform = pytest.mark.skipif(TERRAFORM is None, reason="SKIPPED: terraform is not installed")


# Every Terraform root in the repository (a folder of .tf files that is not a module of another): each must
# validate, with its own lock file, so `make test-aws` and a deploy both start from configurations that work.
MODULES = {path.parent for path in (REPO_ROOT / "terraform" / "modules").rglob("*.tf")}
ROOTS = sorted(
    {
        path.parent
        for path in REPO_ROOT.rglob("*.tf")
        if not {".terraform", ".venv", ".tools", ".local"} & set(path.parts)
    }
    - MODULES
)


def test_the_terraform_roots_are_found() -> None:
    assert {root.relative_to(REPO_ROOT).as_posix() for root in ROOTS} >= {
        "terraform", "tests/aws/terraform/data_messaging"
    }  # fmt: skip


@needs_terraform
def test_terraform_is_formatted() -> None:
    folders = sorted({root.relative_to(REPO_ROOT).as_posix() for root in [*ROOTS, *MODULES]})
    checked = subprocess.run(
        [str(TERRAFORM), "fmt", "-check", "-diff", *folders], cwd=REPO_ROOT, capture_output=True, text=True
    )
    assert checked.returncode == 0, f"run `terraform fmt` on {folders}:\n{checked.stdout}{checked.stderr}"


@needs_terraform
@pytest.mark.parametrize("root", ROOTS, ids=lambda root: root.relative_to(REPO_ROOT).as_posix())
def test_terraform_is_valid(root: Path, tmp_path: Path) -> None:
    if not Path(PLUGIN_DIR).is_dir():
        pytest.skip(
            f"SKIPPED: terraform validate needs the AWS provider; no local mirror at {PLUGIN_DIR} (TF_PLUGIN_DIR)"
        )
    assert (root / ".terraform.lock.hcl").is_file(), f"{root} has no lock file: every root pins its providers"
    environment = {**os.environ, "TF_DATA_DIR": str(tmp_path / "data"), "TF_IN_AUTOMATION": "1"}
    init = subprocess.run(
        [str(TERRAFORM), f"-chdir={root}", "init", "-backend=false", "-input=false", f"-plugin-dir={PLUGIN_DIR}",
         "-lockfile=readonly"],
        cwd=REPO_ROOT, env=environment, capture_output=True, text=True,
    )  # fmt: skip
    assert init.returncode == 0, init.stdout + init.stderr
    validated = subprocess.run(
        [str(TERRAFORM), f"-chdir={root}", "validate", "-no-color"],
        cwd=REPO_ROOT, env=environment, capture_output=True, text=True,
    )  # fmt: skip
    assert validated.returncode == 0, validated.stdout + validated.stderr


# The SHA-256 of each platform's zip of hashicorp/aws 5.100.0 (its release's SHA256SUMS: 15 platforms, among them
# linux and darwin on amd64 and arm64), as two independent public lock files record them (one made on linux_amd64,
# one on windows_amd64); they agree. With all of them in the lock, `terraform init` works from any of those machines.
AWS_5_100_0_ZIP_HASHES = frozenset({
    "054b8dd49f0549c9a7cc27d159e45327b7b65cf404da5e5a20da154b90b8a644",
    "0b97bf8d5e03d15d83cc40b0530a1f84b459354939ba6f135a0086c20ebbe6b2",
    "1589a2266af699cbd5d80737a0fe02e54ec9cf2ca54e7e00ac51c7359056f274",
    "6330766f1d85f01ae6ea90d1b214b8b74cc8c1badc4696b165b36ddd4cc15f7b",
    "7c8c2e30d8e55291b86fcb64bdf6c25489d538688545eb48fd74ad622e5d3862",
    "99b1003bd9bd32ee323544da897148f46a527f622dc3971af63ea3e251596342",
    "9b12af85486a96aedd8d7984b0ff811a4b42e3d88dad1a3fb4c0b580d04fa425",
    "9f8b909d3ec50ade83c8062290378b1ec553edef6a447c56dadc01a99f4eaa93",
    "aaef921ff9aabaf8b1869a86d692ebd24fbd4e12c21205034bb679b9caf883a2",
    "ac882313207aba00dd5a76dbd572a0ddc818bb9cbf5c9d61b28fe30efaec951e",
    "bb64e8aff37becab373a1a0cc1080990785304141af42ed6aa3dd4913b000421",
    "dfe495f6621df5540d9c92ad40b8067376350b005c637ea6efac5dc15028add4",
    "f0ddf0eaf052766cfe09dea8200a946519f653c384ab4336e2a4a64fdd6310e9",
    "f1b7e684f4c7ae1eed272b6de7d2049bb87a0275cb04dbb7cda6636f600699c9",
    "ff461571e3f233699bf690db319dfe46aec75e58726636a0d97dd9ac6e32fb70",
})  # fmt: skip


@pytest.mark.parametrize("root", ROOTS, ids=lambda root: root.relative_to(REPO_ROOT).as_posix())
def test_each_lock_file_lets_terraform_init_run_on_linux_macos_and_windows(root: Path) -> None:
    lock = (root / ".terraform.lock.hcl").read_text()
    assert 'version     = "5.100.0"' in lock
    assert set(re.findall(r'"zh:([0-9a-f]{64})"', lock)) == AWS_5_100_0_ZIP_HASHES  # every platform's zip
    assert len(re.findall(r'"h1:[A-Za-z0-9+/=]{44}"', lock)) >= 1  # and an unpacked package, as -plugin-dir has


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
    # Traced with X-Ray unless xray_tracing = false, which also tells the function not to load the tracer
    tracing = function_module.resource("aws_lambda_function", "this")["tracing_config"][0]["mode"]
    assert tracing == '${var.xray_tracing ? "Active" : "PassThrough"}'
    assert root.variables["xray_tracing"]["default"] is True
    assert call["xray_tracing"] == "${var.xray_tracing}"
    for folder in FUNCTION_FOLDERS:
        assert root.locals["function_policies"][folder] == f"${{data.aws_iam_policy_document.{folder}.json}}"


def test_role_names_carry_the_region_and_the_schedulers_trust_names_the_account() -> None:
    """IAM is global: two regions of one environment must not share (and overwrite) a role; and only this account's
    schedules may assume the scheduler's role (the confused deputy)."""
    for module, role in (("function", "this"), ("send_due", "this")):
        name = hcl.child(module).resource("aws_iam_role", role)["name"]
        assert name.endswith("-${data.aws_region.current.name}"), f"{module}: {name}"
    [trust] = hcl.child("send_due").data["aws_iam_policy_document"]["assume"]["statement"]
    [condition] = trust["condition"]
    assert (condition["test"], condition["variable"]) == ("StringEquals", "aws:SourceAccount")
    assert condition["values"] == ["${data.aws_caller_identity.current.account_id}"]


def test_the_backend_example_keys_each_environment_apart_and_needs_no_lock_table() -> None:
    example = (REPO_ROOT / "terraform" / "backend.tf.example").read_text()
    assert "workspace_key_prefix" in example
    assert re.search(r"use_lockfile\s*=\s*true", example)
    assert "dynamodb_table" not in example


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
    for folder in FUNCTION_FOLDERS:
        for statement in _statements(folder):
            if set(statement["actions"]) - RESOURCELESS_ACTIONS:
                assert "*" not in statement["resources"], statement["sid"]
            assert not any(action.endswith(":*") for action in statement["actions"]), statement["sid"]


def test_every_event_source_mapping_reports_batch_item_failures() -> None:
    mappings = hcl.root().resources["aws_lambda_event_source_mapping"]
    assert set(mappings) == {"users_stream", "queue"}
    for name, mapping in mappings.items():
        assert mapping["function_response_types"] == ["ReportBatchItemFailures"], name


def _statements(name: str, module: hcl.Module | None = None) -> list[dict[str, Any]]:
    """A policy document's statements, with those of the documents it builds on (source_policy_documents)."""
    module = module or hcl.root()
    policy = module.data["aws_iam_policy_document"][name]
    statements = [_with_locals(statement, module) for statement in policy.get("statement", [])]
    for source in policy.get("source_policy_documents", []):
        statements += _statements(source.removeprefix("${data.aws_iam_policy_document.").removesuffix(".json}"), module)
    return statements


def _with_locals(statement: dict[str, Any], module: hcl.Module) -> dict[str, Any]:
    """A statement whose resources name a local list (resources = local.dead_letter_queue_arns), expanded."""
    resources = statement.get("resources", [])
    if isinstance(resources, str):
        resources = [resources]
    expanded: list[Any] = []
    for resource in resources:
        value = module.value(resource) if resource.startswith("${local.") else resource
        expanded += value if isinstance(value, list) else [value]
    return {**statement, "resources": expanded}


def test_the_key_policy_lets_sns_deliver_to_encrypted_queues_and_logs_encrypt() -> None:
    data = hcl.child("data")
    key_policy = _statements("key", data)
    by_principal = {statement["principals"][0]["identifiers"][0]: statement for statement in key_policy}
    assert {"kms:GenerateDataKey*", "kms:Decrypt"} <= set(by_principal["sns.amazonaws.com"]["actions"])
    assert {"kms:GenerateDataKey*", "kms:Decrypt"} <= set(by_principal["cloudwatch.amazonaws.com"]["actions"])
    assert {"kms:GenerateDataKey*", "kms:Decrypt"} <= set(by_principal["ses.amazonaws.com"]["actions"])
    assert "kms:Encrypt*" in by_principal["logs.${local.region}.amazonaws.com"]["actions"]
    messaging = hcl.child("messaging")
    for name, queue in messaging.resources["aws_sqs_queue"].items():
        assert queue["kms_master_key_id"] == "${var.kms_key_arn}", name
    for name, topic in messaging.resources["aws_sns_topic"].items():
        assert topic["kms_master_key_id"] == "${var.kms_key_arn}", name
    for name, table in data.resources["aws_dynamodb_table"].items():
        assert table["server_side_encryption"][0]["kms_key_arn"] == "${aws_kms_key.this.arn}", name
        assert table["point_in_time_recovery"][0]["enabled"] is True, name


# ---- every AWS call an adapter makes is allowed for each function that makes it -----------------------------

ADAPTERS = (
    UserRepository, EmailRepository, DecisionRepository, SuppressionRepository, EventPublisher, DeadLetterQueue, Mailer,
    PipelineMonitor, SegmentQueue, OrderRepository, ProductRepository, WebhookRepository, WebhookInbox,
)  # fmt: skip
# Batch calls are authorised as their single counterparts.
ACTION_NAMES = {"publish_batch": "sns:Publish", "send_message_batch": "sqs:SendMessage",
                "delete_message_batch": "sqs:DeleteMessage"}  # fmt: skip
SERVICES = {"_dynamodb": "dynamodb", "_sns": "sns", "_sqs": "sqs", "_ses": "ses", "_cloudwatch": "cloudwatch"}
# Actions AWS authorises on "*" only (no resource-level permissions).
RESOURCELESS_ACTIONS = {"cloudwatch:GetMetricData"}
# How policies name each resource (Terraform expressions) by the local mode's logical names.
POLICY_RESOURCES = {
    ("table", "users"): "${module.data.users_table_arn}",
    ("table", "emails"): "${module.data.emails_table_arn}",
    ("index", "emails"): "${module.data.emails_table_arn}/index/*",
    ("table", "decisions"): "${module.data.decisions_table_arn}",
    ("stream", "users"): "${module.data.users_table_arn}/stream/*",
    ("topic", "events"): "${module.messaging.events_topic_arn}",
    ("queue", "email-requests"): '${module.messaging.queue_arns["email-requests"]}',
    ("queue", "email-requests-dlq"): '${module.messaging.dead_letter_arns["email-requests"]}',
    ("queue", "stream-dlq"): "${module.messaging.stream_dlq_arn}",
    ("table", "suppressions"): "${module.data.suppressions_table_arn}",
    ("queue", "client-signals"): '${module.messaging.queue_arns["client-signals"]}',
    ("queue", "ses-feedback"): '${module.messaging.queue_arns["ses-feedback"]}',
    ("queue", "client-signals-dlq"): '${module.messaging.dead_letter_arns["client-signals"]}',
    ("queue", "ses-feedback-dlq"): '${module.messaging.dead_letter_arns["ses-feedback"]}',
    ("queue", "rescore-segments"): '${module.messaging.queue_arns["rescore-segments"]}',
    ("queue", "rescore-segments-dlq"): '${module.messaging.dead_letter_arns["rescore-segments"]}',
    ("queue", "store-webhooks"): '${module.messaging.queue_arns["store-webhooks"]}',
    ("queue", "store-webhooks-dlq"): '${module.messaging.dead_letter_arns["store-webhooks"]}',
    ("table", "orders"): "${module.data.orders_table_arn}",
    ("index", "orders"): "${module.data.orders_table_arn}/index/*",
    ("table", "products"): "${module.data.products_table_arn}",
    ("index", "products"): "${module.data.products_table_arn}/index/*",
    ("index", "users"): "${module.data.users_table_arn}/index/byEmail",
    ("table", "webhooks"): "${module.data.webhooks_table_arn}",
    ("ses", "identity"): "${module.email.identities_arn}",
    ("ses", "configuration-set"): "${module.email.configuration_set_arn}",
    ("parameter", "unsubscribe-secret"): "${aws_ssm_parameter.unsubscribe_secret.arn}",
    ("parameter", "unsubscribe-secret-previous"): "${aws_ssm_parameter.unsubscribe_secret_previous.arn}",
    ("parameter", "public-base-url"): "${aws_ssm_parameter.public_base_url.arn}",
    ("parameter", "api-token"): "${aws_ssm_parameter.api_token.arn}",
    ("parameter", "openrouter-api-key"): "${aws_ssm_parameter.openrouter_api_key.arn}",
    ("parameter", "shopify-webhook-secret"): "${aws_ssm_parameter.shopify_webhook_secret.arn}",
    ("key", "data"): "${module.data.kms_key_arn}",
    ("metrics", "*"): "*",
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


def _action(service: str, called: str) -> str:
    return ACTION_NAMES.get(called, f"{service}:{''.join(part.title() for part in called.split('_'))}")


# A transaction is authorised as the single writes it is made of, named by the keys of its items.
TRANSACT_ITEM_ACTIONS = {"Put": "dynamodb:PutItem", "Update": "dynamodb:UpdateItem", "Delete": "dynamodb:DeleteItem",
                         "ConditionCheck": "dynamodb:ConditionCheckItem"}  # fmt: skip
TRANSACTION = "dynamodb:TransactWriteItems"


def _source_tree(code: Any) -> ast.AST:
    return ast.parse(textwrap.dedent(inspect.getsource(code)))


def _transact_item_actions(trees: list[ast.AST]) -> set[str]:
    """The writes the transactions built in these trees are made of: {"Put": ...} is dynamodb:PutItem…"""
    return {
        TRANSACT_ITEM_ACTIONS[key.value]
        for tree in trees
        for node in ast.walk(tree)
        if isinstance(node, ast.Dict)
        for key in node.keys
        if isinstance(key, ast.Constant) and key.value in TRANSACT_ITEM_ACTIONS
    }


def _helper_actions(helper: Any, parameter: str, service: str, trees: list[ast.AST]) -> set[str]:
    """What a module function does with the client handed to it as `parameter`, following it into the helpers of its
    own module that it hands the client on to (mark_once hands it to write_counted)."""
    tree = _source_tree(helper)
    trees.append(tree)
    actions = {_action(service, called) for receiver, called in _calls(tree)
               if isinstance(receiver, ast.Name) and receiver.id == parameter}  # fmt: skip
    module = inspect.getmodule(helper)
    for call in (node for node in ast.walk(tree) if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)):
        inner = getattr(module, call.func.id, None)
        if inner is helper or not inspect.isfunction(inner):
            continue
        names = list(inspect.signature(inner).parameters)
        for position, argument in enumerate(call.args[: len(names)]):
            if isinstance(argument, ast.Name) and argument.id == parameter:
                actions |= _helper_actions(inner, names[position], service, trees)
    return actions


def method_actions(adapter: type, method: str) -> set[str]:
    """IAM actions a call of adapter.method leads to (self._dynamodb.put_item(...) is dynamodb:PutItem),
    following the adapter's own helper methods and module helpers it hands its client to
    (mark_once(self._dynamodb, ...) calls dynamodb.update_item). A transaction is the writes its items name, and
    TRANSACTION besides, which `needs` reads as the counter increment every transaction here carries."""
    module = inspect.getmodule(adapter)
    actions: set[str] = set()
    trees: list[ast.AST] = []
    pending, done = [method], set()
    while pending:
        name = pending.pop()
        if name in done or not hasattr(adapter, name):
            continue
        done.add(name)
        tree = _source_tree(getattr(adapter, name))
        trees.append(tree)
        for receiver, called in _calls(tree):
            client = _self_attribute(receiver)
            if client in SERVICES:
                actions.add(_action(SERVICES[client], called))
            elif isinstance(receiver, ast.Name) and receiver.id == "self":
                pending.append(called)
        for call in (node for node in ast.walk(tree) if isinstance(node, ast.Call)):
            helper = getattr(module, call.func.id, None) if isinstance(call.func, ast.Name) else None
            if not inspect.isfunction(helper):
                continue
            parameters = list(inspect.signature(helper).parameters)
            for position, argument in enumerate(call.args[: len(parameters)]):
                if (client := _self_attribute(argument)) in SERVICES:
                    actions |= _helper_actions(helper, parameters[position], SERVICES[client], trees)
    if TRANSACTION in actions:
        actions |= _transact_item_actions(trees)
    return actions


def test_the_scan_follows_helpers_an_adapter_hands_its_client_to() -> None:
    # mark_once hands the client to write_counted: an update and its counter increment, in one transaction
    assert method_actions(EmailRepository, "mark_converted") == {"dynamodb:UpdateItem", TRANSACTION}
    assert method_actions(DecisionRepository, "mark_converted") == {"dynamodb:UpdateItem", TRANSACTION}
    assert method_actions(DecisionRepository, "record") == {"dynamodb:PutItem", "dynamodb:UpdateItem", TRANSACTION}


def _service_objects(handler: ModuleType) -> dict[str, Any]:
    """The handler module's globals that are engagement services (not adapters): the entry points; for the frozen
    services bootstrap builds, each of their fields by its dotted name too (services.service)."""
    objects = {
        name: value
        for name, value in vars(handler).items()
        if type(value).__module__.startswith("engagement.")
        and hasattr(value, "__dict__")
        and not isinstance(value, ADAPTERS)
    }
    return objects | {
        f"{name}.{field.name}": getattr(value, field.name)
        for name, value in objects.items()
        if dataclasses.is_dataclass(value)
        for field in dataclasses.fields(value)
    }


def _dotted(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute) and (base := _dotted(node.value)):
        return f"{base}.{node.attr}"
    return None


def adapter_uses(handler: ModuleType) -> set[tuple[Any, str]]:
    """(adapter instance, method) pairs a handler can reach: from the calls (and method references) in the handler,
    through the live service objects it wires, following self-calls, nested services and module functions that
    take an adapter as a parameter."""
    uses: set[tuple[Any, str]] = set()
    seen: set[tuple[int, str]] = set()
    globals_ = dict(vars(handler))

    def reached(owner: Any, method: str) -> None:
        if isinstance(owner, ADAPTERS):
            uses.add((owner, method))
            return
        code = getattr(type(owner), method, None)
        ours = type(owner).__module__.startswith("engagement.")
        if (id(owner), method) in seen or not ours or not inspect.isfunction(code):
            return  # not a method of ours (a property, a builtin, the standard library): nothing that calls AWS
        seen.add((id(owner), method))
        source = textwrap.dedent(inspect.getsource(code))
        walk(ast.parse(source), {f"self.{k}": v for k, v in vars(owner).items()} | {"self": owner}, owner)

    def walk(tree: ast.AST, names: dict[str, Any], owner: Any | None) -> None:
        module = inspect.getmodule(type(owner)) if owner is not None else handler
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute):  # calls and references (a bound method handed to a helper)
                attribute = _self_attribute(node.value)
                key = f"self.{attribute}" if attribute else _dotted(node.value)
                target = names.get(key) if key else None
                if target is not None and not isinstance(target, type | ModuleType):
                    reached(target, node.attr)
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and module is not None:
                function = getattr(module, node.func.id, None)
                if inspect.isfunction(function) and function.__module__.startswith("engagement."):
                    called(function, node, names)

    def called(function: Any, call: ast.Call, names: dict[str, Any]) -> None:
        """A module function called with adapters: its calls on those parameters are calls on them."""
        parameters = list(inspect.signature(function).parameters)
        bound: dict[str, Any] = {}
        for position, argument in enumerate(call.args):
            attribute = _self_attribute(argument)
            key = f"self.{attribute}" if attribute else getattr(argument, "id", None)
            if key in names and position < len(parameters):
                bound[parameters[position]] = names[key]
        if bound:
            walk(ast.parse(textwrap.dedent(inspect.getsource(function))), bound, None)

    services = _service_objects(handler)
    walk(ast.parse(inspect.getsource(handler)), globals_ | services, None)
    for api in (value for value in services.values() if isinstance(value, ApiServices)):  # the API's routers
        as_api = {"api": api} | {f"api.{field.name}": getattr(api, field.name) for field in dataclasses.fields(api)}
        for router in ROUTERS:
            walk(ast.parse(inspect.getsource(router)), as_api, None)
    return uses


def needs(adapter: Any, method: str) -> set[tuple[str, tuple[str, str]]]:
    """(action, resource) pairs a call of adapter.method needs."""
    prefix = resources.PREFIX + "-"
    if isinstance(adapter, Mailer):  # SendEmail is authorised on the identity and on the configuration set
        actions = method_actions(Mailer, method)
        return {(a, ("ses", part)) for a in actions for part in ("identity", "configuration-set")}
    if isinstance(adapter, PipelineMonitor):
        return pipeline_needs(adapter, method)
    if isinstance(adapter, EventPublisher):
        resource = ("topic", "events")
    elif isinstance(adapter, DeadLetterQueue | SegmentQueue | WebhookInbox):  # each sends to the queue its URL names
        resource = ("queue", adapter.queue_url.rsplit("/", 1)[1].removeprefix(prefix))
    else:
        resource = ("table", adapter.table_name.removeprefix(prefix))
    pairs = set()
    actions = method_actions(type(adapter), method)
    if isinstance(adapter, OrderRepository) and TRANSACTION in actions:
        # An order's transaction: the orders' puts, and the client's update that UserRepository.update_action made.
        return {("dynamodb:PutItem", resource), ("dynamodb:UpdateItem", ("table", "users"))}
    for action in actions:
        if action == TRANSACTION:  # every other transaction is a counted write: it adds to the decisions' counters
            pairs.add(("dynamodb:UpdateItem", ("table", "decisions")))
            continue
        pairs.add((action, resource))
        if action == "dynamodb:Query" and "IndexName" in inspect.getsource(type(adapter)):
            pairs.add((action, ("index", resource[1])))
    if pairs and resource[0] in ("topic", "queue"):
        pairs |= {("kms:GenerateDataKey", ("key", "data")), ("kms:Decrypt", ("key", "data"))}
    return pairs


def pipeline_needs(monitor: PipelineMonitor, method: str) -> set[tuple[str, tuple[str, str]]]:
    """The monitor reads every queue, looks into and redrives dead-letter queues, sends to their sources."""
    dead_letters = [("queue", q.name) for q in monitor.queues.values() if q.kind == "dead-letter"]
    sources = [("queue", q.redrives_to) for q in monitor.queues.values() if q.redrives_to]
    by_action = {
        "sqs:GetQueueAttributes": [("queue", name) for name in monitor.queues],
        "sqs:ReceiveMessage": dead_letters,
        "sqs:DeleteMessage": dead_letters,
        "sqs:SendMessage": sources,
        "cloudwatch:GetMetricData": [("metrics", "*")],
    }
    pairs = {(action, resource) for action in method_actions(PipelineMonitor, method) for resource in by_action[action]}
    if any(action == "sqs:SendMessage" for action, _ in pairs):
        pairs |= {("kms:GenerateDataKey", ("key", "data")), ("kms:Decrypt", ("key", "data"))}
    return pairs


# Reading the unsubscribe secret and the public URL (SecretSource, powertools' parameters) for the links.
SENDING_NEEDS = {
    ("ssm:GetParameter", ("parameter", "unsubscribe-secret")),
    ("ssm:GetParameter", ("parameter", "unsubscribe-secret-previous")),
    ("ssm:GetParameter", ("parameter", "public-base-url")),
    ("kms:Decrypt", ("key", "data")),
}
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
    "api": {
        ("ssm:GetParameter", ("parameter", "api-token")),
        ("ssm:GetParameter", ("parameter", "shopify-webhook-secret")),
        ("kms:Decrypt", ("key", "data")),
    }
    | SENDING_NEEDS,
    "scheduled_sender": SENDING_NEEDS,
    "client_signals": {
        (action, ("queue", "client-signals"))
        for action in ("sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes")
    }
    | {("kms:Decrypt", ("key", "data"))},
    "ses_feedback": {
        (action, ("queue", "ses-feedback"))
        for action in ("sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes")
    }
    | {("kms:Decrypt", ("key", "data"))},
    "rescore": {
        (action, ("queue", "rescore-segments"))
        for action in ("sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes")
    }
    | {("kms:Decrypt", ("key", "data"))},
    "store_webhooks": {
        (action, ("queue", "store-webhooks"))
        for action in ("sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes")
    }
    | {("kms:Decrypt", ("key", "data"))},
}
OTHER_NEEDS["email_processor"] |= SENDING_NEEDS  # in DELIVERY_MODE=auto it sends too


@pytest.mark.parametrize("folder", FUNCTION_FOLDERS)
def test_every_aws_call_an_adapter_makes_is_allowed_by_the_functions_policy(
    folder: str, load_handler: Callable[..., ModuleType]
) -> None:
    handler = load_handler(folder, DELIVERY_MODE="auto")  # every path that calls AWS wired, sending included
    uses = adapter_uses(handler)
    assert uses, f"{folder} calls no adapter: the scan is broken"
    required = set().union(*(needs(adapter, method) for adapter, method in uses)) | OTHER_NEEDS[folder]
    granted = {
        (action, resource)
        for statement in _statements(folder)
        for action in statement["actions"]
        for resource in statement["resources"]
    }
    missing = sorted(
        f"{action} on {POLICY_RESOURCES[resource]}" for action, resource in required
        if (action, POLICY_RESOURCES[resource]) not in granted
    )  # fmt: skip
    assert missing == [], f"terraform/main.tf's {folder} policy does not allow what its code calls"


def test_the_api_reads_its_token_from_the_parameter_terraform_creates() -> None:
    environment = hcl.root().value(hcl.root().locals["function_environment"]["api"])
    assert environment["API_TOKEN_PARAMETER"] == "${aws_ssm_parameter.api_token.name}"


def test_terraform_tfvars_example_documents_every_variable() -> None:
    example = (REPO_ROOT / "terraform" / "terraform.tfvars.example").read_text()
    undocumented = [name for name in hcl.root().variables if not re.search(rf"^#? ?{name}\s*=", example, re.MULTILINE)]
    assert undocumented == []


def test_the_api_may_watch_and_redrive_every_queue() -> None:
    """The API's queue lists are written out by name: a queue added to messaging must be added there too."""
    root = hcl.root()
    consumers = set(hcl.child("messaging").locals["consumers"])
    assert set(root.locals["consumer_queue_arns"]) == {
        f'${{module.messaging.queue_arns["{name}"]}}' for name in consumers
    }
    assert set(root.locals["dead_letter_queue_arns"]) == {
        f'${{module.messaging.dead_letter_arns["{name}"]}}' for name in consumers
    } | {"${module.messaging.stream_dlq_arn}"}


def test_the_optional_jwt_authorizer_guards_the_api_routes_and_tells_the_function() -> None:
    """With jwt_issuer set: an authorizer, a JWT route over /api/*, and AUTH_MODE=jwt, all on one condition; the
    public routes (health, dashboard files, unsubscribe) stay on $default, where the function checks nothing else."""
    api = hcl.child("http_api")
    authorizer = api.resource("aws_apigatewayv2_authorizer", "jwt")
    route = api.resource("aws_apigatewayv2_route", "api_jwt")
    assert authorizer["count"] == '${var.jwt_issuer == "" ? 0 : 1}'
    assert route["for_each"] == '${var.jwt_issuer == "" ? {} : local.jwt_routes}'
    assert authorizer["authorizer_type"] == "JWT"
    assert authorizer["identity_sources"] == ["$request.header.Authorization"]
    assert authorizer["jwt_configuration"][0]["issuer"] == "${var.jwt_issuer}"
    assert authorizer["jwt_configuration"][0]["audience"] == "${var.jwt_audience}"
    assert "ANY /api/{proxy+}" in api.locals["jwt_routes"]  # nothing under /api escapes the authorizer
    assert route["authorization_type"] == "JWT"
    assert route["authorizer_id"] == "${aws_apigatewayv2_authorizer.jwt[0].id}"
    root = hcl.root()
    assert root.modules["http_api"]["jwt_issuer"] == "${var.jwt_issuer}"
    assert root.modules["http_api"]["jwt_audience"] == "${var.jwt_audience}"
    assert (
        root.value(root.locals["function_environment"]["api"])["AUTH_MODE"]
        == '${var.jwt_issuer == "" ? "bearer" : "jwt"}'
    )


@pytest.mark.parametrize("folder", FUNCTION_FOLDERS)
def test_no_handler_records_its_response_or_errors_in_traces(folder: str) -> None:
    """X-Ray metadata sits outside the project's key and the log retention: a response (client names, addresses,
    email bodies) or an exception's text must never go there."""
    tree = ast.parse((REPO_ROOT / "functions" / folder / "handler.py").read_text())
    [handler] = [node for node in tree.body if isinstance(node, ast.FunctionDef) and node.name == "lambda_handler"]
    traced = [d for d in handler.decorator_list if "capture_lambda_handler" in ast.unparse(d)]
    assert len(traced) == 1
    assert isinstance(traced[0], ast.Call)
    settings = {keyword.arg: ast.literal_eval(keyword.value) for keyword in traced[0].keywords}
    assert settings == {"capture_response": False, "capture_error": False}


def test_terraform_keeps_responses_out_of_traces_and_encrypts_them_with_the_projects_key() -> None:
    function = hcl.child("function")
    [environment] = function.resource("aws_lambda_function", "this")["environment"]
    assert environment["variables"] == "${local.environment}"
    for setting in ("POWERTOOLS_TRACER_CAPTURE_RESPONSE", "POWERTOOLS_TRACER_CAPTURE_ERROR"):
        assert f'{setting} = "false"' in function.locals["environment"]
    encryption = hcl.root().resource("aws_xray_encryption_config", "this")
    assert (encryption["type"], encryption["key_id"]) == ("KMS", "${module.data.kms_key_arn}")


def test_no_parameter_keeps_a_value_in_the_plan_or_the_state() -> None:
    """The provider reads SecureStrings back decrypted, so `value` (even with ignore_changes) puts each secret in the
    state: secrets are written once through value_wo, and the one plain parameter says it is not secret."""
    modules = [hcl.root(), *(hcl.child(name) for name in hcl.root().modules)]
    parameters = {name: block for module in modules for name, block in
                  module.resources.get("aws_ssm_parameter", {}).items()}  # fmt: skip
    assert len(parameters) >= 5
    assert [name for name, parameter in parameters.items() if "value" in parameter] == []
    for name, parameter in parameters.items():
        if parameter["type"] == "SecureString":
            assert "value_wo" in parameter, name
            assert parameter["value_wo_version"] == 1, name
            assert "insecure_value" not in parameter, name
    # write-only arguments need Terraform 1.11
    assert '">= 1.11"' in (REPO_ROOT / "terraform" / "versions.tf").read_text()


def test_sending_works_in_the_ses_sandbox_and_only_from_the_sender() -> None:
    """In the sandbox SES also checks the recipient's and the address identity's ARNs: the policy names every
    identity of the account, but only for mail from the configured sender. SES v2 SendEmail needs ses:SendEmail."""
    [send] = [s for s in _statements("sending") if "ses:SendEmail" in s["actions"]]
    assert send["actions"] == ["ses:SendEmail"]
    assert set(send["resources"]) == {"${module.email.identities_arn}", "${module.email.configuration_set_arn}"}
    [condition] = send["condition"]
    assert (condition["test"], condition["variable"], condition["values"]) == (
        "StringEquals", "ses:FromAddress", ["${var.sender_email}"]
    )  # fmt: skip
    identities = hcl.child("email").outputs["identities_arn"]["value"]
    assert identities.endswith(":identity/*}") or identities.endswith(":identity/*")


def test_the_ses_identity_is_created_by_one_environment_and_looked_up_by_the_others() -> None:
    email = hcl.child("email")
    assert email.resource("aws_sesv2_email_identity", "this")["count"] == "${var.create_identity ? 1 : 0}"
    assert email.data["aws_sesv2_email_identity"]["shared"]["count"] == "${var.create_identity ? 0 : 1}"
    assert "configuration_set_name" not in email.resource("aws_sesv2_email_identity", "this")
    assert hcl.root().modules["email"]["create_identity"] == "${var.create_ses_identity}"


def _uncommented_tfvars_example() -> str:
    """terraform.tfvars.example with every optional variable's line uncommented, as a user who sets them all."""
    declared = set(hcl.root().variables)
    lines = []
    for line in (REPO_ROOT / "terraform" / "terraform.tfvars.example").read_text().splitlines():
        match = re.match(r"# (\w+)\s*=", line)
        lines.append(line[2:] if match and match.group(1) in declared else line)
    return "\n".join(lines) + "\n"


@needs_terraform
@pytest.mark.parametrize(
    "options", ["defaults", pytest.param("every option of terraform.tfvars.example", marks=pytest.mark.deploy)]
)
def test_terraform_test_plans_and_applies_the_root_module_on_a_mock_provider(options: str, tmp_path: Path) -> None:
    """terraform/tests/*.tftest.hcl: plans at the defaults, with the JWT authorizer, as a second environment, a mock
    apply, and values AWS would refuse (fractional rates, offers too long for Lambda's environment) refused at plan;
    here also with every line of the example uncommented."""
    if not Path(PLUGIN_DIR).is_dir():
        pytest.skip(f"SKIPPED: terraform test needs the AWS provider; no local mirror at {PLUGIN_DIR} (TF_PLUGIN_DIR)")
    environment = {**os.environ, "TF_DATA_DIR": str(tmp_path / "data"), "TF_IN_AUTOMATION": "1"}
    init = subprocess.run(
        [str(TERRAFORM), "-chdir=terraform", "init", "-backend=false", "-input=false", f"-plugin-dir={PLUGIN_DIR}",
         "-lockfile=readonly"],
        cwd=REPO_ROOT, env=environment, capture_output=True, text=True,
    )  # fmt: skip
    assert init.returncode == 0, init.stdout + init.stderr
    arguments = []
    if options != "defaults":
        every_option = tmp_path / "every-option.tfvars"
        every_option.write_text(_uncommented_tfvars_example())
        assert every_option.read_text().count("\n# ") < (
            REPO_ROOT / "terraform" / "terraform.tfvars.example"
        ).read_text().count("\n# ")
        arguments.append(f"-var-file={every_option}")
    tested = subprocess.run(
        [str(TERRAFORM), "-chdir=terraform", "test", "-no-color", *arguments],
        cwd=REPO_ROOT, env=environment, capture_output=True, text=True,
    )  # fmt: skip
    assert tested.returncode == 0, tested.stdout[-4000:] + tested.stderr[-4000:]
    assert "6 passed, 0 failed" in tested.stdout


def _gateway_route(method: str, path: str, route_keys: Iterable[str]) -> str:
    """The route API Gateway (HTTP API) picks for a request: a method over ANY, then literal segments over
    variables, and a greedy {proxy+} last."""
    segments = path.strip("/").split("/")

    def matches(key: str) -> tuple[int, int, int] | None:
        verb, pattern = key.split(" ", 1)
        parts = pattern.strip("/").split("/")
        if verb not in (method, "ANY"):
            return None
        greedy = parts[-1].endswith("+}")
        if (greedy and len(segments) < len(parts)) or (not greedy and len(segments) != len(parts)):
            return None
        literal = 0
        for part, segment in zip(parts, segments, strict=False):
            if part.startswith("{"):
                continue
            if part != segment:
                return None
            literal += 1
        return (verb != "ANY", not greedy, literal)

    ranked = [(rank, key) for key in route_keys if (rank := matches(key)) is not None]
    return max(ranked)[1]


def test_the_gateway_asks_each_route_for_the_level_the_function_checks() -> None:
    """terraform/modules/api's scopes per route and engagement.http.auth.needed_access agree on every route the API
    serves, so a token refused by one is refused by the other."""
    from engagement.http.auth import SCOPE_PREFIX, Access, needed_access

    api = hcl.child("http_api")
    routes, levels = api.locals["jwt_routes"], api.locals["levels"]
    assert api.locals["scope_prefix"] == SCOPE_PREFIX
    assert {name: Access[name.upper()] for name in levels} == {level.name.lower(): level for level in Access}
    sources = [inspect.getsource(module) for module in (*ROUTERS, http_app)]
    served = [route for source in sources
              for route in re.findall(r'^\s*@(?:routes|self\.resolver)\.(get|post|patch|delete|put)\("(/api/[^"]*)"',
                                      source, flags=re.MULTILINE)]  # fmt: skip
    assert len(served) > 15
    for verb, pattern in served:
        method, path = verb.upper(), re.sub(r"<(\w+)>", r"\1", pattern)
        gateway = Access[routes[_gateway_route(method, path, routes)].upper()]
        assert gateway == needed_access(method, path), f"{method} {pattern}"
