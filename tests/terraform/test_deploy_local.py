"""make deploy-local: the project's own Terraform applied to the emulator, a second plan clean, destroyed after.

Slow (packaging, then about two minutes of apply and one of destroy): `make test-deploy`, not `make test`.
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from localmode.deploy import ENVIRONMENT, LocalDeployment
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


def test_the_terraform_applies_to_the_emulator_plans_clean_and_destroys(
    deployment: LocalDeployment, emulator: Emulator, capsys: pytest.CaptureFixture[str]
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

    destroyed = deployment.destroy()
    left = _client(emulator, "dynamodb").list_tables()["TableNames"]
    with capsys.disabled():
        print(
            f"\n  deploy-local: {applied.resources} resources applied in {applied.seconds:.0f} s; second plan: "
            f"{len(changes) or 'no'} changes; {destroyed.resources} destroyed in {destroyed.seconds:.0f} s"
        )

    assert applied.resources >= 100
    assert changes == []
    assert email_processor["Environment"]["Variables"]["USERS_TABLE_NAME"] == f"{PREFIX}-users"
    assert email_processor["LoggingConfig"]["LogGroup"] == f"/aws/lambda/{PREFIX}-email_processor"
    assert redrive["deadLetterTargetArn"].endswith(f":{PREFIX}-email-requests-dlq")
    assert [m["EventSourceArn"].rsplit(":", 1)[1] for m in mappings] == [f"{PREFIX}-email-requests"]
    assert users["StreamSpecification"]["StreamViewType"] == "NEW_AND_OLD_IMAGES"
    assert destroyed.resources == applied.resources
    assert not [table for table in left if table.startswith(PREFIX)]
    assert os.path.isfile(applied.log)
