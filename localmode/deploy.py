"""Apply the project's own terraform/ root module to the emulator: `make deploy-local`, `make destroy-local`.

The local mode's resources (localmode/resources.py via stack/resources.py) are a hand-written description of what
the Terraform makes, kept equal by a parity test. This applies the Terraform itself, to moto server:

- the module is copied to .local/deploy/terraform, where its state stays (apart from any real environment's), and
  a provider override is written beside it at run time (every service's endpoint the emulator; never committed
  beside the real providers);
- moto answers as AWS does where the provider reads back what it wrote (localmode/emulator_fidelity.py);
- what moto cannot serve is left out by the module's own switches, each named in EXCLUSIONS with why;
- a second plan must then report no changes: what moto answers is what the Terraform wrote.

The environment is named `tf` (resources `client-engagement-tf-*`), so it sits beside a running `make local`
(`client-engagement-local-*`) in the same emulator without a clash.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from botocore.exceptions import ClientError

from localmode import iam_audit
from localmode.emulator import Emulator, EmulatorError, port_in_use
from localmode.topology import FunctionSpec, Topology
from stack.local import DEFAULT_AWS_PORT, REPO_ROOT, deployment_dir, running_port, state_dir

ENVIRONMENT = "tf"
PREFIX = f"client-engagement-{ENVIRONMENT}"
# Every service the module's resources and data sources call.
SERVICES = ("apigatewayv2", "cloudwatch", "dynamodb", "iam", "kms", "lambda", "logs", "scheduler", "sesv2", "sns",
            "sqs", "ssm", "sts", "xray")  # fmt: skip
# What moto cannot serve, each left out by a variable the module already has: variable → (value, why).
EXCLUSIONS: dict[str, tuple[str, str]] = {
    "manage_xray_encryption": (
        "false",
        "aws_xray_encryption_config: moto has no X-Ray PutEncryptionConfig (it answers 404); the module's switch "
        "for every environment but one leaves it out",
    ),
}
# The module's required variables, as a local shop would set them.
VARIABLES = {
    "environment": ENVIRONMENT,
    "brand_name": "Northwind Apparel",
    "shop_url": "https://shop.example.com/",
    "postal_address": "100 Example Street, Springfield, 00000",
    "sender_email": "winback@tf.shop.example.com",  # its own SES identity, apart from make local's
    "deletion_protection": "false",  # destroy-local removes the tables
}
OVERRIDE = "local_override.tf"


class DeployError(RuntimeError):
    pass


@dataclass
class Outcome:
    resources: int
    seconds: float
    log: Path


def work_dir(state: Path) -> Path:
    return deployment_dir(state) / "terraform"


def copy_module(target: Path) -> None:
    """terraform/'s configuration (not its state, variables file, tests or providers' cache) into target, whose own
    state and .terraform are kept: a re-run applies what changed."""
    source = REPO_ROOT / "terraform"
    target.mkdir(parents=True, exist_ok=True)
    for old in target.rglob("*.tf"):
        old.unlink()
    shutil.rmtree(target / "modules", ignore_errors=True)
    for path in source.rglob("*"):
        relative = path.relative_to(source)
        if relative.parts[0] in (".terraform", "tests", "backend.tf") or not path.is_file():
            continue  # a team's backend.tf (S3) never receives the emulator's state
        if path.suffix in (".tf", ".hcl") or relative.parts[0] == "modules":
            (target / relative).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, target / relative)


def provider_override(endpoint: str) -> str:
    """The provider pointed at the emulator: every service's endpoint, the emulator's credentials."""
    endpoints = "\n".join(f'    {service:<12} = "{endpoint}"' for service in SERVICES)
    return f"""# Written by `make deploy-local` ({__name__}): the provider talks to the emulator at {endpoint}.
terraform {{
  backend "local" {{}} # the state stays beside this copy, whatever backend the real module is given
}}

provider "aws" {{
  region                      = var.region
  access_key                  = "local"
  secret_key                  = "local"
  skip_credentials_validation = true
  skip_metadata_api_check     = true
  skip_region_validation      = true

  endpoints {{
{endpoints}
  }}
}}
"""


def variables(dist: Path, work: Path) -> list[str]:
    architecture = (dist / "ARCH").read_text().strip() if (dist / "ARCH").exists() else "arm64"
    values = {**VARIABLES, "architecture": architecture, "dist_dir": os.path.relpath(dist, work)}
    values |= {name: value for name, (value, _) in EXCLUSIONS.items()}
    return [argument for name, value in values.items() for argument in ("-var", f"{name}={value}")]


def _terraform() -> str:
    found = shutil.which("terraform")
    if found is None:
        raise DeployError("terraform is not installed: https://developer.hashicorp.com/terraform/install")
    return found


def _plugin_dir() -> list[str]:
    directory = os.environ.get("TF_PLUGIN_DIR") or ("/opt/tf-plugins" if Path("/opt/tf-plugins").is_dir() else "")
    return [f"-plugin-dir={directory}"] if directory else []


class LocalDeployment:
    def __init__(self, endpoint: str, state: Path | None = None, dist: Path | None = None) -> None:
        self.endpoint = endpoint
        self.work = work_dir(state or state_dir())
        self.dist = dist or REPO_ROOT / "dist"
        self.logs = self.work.parent

    def _run(self, name: str, *arguments: str) -> tuple[int, str]:
        """terraform <arguments> in the working copy; its output goes to <name>.log, and is returned."""
        log = self.logs / f"{name}.log"
        environment = {**os.environ, "TF_IN_AUTOMATION": "1", "TF_INPUT": "0", "NO_COLOR": "1"}
        with log.open("w") as output:
            finished = subprocess.run(  # noqa: S603 - terraform, with our own arguments
                [_terraform(), *arguments], cwd=self.work, env=environment, stdout=output, stderr=subprocess.STDOUT,
                check=False,
            )  # fmt: skip
        return finished.returncode, log.read_text()

    def prepare(self) -> None:
        if not (self.dist / "layer.zip").exists():
            raise DeployError(f"no packages in {self.dist}: run make package first")
        copy_module(self.work)
        (self.work / OVERRIDE).write_text(provider_override(self.endpoint))
        status, output = self._run("init", "init", "-input=false", "-no-color", *_plugin_dir())
        if status:
            raise DeployError(f"terraform init failed:\n{_errors(output)}")

    def apply(self) -> Outcome:
        self.prepare()
        started = time.monotonic()
        status, output = self._run("apply", "apply", "-input=false", "-no-color", "-auto-approve",
                                   "-parallelism=20", *variables(self.dist, self.work))  # fmt: skip
        if status:
            raise DeployError(f"terraform apply failed (log: {self.logs / 'apply.log'}):\n{_errors(output)}")
        return Outcome(self.resource_count(), time.monotonic() - started, self.logs / "apply.log")

    def plan_changes(self) -> list[str]:
        """What a second plan would change (nothing, if the emulator answers what the Terraform wrote)."""
        status, output = self._run("plan", "plan", "-input=false", "-no-color", "-detailed-exitcode", "-lock=false",
                                   *variables(self.dist, self.work))  # fmt: skip
        if status == 0:
            return []
        if status == 2:
            return re.findall(r"^  # (\S+ will be .+)$", output, flags=re.MULTILINE)
        raise DeployError(f"terraform plan failed (log: {self.logs / 'plan.log'}):\n{_errors(output)}")

    def resource_count(self) -> int:
        """The managed resource instances in the state (not the data sources), as terraform counts them."""
        try:
            state = json.loads((self.work / "terraform.tfstate").read_text())
        except (OSError, ValueError):
            return 0
        return sum(len(r["instances"]) for r in state.get("resources", []) if r.get("mode") == "managed")

    def destroy(self) -> Outcome:
        started = time.monotonic()
        state = self.work / "terraform.tfstate"
        if not state.exists():
            return Outcome(0, 0.0, self.logs / "destroy.log")
        host, port = urlsplit(self.endpoint).hostname or "127.0.0.1", urlsplit(self.endpoint).port or 80
        if not port_in_use(host, port):  # the emulator is gone, and what it held with it: only the state is left
            count = self.resource_count()
            state.unlink()
            print(f"no emulator answers on {self.endpoint}: its {count} resources went with it; state removed")
            return Outcome(0, 0.0, self.logs / "destroy.log")
        count = self.resource_count()
        status, output = self._run("destroy", "destroy", "-input=false", "-no-color", "-auto-approve",
                                   "-parallelism=20", *variables(self.dist, self.work))  # fmt: skip
        if status:
            raise DeployError(f"terraform destroy failed (log: {self.logs / 'destroy.log'}):\n{_errors(output)}")
        return Outcome(count, time.monotonic() - started, self.logs / "destroy.log")


def _errors(output: str) -> str:
    """The Error blocks of terraform's output (or its last lines)."""
    blocks = re.findall(r"^Error: .*?(?=^Error: |\Z)", output, flags=re.MULTILINE | re.DOTALL)
    return "\n".join(block.strip() for block in blocks) if blocks else "\n".join(output.splitlines()[-20:])


# ---- the emulator: the running local mode's, or one started for the deployment ---------------------------------


def _pid_file(state: Path) -> Path:
    return deployment_dir(state) / "emulator.pid"


def emulator_endpoint(state: Path) -> tuple[str, bool]:
    """The running local mode's emulator, else one started here and left running (its pid in .local/deploy) for
    destroy-local to stop. Returns the endpoint and whether it was started here."""
    port = running_port("LOCAL_AWS_PORT", "AWS_ENDPOINT_URL", DEFAULT_AWS_PORT)
    if port_in_use("127.0.0.1", port):
        return f"http://127.0.0.1:{port}", False
    deployment_dir(state).mkdir(parents=True, exist_ok=True)
    emulator = Emulator("127.0.0.1", port, deployment_dir(state) / "moto.log")
    emulator.start()
    _pid_file(state).write_text(f"{emulator.pid}\n")
    return emulator.url, True


def stop_started_emulator(state: Path) -> bool:
    pid_file = _pid_file(state)
    if not pid_file.exists():
        return False
    with contextlib.suppress(OSError, ValueError):  # already gone (or the pid is another process's now)
        pid = int(pid_file.read_text())
        # Where there is no /proc (macOS), the pid is trusted.
        if not Path("/proc").is_dir() or b"localmode.emulator_server" in Path(f"/proc/{pid}/cmdline").read_bytes():
            os.kill(pid, signal.SIGTERM)
    pid_file.unlink()
    return True


def smoke(endpoint_port: int, *, timeout: float, out: Any = sys.stdout, state: Path | None = None) -> bool:
    """The runbook's test (test-user-8: one draft; test-user-1: none) through what the Terraform made, its
    functions run by the local runtime as Terraform configured them; then the IAM audit of every call they made.
    Passes if the test does and the audit denies nothing."""
    from localmode.app import LocalMode, Settings
    from scripts import ops

    with socket.socket() as probe:  # the API's port: any free one, beside a running make local
        probe.bind(("127.0.0.1", 0))
        app_port = int(probe.getsockname()[1])
    settings = Settings.from_env(aws_port=endpoint_port, app_port=app_port, terraform_prefix=PREFIX, audit=True,
                                 state_dir=state)  # fmt: skip
    mode = LocalMode(settings, write=None)
    mode.start()
    try:
        print(f"running the {len(mode.functions)} functions as Terraform configured them "
              f"({len(mode.pollers)} pollers; logs: {mode.logs})", file=out)  # fmt: skip
        stamp, environment = ops.smoke_stamp(), ops.local_environment(PREFIX)
        dynamodb = mode.client("dynamodb")
        passed = ops.smoke(dynamodb, environment, timeout=timeout, keep=True, out=out, stamp=stamp)
        if passed:  # and the runbook's review: the draft read through the API, approved and sent
            passed = review_and_send(mode, ops.smoke_users(stamp)[0], out=out)
        if passed:
            passed = run_the_schedules(mode, out=out)
        for user_id in ops.smoke_users(stamp):
            dynamodb.delete_item(TableName=environment.users_table, Key={"userId": {"S": user_id}})
    finally:
        mode.stop()
    report = audit_run(mode)
    print("\n".join(report.lines()), file=out)
    return passed and report.passed


def review_and_send(mode: Any, user_id: str, *, out: Any) -> bool:
    """The runbook's review through the Terraform-made API, with the token the Terraform put in SSM: the draft
    listed, approved and sent (or scheduled, outside the client's sending window); then what the team's console
    reads (the client, the stats, the pipeline's queues, the outbox), so the audit sees those calls too."""

    def call(method: str, path: str) -> Any:
        request = urllib.request.Request(  # noqa: S310 - the local API
            mode.api.url + path, method=method, data=b"{}" if method == "POST" else None,
            headers={"Authorization": f"Bearer {mode.api_token}", "Content-Type": "application/json"},
        )  # fmt: skip
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            return json.loads(response.read())

    path = f"/api/users/{user_id}/emails"
    try:
        drafts = [email for email in call("GET", path)["items"] if email["status"] == "PENDING_REVIEW"]
        path = f"/api/emails/{drafts[0]['emailId']}/approve"
        approved = call("POST", path)
        for path in (f"/api/users/{user_id}", "/api/stats", "/api/pipeline", "/api/outbox"):
            call("GET", path)
    except (OSError, KeyError, IndexError, ValueError) as exc:
        print(f"smoke test FAILED: the API's {path} answered {exc!r}", file=out)
        return False
    print(f"  approved through the API: {approved['status']}; the console's client, stats, pipeline and outbox read",
          file=out)  # fmt: skip
    if approved["status"] not in ("SENT", "SCHEDULED"):
        print("smoke test FAILED: the approved draft was neither sent nor scheduled", file=out)
        return False
    return True


def run_the_schedules(mode: Any, *, out: Any) -> bool:
    """Each schedule's invocation once, with the input the Terraform gave it (the scheduled sender's look for due
    emails, the daily sweep), and what it queues drained: their calls are audited too."""
    for schedule in mode.topology.schedules:
        invocation = mode.functions[schedule.function].invoke(schedule.payload)
        if invocation.failed:
            print(f"smoke test FAILED: {schedule.function} failed on its schedule's input {schedule.payload}: "
                  f"{invocation.error}", file=out)  # fmt: skip
            return False
    if not mode.wait_until_drained(timeout=60):
        print("smoke test FAILED: what the schedules queued was not processed within 60 s", file=out)
        return False
    ran = ", ".join(f"{s.function} ({s.expression})" for s in mode.topology.schedules)
    print(f"  schedules run once, as the Scheduler would: {ran}", file=out)
    return True


def audit_run(mode: Any) -> iam_audit.Report:
    """Every call the run's functions made (and what Lambda did with their roles), against their roles' policies
    as the emulator's IAM holds them."""
    assert mode.topology is not None
    topology = mode.topology
    place = _place(mode.client, topology.functions[0].arn)
    needs: dict[str, list[iam_audit.Request]] = {}
    unmapped: list[tuple[str, str]] = []
    for spec in topology.functions:
        needs[spec.label] = _lambda_needs(spec, topology, place)
        for call in mode.functions[spec.label].aws_calls:
            try:
                needs[spec.label] += iam_audit.requests_for(call["service"], call["operation"], call["params"], place)
            except iam_audit.UnmappedCall as exc:
                unmapped.append((spec.label, str(exc)))
    policies = {spec.label: _role_statements(mode.client("iam"), spec.role) for spec in topology.functions}
    report = iam_audit.audit(needs, policies)
    report.unmapped = sorted(set(unmapped))
    return report


def _lambda_needs(spec: FunctionSpec, topology: Topology, place: iam_audit.Place) -> list[iam_audit.Request]:
    """What Lambda does with the function's role: write its log stream, and run its event source mappings."""
    group = place.arn("logs", f"log-group:{spec.log_group}:log-stream:local")
    needs = [iam_audit.Request(f"logs:{action}", group, origin="Lambda's logs")
             for action in ("CreateLogStream", "PutLogEvents")]  # fmt: skip
    if spec.tracing == "Active":  # X-Ray has no resource-level permissions for these
        needs += [iam_audit.Request(f"xray:{action}", "*", origin="Lambda's active tracing")
                  for action in ("PutTraceSegments", "PutTelemetryRecords")]  # fmt: skip
    mapping = "event source mapping"
    for stream in (s for s in topology.streams if s.function == spec.label):
        needs += [iam_audit.Request(f"dynamodb:{action}", stream.stream_arn, origin=mapping)
                  for action in ("DescribeStream", "GetRecords", "GetShardIterator", "ListStreams")]  # fmt: skip
        if stream.on_failure_queue_url:
            needs += [replace(r, origin=mapping) for r in iam_audit.requests_for(
                "sqs", "SendMessage", {"QueueUrl": stream.on_failure_queue_url}, place)]  # fmt: skip
    for queue in (q for q in topology.queues if q.function == spec.label):
        for action in ("ReceiveMessage", "DeleteMessage", "GetQueueAttributes"):
            needs += [replace(r, origin=mapping) for r in iam_audit.requests_for(
                "sqs", action, {"QueueUrl": queue.queue_url}, place)]  # fmt: skip
    return needs


def _role_statements(iam: Any, role_arn: str) -> list[iam_audit.Statement]:
    """The role's inline and attached policies, as IAM holds them."""
    role = role_arn.rsplit("/", 1)[-1]
    statements = []
    for name in iam.list_role_policies(RoleName=role)["PolicyNames"]:
        document = iam.get_role_policy(RoleName=role, PolicyName=name)["PolicyDocument"]
        statements += iam_audit.statements_of(document, policy=name)
    for attached in iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"]:
        version = iam.get_policy(PolicyArn=attached["PolicyArn"])["Policy"]["DefaultVersionId"]
        document = iam.get_policy_version(PolicyArn=attached["PolicyArn"], VersionId=version)["PolicyVersion"]
        statements += iam_audit.statements_of(document["Document"], policy=attached["PolicyName"])
    return statements


def _place(client: Any, function_arn: str) -> iam_audit.Place:
    """The region and account of the functions, and what the audit looks up about the resources they name."""
    _, _, _, region, account, *_ = function_arn.split(":")

    @functools.cache
    def hash_key(table: str) -> str:
        try:
            schema = client("dynamodb").describe_table(TableName=table)["Table"]["KeySchema"]
        except ClientError:  # a table that does not exist (a wrong name): the call names no partition
            return ""
        return str(next(key["AttributeName"] for key in schema if key["KeyType"] == "HASH"))

    @functools.cache
    def kms_key_of(arn: str) -> str | None:
        service, name = arn.split(":")[2], arn.split(":", 5)[5]
        if service == "sqs":
            url = client("sqs").get_queue_url(QueueName=name)["QueueUrl"]
            key = client("sqs").get_queue_attributes(QueueUrl=url, AttributeNames=["KmsMasterKeyId"])["Attributes"]
            key_id = key.get("KmsMasterKeyId")
        elif service == "sns":
            key_id = client("sns").get_topic_attributes(TopicArn=arn)["Attributes"].get("KmsMasterKeyId")
        elif service == "ssm":
            parameter = "/" + name.removeprefix("parameter/")
            found = client("ssm").describe_parameters(ParameterFilters=[{"Key": "Name", "Values": [parameter]}])
            if not found["Parameters"]:  # a name without a leading slash has the same ARN
                found = client("ssm").describe_parameters(ParameterFilters=[{"Key": "Name", "Values": [parameter[1:]]}])
            key_id = next((p.get("KeyId") for p in found["Parameters"] if p.get("Type") == "SecureString"), None)
        else:
            return None
        if not key_id or key_id.startswith("alias/aws/"):
            return None  # no key, or an AWS managed one: its key policy lets the service use it for the caller
        return str(client("kms").describe_key(KeyId=key_id)["KeyMetadata"]["Arn"])

    return iam_audit.Place(region=region, account=account, hash_key=hash_key, kms_key_of=kms_key_of)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m localmode.deploy", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    parser.add_argument("command", choices=("apply", "plan", "smoke", "destroy"))
    parser.add_argument("--endpoint", help="the emulator (default: the running local mode's, else one started)")
    args = parser.parse_args(argv)
    state = state_dir()
    try:
        if args.command == "destroy":
            port = running_port("LOCAL_AWS_PORT", "AWS_ENDPOINT_URL", DEFAULT_AWS_PORT)
            endpoint = args.endpoint or f"http://127.0.0.1:{port}"
            deployment = LocalDeployment(endpoint, state)
            done = deployment.destroy()
            print(f"destroyed {done.resources} resources in {done.seconds:.0f} s")
            if stop_started_emulator(state):
                print("stopped the emulator deploy-local had started")
            return 0
        if args.command == "smoke":
            port = running_port("LOCAL_AWS_PORT", "AWS_ENDPOINT_URL", DEFAULT_AWS_PORT)
            return 0 if smoke(urlsplit(args.endpoint).port or port if args.endpoint else port, timeout=90) else 1
        endpoint, started = (args.endpoint, False) if args.endpoint else emulator_endpoint(state)
        deployment = LocalDeployment(endpoint, state)
        if args.command == "apply":
            print(f"applying terraform/ to the emulator at {endpoint}" + (" (started for it)" if started else ""))
            for name, (value, why) in EXCLUSIONS.items():
                print(f"  left out: {name} = {value}: {why}")
            done = deployment.apply()
            print(f"applied: {done.resources} resources in {done.seconds:.0f} s (log: {done.log})", flush=True)
        else:
            deployment.prepare()
        changes = deployment.plan_changes()
        if changes:
            print(f"the second plan is not clean: {len(changes)} changes\n  " + "\n  ".join(changes), file=sys.stderr)
            return 1
        print("second plan: no changes")
        return 0
    except (DeployError, EmulatorError, LookupError) as exc:
        print(f"deploy-local: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
