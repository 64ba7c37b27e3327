"""make deploy-local and make smoke ENV=local: the project's own Terraform applied to the emulator, a second plan
clean, the runbook's test through what it made with the IAM audit of every call, then destroyed.

Slow (packaging, two minutes of apply, the smoke test three times, a minute of destroy): `make test-deploy`.
"""

from __future__ import annotations

import io
import json
import os
import re
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from localmode.deploy import ENVIRONMENT, LocalDeployment, smoke
from localmode.emulator import Emulator
from scripts import package
from tests.terraform.test_packaging import PYTHON312, needs_python312
from tests.terraform.test_static import PLUGIN_DIR, needs_terraform

PREFIX = f"client-engagement-{ENVIRONMENT}"

pytestmark = [pytest.mark.deploy, needs_terraform, needs_python312, pytest.mark.timeout(900)]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    if not Path(PLUGIN_DIR).is_dir():
        pytest.skip(f"SKIPPED: deploy-local needs the AWS provider; no local mirror at {PLUGIN_DIR} (TF_PLUGIN_DIR)")
    running = Emulator("127.0.0.1", _free_port(), tmp_path_factory.mktemp("emulator") / "moto.log")
    running.start()
    yield running
    running.stop()


@pytest.fixture(scope="module")
def deployment(emulator: Emulator, tmp_path_factory: pytest.TempPathFactory) -> LocalDeployment:
    dist = tmp_path_factory.mktemp("dist")
    assert PYTHON312 is not None
    assert package.main(["--arch", "x86_64", "--dist", str(dist)]) == 0
    return LocalDeployment(emulator.url, state=tmp_path_factory.mktemp("state"), dist=dist)


def _client(emulator: Emulator, service: str) -> Any:
    return boto3.client(service, endpoint_url=emulator.url, region_name="us-east-1", aws_access_key_id="local",
                        aws_secret_access_key="local")  # fmt: skip


def _smoke(emulator: Emulator, state: Path, timeout: float = 60) -> tuple[bool, str]:
    out = io.StringIO()
    passed = smoke(int(emulator.url.rsplit(":", 1)[1]), timeout=timeout, out=out, state=state)
    return passed, out.getvalue()


def test_the_terraform_applies_runs_the_runbooks_test_and_passes_the_iam_audit_then_destroys(
    deployment: LocalDeployment, emulator: Emulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    applied = deployment.apply()
    changes = deployment.plan_changes()

    # What the Terraform made, read back as the functions will find it.
    functions = _client(emulator, "lambda")
    email_processor = functions.get_function_configuration(FunctionName=f"{PREFIX}-email_processor")
    queues = _client(emulator, "sqs")
    requests = queues.get_queue_url(QueueName=f"{PREFIX}-email-requests")["QueueUrl"]
    redrive = json.loads(queues.get_queue_attributes(QueueUrl=requests, AttributeNames=["RedrivePolicy"])
                         ["Attributes"]["RedrivePolicy"])  # fmt: skip
    mappings = functions.list_event_source_mappings(FunctionName=f"{PREFIX}-email_processor")["EventSourceMappings"]
    users = _client(emulator, "dynamodb").describe_table(TableName=f"{PREFIX}-users")["Table"]

    passed, said = _smoke(emulator, tmp_path)
    without_statement, said_without = _without_a_statement(emulator, tmp_path, "StoreDrafts")
    wrong_table, said_wrong = _with_a_wrong_table_name(emulator, tmp_path)

    destroyed = deployment.destroy()
    left = _client(emulator, "dynamodb").list_tables()["TableNames"]
    with capsys.disabled():
        print(
            f"\n  deploy-local: {applied.resources} resources applied in {applied.seconds:.0f} s; second plan: "
            f"{len(changes) or 'no'} changes; {destroyed.resources} destroyed in {destroyed.seconds:.0f} s"
        )
        print("  " + "\n  ".join(line for line in said.splitlines() if not line.startswith("  unused")))
        print(
            "  without StoreDrafts: "
            + "; ".join(
                line.strip() for line in said_without.splitlines() if "DENIED" in line or line.startswith("IAM audit")
            )
        )
        print(
            "  with a wrong USERS_TABLE_NAME: "
            + "; ".join(line.strip() for line in said_wrong.splitlines() if "FAILED" in line or "DENIED" in line)
        )

    assert applied.resources >= 100
    assert changes == []
    assert email_processor["Environment"]["Variables"]["USERS_TABLE_NAME"] == f"{PREFIX}-users"
    assert email_processor["LoggingConfig"]["LogGroup"] == f"/aws/lambda/{PREFIX}-email_processor"
    assert redrive["deadLetterTargetArn"].endswith(f":{PREFIX}-email-requests-dlq")
    assert [m["EventSourceArn"].rsplit(":", 1)[1] for m in mappings] == [f"{PREFIX}-email-requests"]
    assert users["StreamSpecification"]["StreamViewType"] == "NEW_AND_OLD_IMAGES"
    assert passed, said
    assert "smoke test passed" in said
    assert "approved through the API: S" in said  # SENT, or SCHEDULED outside the client's sending window
    assert "schedules run once, as the Scheduler would: " in said
    assert re.search(r"IAM audit: \d+ authorisations checked \(\d+ distinct\), denied 0,", said), said
    # A statement taken out of the email processor's policy: the drafts are still stored (moto enforces nothing),
    # but the audit says AWS would refuse them, and names the call.
    assert not without_statement
    assert re.search(rf"DENIED  email_processor: dynamodb:PutItem on \S+:table/{PREFIX}-emails", said_without), (
        said_without
    )
    # A wrong table name in a function's environment: the pipeline stops where the runbook's test says.
    assert not wrong_table
    assert "smoke test FAILED: stopped before 'decision by email_processor'" in said_wrong, said_wrong
    assert destroyed.resources == applied.resources
    assert not [table for table in left if table.startswith(PREFIX)]
    assert os.path.isfile(applied.log)


def _without_a_statement(emulator: Emulator, state: Path, sid: str) -> tuple[bool, str]:
    """The smoke test with one statement taken out of the email processor's policy (then put back)."""
    iam, role = _client(emulator, "iam"), f"{PREFIX}-email_processor-us-east-1"
    (name,) = iam.list_role_policies(RoleName=role)["PolicyNames"]
    document = iam.get_role_policy(RoleName=role, PolicyName=name)["PolicyDocument"]
    kept = [statement for statement in document["Statement"] if statement.get("Sid") != sid]
    assert len(kept) == len(document["Statement"]) - 1, f"no statement {sid} in {name}"
    iam.put_role_policy(RoleName=role, PolicyName=name, PolicyDocument=json.dumps({**document, "Statement": kept}))
    try:
        return _smoke(emulator, state)
    finally:
        iam.put_role_policy(RoleName=role, PolicyName=name, PolicyDocument=json.dumps(document))


def _with_a_wrong_table_name(emulator: Emulator, state: Path) -> tuple[bool, str]:
    """The smoke test with the email processor's USERS_TABLE_NAME naming a table that does not exist."""
    functions, name = _client(emulator, "lambda"), f"{PREFIX}-email_processor"
    variables = functions.get_function_configuration(FunctionName=name)["Environment"]["Variables"]
    wrong = {**variables, "USERS_TABLE_NAME": f"{PREFIX}-user"}
    functions.update_function_configuration(FunctionName=name, Environment={"Variables": wrong})
    try:
        return _smoke(emulator, state, timeout=20)
    finally:
        functions.update_function_configuration(FunctionName=name, Environment={"Variables": variables})
