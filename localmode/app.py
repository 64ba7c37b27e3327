"""Start, watch and stop the whole product on one machine."""

from __future__ import annotations

import os
import secrets
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

from localmode.activity import Activity
from localmode.emulator import Emulator, EmulatorError, port_in_use
from localmode.gateway import HttpApi
from localmode.log_shipping import LogShipper
from localmode.pollers import Poller, QueuePoller, SchedulePoller, StreamPoller
from localmode.runtime import REPO_ROOT, LocalFunction, WorkerSpec
from localmode.topology import FunctionSpec, Topology, from_emulator, from_stack
from stack import resources
from stack.local import deployment_dir, running_port

# Settings a user may change for the local mode from their shell (the functions see them as in AWS).
PASSTHROUGH = (
    "EMAIL_COOLDOWN_DAYS",
    "BRAND_NAME",
    "SHOP_URL",
    "POSTAL_ADDRESS",
    "POWERTOOLS_LOG_LEVEL",
    "OPENROUTER_API_KEY",
    "LLM_BASE_URL",
    "LLM_MODEL",
    "LLM_TIMEOUT_S",
    "LLM_MAX_RETRIES",
    "LLM_CONCURRENCY",
    "LLM_PRICES",
    "ALLOWED_LINK_DOMAINS",
    "ALLOWED_OFFERS",
    "DELIVERY_MODE",
    "HOLDOUT_PERCENT",
    "FREQUENCY_CAP",
    "SENDING_WINDOW_START",
    "SENDING_WINDOW_END",
)
LOCAL_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "local",
    "AWS_SECRET_ACCESS_KEY": "local",  # the emulator accepts any credentials
    "AWS_DEFAULT_REGION": resources.REGION,
    "AWS_REGION": resources.REGION,
    "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
}


@dataclass
class Settings:
    aws_port: int = 4566
    app_port: int = 8080
    host: str = "127.0.0.1"
    state_dir: Path = REPO_ROOT / ".local"
    api_token: str = ""
    verbose: bool = False
    queue_wait_seconds: int = 1
    # Run what the Terraform made in the running emulator (make deploy-local: resources named <prefix>-*) instead of
    # starting an emulator and creating the hand-written stack in it.
    terraform_prefix: str | None = None
    audit: bool = False  # record every AWS call each function makes (the IAM audit's input)

    @classmethod
    def from_env(cls, **overrides: Any) -> Settings:
        settings = cls(
            aws_port=int(os.environ.get("LOCAL_AWS_PORT", "4566")),
            app_port=int(os.environ.get("LOCAL_APP_PORT", "8080")),
            api_token=os.environ.get("API_TOKEN", ""),
            state_dir=Path(os.environ.get("LOCAL_STATE_DIR", REPO_ROOT / ".local")),
        )
        for name, value in overrides.items():
            if value is not None:
                setattr(settings, name, value)
        return settings

    @classmethod
    def of_running(cls, **overrides: Any) -> Settings:
        """The settings of the local mode running now, for the commands that talk to it (make seed, make rescore):
        as from_env, but a port not given (flag or LOCAL_*_PORT) is the one the running local mode wrote into its
        .local/env, so it is found whatever port it was started on."""
        settings = cls.from_env(**overrides)
        for name, variable, url in (("aws_port", "LOCAL_AWS_PORT", "AWS_ENDPOINT_URL"),
                                    ("app_port", "LOCAL_APP_PORT", "API_URL")):  # fmt: skip
            if overrides.get(name) is None:
                setattr(settings, name, running_port(variable, url, getattr(settings, name), settings.state_dir))
        return settings

    @property
    def endpoint_url(self) -> str:
        return f"http://{self.host}:{self.aws_port}"


@dataclass
class LocalMode:
    settings: Settings
    write: Callable[[str], None] | None = print
    stop_event: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        # A Terraform-made run keeps its logs, clock and exports beside its state, apart from make local's
        state = self.settings.state_dir
        self.home = state if self.settings.terraform_prefix is None else deployment_dir(state)
        self.logs = self.home / "logs"
        self.clock_offset_file = self.home / "clock-offset"  # seconds the functions' clock is ahead
        self.emulator = Emulator(self.settings.host, self.settings.aws_port, self.logs / "emulator.log")
        self.functions: dict[str, LocalFunction] = {}
        self.pollers: list[Poller] = []
        self.api: HttpApi | None = None
        self.log_shipper: LogShipper | None = None
        self.deployed: resources.Deployed | None = None
        self.topology: Topology | None = None
        self.activity: Activity | None = None
        self.api_token = self.settings.api_token or secrets.token_urlsafe(24)
        self.token_generated = not self.settings.api_token
        self.unsubscribe_secret = secrets.token_urlsafe(32)  # links from this run verify in this run
        # What the store signs its webhooks with (Shopify shows it under Settings > Notifications > Webhooks).
        self.webhook_secret = os.environ.get("SHOPIFY_WEBHOOK_SECRET") or secrets.token_urlsafe(32)
        self.started_at = 0.0
        self._clients: dict[str, Any] = {}

    @property
    def endpoint_url(self) -> str:
        return self.emulator.url

    def client(self, service: str) -> Any:
        if service not in self._clients:
            self._clients[service] = self._new_client(service)
        return self._clients[service]

    def _new_client(self, service: str) -> Any:
        make: Any = boto3.client  # any service by name: the typed overloads want a literal
        return make(
            service,
            endpoint_url=self.endpoint_url,
            region_name=resources.REGION,
            aws_access_key_id="local",
            aws_secret_access_key="local",  # noqa: S106 - the emulator's
            config=Config(retries={"mode": "standard", "max_attempts": 5}),
        )

    def start(self) -> None:
        try:
            self.api = HttpApi(self.settings.host, self.settings.app_port)
        except OSError as error:
            raise EmulatorError(
                f"port {self.settings.app_port} cannot be used ({error.strerror}; is another local mode running?); "
                "stop it or choose another port with LOCAL_APP_PORT"
            ) from None
        self.started_at = time.monotonic()
        self.logs.mkdir(parents=True, exist_ok=True)
        for log in self.logs.glob("*.log"):
            log.unlink()
        self.clock_offset_file.unlink(missing_ok=True)  # every run starts at real time
        os.environ.update(LOCAL_CREDENTIALS)
        try:
            if self.settings.terraform_prefix is None:
                self.emulator.start()
            elif not port_in_use(self.settings.host, self.settings.aws_port):
                raise EmulatorError(f"no emulator answers on {self.endpoint_url}: run make deploy-local first")
            self._start_inside()
        except BaseException:
            self.stop()
            raise

    def _start_inside(self) -> None:
        if self.settings.terraform_prefix is None:
            clients = {name: self.client(name) for name in resources.SERVICES}
            topology = from_stack(resources.create_all(clients, self.endpoint_url))
        else:
            readers = {name: self.client(name) for name in ("lambda", "scheduler", "dynamodb", "sns", "sqs")}
            topology = from_emulator(readers, self.settings.terraform_prefix, self.endpoint_url)
            # The Terraform-made API checks the token the Terraform put in SSM: that is the one to show.
            parameter = f"/{self.settings.terraform_prefix}/api-token"
            found = self.client("ssm").get_parameter(Name=parameter, WithDecryption=True)
            self.api_token, self.token_generated = found["Parameter"]["Value"], False
        self.topology = topology
        deployed = self.deployed = topology.deployed
        self.activity = Activity(
            emails_table=deployed.tables["emails"],
            queue_names={url: name for name, url in deployed.queue_urls.items()},
            write=self.write,
            verbose=self.settings.verbose,
        )
        specs = [self._worker_spec(function) for function in topology.functions]
        with ThreadPoolExecutor(len(specs)) as pool:  # cold starts in parallel
            started = list(pool.map(self._start_function, specs))
        self.functions = {function.label: function for function in started}

        self.pollers = [
            StreamPoller(
                function=self.functions[stream.function],
                streams=self.client("dynamodbstreams"),
                sqs=self.client("sqs"),
                stream_arn=stream.stream_arn,
                region=resources.REGION,
                batch_size=stream.batch_size,
                starting_position=stream.starting_position,
                maximum_retry_attempts=stream.maximum_retry_attempts,
                bisect_on_error=stream.bisect_on_error,
                maximum_record_age=stream.maximum_record_age,
                on_failure_queue_url=stream.on_failure_queue_url,
                stop=self.stop_event,
                report=self.activity.on_batch,
                filter_patterns=stream.filter_patterns,
            )
            for stream in topology.streams
        ]
        for source in topology.queues:
            for _ in range(source.workers):
                self.pollers.append(
                    QueuePoller(
                        function=self.functions[source.function],
                        sqs=self.client("sqs"),
                        queue_url=source.queue_url,
                        queue_arn=source.queue_arn,
                        region=resources.REGION,
                        batch_size=source.batch_size,
                        wait_seconds=self.settings.queue_wait_seconds,
                        stop=self.stop_event,
                        report=self.activity.on_batch,
                    )
                )
        for schedule in topology.schedules:
            self.pollers.append(
                SchedulePoller(
                    function=self.functions[schedule.function],
                    interval_seconds=schedule.interval_seconds,
                    payload=schedule.payload,
                    stop=self.stop_event,
                    report=self.activity.on_batch,
                )
            )
        for poller in self.pollers:
            poller.start()
        deadline = time.monotonic() + 30
        for stream in (poller for poller in self.pollers if isinstance(poller, StreamPoller)):
            while not stream.positioned.wait(timeout=0.1):  # read from LATEST: positioned before anything is written
                if stream.error is not None or time.monotonic() > deadline:
                    raise EmulatorError(f"{stream.name} could not read the stream's shards: {stream.error}")
        self.log_shipper = LogShipper(
            self.client("logs"),
            {function.spec.function_name: Path(function.spec.log_path) for function in self.functions.values()},
            write=self.write,
        )
        self.log_shipper.prepare()
        self.log_shipper.start()
        assert self.api is not None
        self.api.start(self.functions[resources.API.logical_name])
        self._write_env_file()

    def _start_function(self, spec: WorkerSpec) -> LocalFunction:
        function = LocalFunction(spec)
        function.start()
        return function

    def _worker_spec(self, function: FunctionSpec) -> WorkerSpec:
        environment = {
            **LOCAL_CREDENTIALS,
            "AWS_ENDPOINT_URL": self.endpoint_url,
            "AWS_LAMBDA_FUNCTION_NAME": function.name,
            "POWERTOOLS_TRACE_DISABLED": "true",  # no X-Ray daemon here
            "POWERTOOLS_LOG_LEVEL": "INFO",
            "CLOCK_OFFSET_FILE": str(self.clock_offset_file),  # simulated time (make rescore NOW=…), one for all
            **function.environment,
        }
        if self.settings.terraform_prefix is None:
            # The hand-written stack's secrets are this run's, in the environment; the Terraform-made functions
            # read theirs from the emulator's SSM, as in AWS, and take nothing from the shell.
            stack_function = next(f for f in resources.FUNCTIONS if f.logical_name == function.label)
            environment |= resources.secrets_in_environment(
                stack_function, api_token=self.api_token, unsubscribe_secret=self.unsubscribe_secret,
                public_base_url=f"http://{self.settings.host}:{self.settings.app_port}",
                webhook_secret=self.webhook_secret,
            )  # fmt: skip
            environment.update({name: os.environ[name] for name in PASSTHROUGH if name in os.environ})
        return WorkerSpec(
            label=function.label,
            function_name=function.name,
            code_dir=str(REPO_ROOT / "functions" / function.label),
            handler=function.handler,
            environment=environment,
            timeout=function.timeout,
            memory=function.memory,
            log_path=str(self.logs / f"{function.label}.log"),
            region=resources.REGION,
            record_calls=self.settings.audit,
        )

    def _write_env_file(self) -> None:
        assert self.deployed is not None
        assert self.api is not None
        lines = {
            "AWS_ENDPOINT_URL": self.endpoint_url,
            "AWS_ACCESS_KEY_ID": "local",
            "AWS_SECRET_ACCESS_KEY": "local",
            "AWS_DEFAULT_REGION": resources.REGION,
            "API_URL": self.api.url,
            "API_TOKEN": self.api_token,
            "WEBHOOK_URL": f"{self.api.url}/webhooks/shopify",
            "USERS_TABLE": self.deployed.tables["users"],
            "EMAILS_TABLE": self.deployed.tables["emails"],
            "DECISIONS_TABLE": self.deployed.tables["decisions"],
        }
        if self.settings.terraform_prefix is None:
            lines["SHOPIFY_WEBHOOK_SECRET"] = self.webhook_secret
        path = self.env_file
        path.write_text("".join(f"export {name}={value}\n" for name, value in lines.items()))
        path.chmod(0o600)

    @property
    def env_file(self) -> Path:
        """Exports for the AWS CLI and scripts (make local's in .local/env, a Terraform-made run's beside its state)."""
        return self.home / "env"

    def banner(self) -> str:
        assert self.deployed is not None
        assert self.api is not None
        d = self.deployed
        rows = [
            ("AWS emulator (moto)", self.endpoint_url),
            ("dashboard", f"{self.api.url}/   (sign in with the API token)"),
            ("HTTP API", f"{self.api.url}/api   (GET /health is public; OpenAPI: /api/openapi.json)"),
            (
                "API token",
                self.api_token + ("   (generated; set API_TOKEN to choose one)" if self.token_generated else ""),
            ),
            ("store webhook", f"{self.api.url}/webhooks/shopify   (signed with $SHOPIFY_WEBHOOK_SECRET: source env)"),
            ("users table", d.tables["users"]),
            ("emails table", d.tables["emails"]),
            ("decisions table", d.tables["decisions"]),
            ("events topic", d.topic_arn),
            ("email queue", f"{d.queue_urls['email-requests']}  (DLQ: email-requests-dlq)"),
            ("stream DLQ", d.queue_urls["stream-dlq"]),
            ("email writer", self.writer_description()),
            ("delivery", self.delivery_description()),
            ("functions", ", ".join(f"{name} ({fn.init_ms:.0f} ms cold start)" for name, fn in self.functions.items())),
            ("logs", str(self.logs)),
        ]
        width = max(len(name) for name, _ in rows)
        listing = "\n".join(f"  {name:<{width}}  {value}" for name, value in rows)
        return (
            f"Client engagement, local mode: running in {time.monotonic() - self.started_at:.1f} s\n{listing}\n\n"
            f"For the AWS CLI and scripts:  source {self.env_file}\n"
            f"  aws dynamodb list-tables --endpoint-url {self.endpoint_url}\n"
            f'  curl -H "Authorization: Bearer $API_TOKEN" {self.api.url}/api/emails\n'
            "Ctrl-C to stop."
        )

    def writer_description(self) -> str:
        """Which writer drafts the emails (never shows the key)."""
        assert self.functions
        environment = self.functions[resources.EMAIL_PROCESSOR.logical_name].spec.environment
        if parameter := environment.get("OPENROUTER_API_KEY_PARAMETER"):
            return f"LLM ({environment['LLM_MODEL']}) once SSM's {parameter} holds a key; template until then"
        if environment.get("OPENROUTER_API_KEY", "").strip():
            return f"LLM: {environment['LLM_MODEL']} at {environment['LLM_BASE_URL']} (template as fallback)"
        return "template (offline; set OPENROUTER_API_KEY for the LLM writer)"

    def delivery_description(self) -> str:
        environment = self.functions[resources.EMAIL_PROCESSOR.logical_name].spec.environment
        mode = environment["DELIVERY_MODE"]
        how = "approve drafts at POST /api/emails/{id}/approve" if mode == "review" else "sent once drafted"
        return f"{mode}: {how}; SES is the emulator's, nothing leaves this machine (sent: GET /api/outbox)"

    def failure(self) -> str | None:
        """Why the local mode can no longer work, if it cannot."""
        if self.settings.terraform_prefix is None and not self.emulator.running():
            return "the AWS emulator stopped; see " + str(self.emulator.log_path)
        for poller in self.pollers:
            if poller.error is not None:
                return f"poller {poller.name} failed: {type(poller.error).__name__}: {poller.error}"
        return None

    def queue_depths(self) -> dict[str, int]:
        assert self.deployed is not None
        sqs = self.client("sqs")
        depths = {}
        for name, url in self.deployed.queue_urls.items():
            attributes = sqs.get_queue_attributes(
                QueueUrl=url,
                AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
            )["Attributes"]
            depths[name] = int(attributes["ApproximateNumberOfMessages"]) + int(
                attributes["ApproximateNumberOfMessagesNotVisible"]
            )
        return depths

    def wait_until_drained(self, timeout: float, quiet_for: float = 1.5) -> bool:
        """True once nothing is in flight: no poller busy, every stream read to its end, every queue a function reads
        empty, and no batch for quiet_for s."""
        assert self.activity is not None
        assert self.topology is not None
        began = time.monotonic()  # what was written before this call is read by a look begun after it
        deadline = began + timeout
        last_changes, quiet_since = -1, time.monotonic()
        while time.monotonic() < deadline:
            if self.failure() or self.stop_event.is_set():
                return False
            changes = self.activity.changes
            behind = any(poller.busy or not poller.caught_up_since(began) for poller in self.pollers)
            if changes != last_changes or behind:
                last_changes, quiet_since = changes, time.monotonic()
            elif time.monotonic() - quiet_since >= quiet_for and not any(
                self.queue_depths()[source.queue] for source in self.topology.queues
            ):
                return True
            time.sleep(0.1)
        return False

    def summary(self) -> dict[str, Any]:
        assert self.deployed is not None
        assert self.activity is not None
        dynamodb = self.client("dynamodb")
        bands: Counter[str] = Counter()
        at_risk: set[str] = set()
        for page in dynamodb.get_paginator("scan").paginate(
            TableName=self.deployed.tables["users"], ProjectionExpression="userId, band"
        ):
            for item in page["Items"]:
                band = item.get("band", {}).get("S", "unscored")
                bands[band] += 1
                if band in ("critical", "at_risk"):
                    at_risk.add(item["userId"]["S"])
        writers: Counter[str] = Counter()
        emailed: set[str] = set()
        cards: Counter[int] = Counter()  # emails by how many products they show
        reasons: Counter[str] = Counter()  # why the picks were picked, in kind ("bought with", "best seller in", …)
        for page in dynamodb.get_paginator("scan").paginate(
            TableName=self.deployed.tables["emails"], ProjectionExpression="userId, writer, picks"
        ):
            for item in page["Items"]:
                writers[item["writer"]["S"]] += 1
                emailed.add(item["userId"]["S"])
                picks = item.get("picks", {}).get("L", [])
                cards[len(picks)] += 1
                reasons.update(_kind_of(pick["M"].get("reason", {}).get("S", "")) for pick in picks)
        orders_per_client: Counter[str] = Counter()
        for page in dynamodb.get_paginator("scan").paginate(
            TableName=self.deployed.tables["orders"], ProjectionExpression="userId"
        ):
            orders_per_client.update(item["userId"]["S"] for item in page["Items"])
        products: Counter[str] = Counter()
        in_stock = 0
        for page in dynamodb.get_paginator("scan").paginate(
            TableName=self.deployed.tables["products"], ProjectionExpression="category, inStock"
        ):
            for item in page["Items"]:
                products[item["category"]["S"]] += 1
                in_stock += bool(item.get("inStock", {}).get("BOOL"))
        depths = self.queue_depths()
        counts = self.activity.counts
        return {
            **self._churn_summary(),
            "orders_per_client": dict(orders_per_client),
            "products_per_category": dict(products),
            "products_in_stock": in_stock,
            "bands": dict(bands),
            "events": dict(counts.events),
            "sns_calls": counts.sns_calls,
            # records handed to the stream processor, a retried batch's each time it is retried
            "stream_records": counts.stream_records,
            # records taken from the stream, each once: with nothing left unread, every record the stream holds
            "stream_records_read": sum(p.records_read for p in self.pollers if isinstance(p, StreamPoller)),
            "drafts_by_writer": dict(writers),
            "drafts_by_cards": dict(cards),
            "pick_reasons": dict(reasons),
            "at_risk_without_draft": sorted(at_risk - emailed),
            "drafts_for_others": sorted(emailed - at_risk),
            "dlq_depth": {name: depth for name, depth in depths.items() if name.endswith("dlq")},
            "function_errors": counts.function_errors,
        }

    def _churn_summary(self) -> dict[str, Any]:
        """The churn model in use, how many clients it judged and found overdue, and two clients in its words: one it
        finds at risk and one it does not."""
        from engagement.adapters.store.churn_models import ChurnModelRepository
        from engagement.adapters.store.dynamo import from_item
        from engagement.clock import ShiftedClock
        from engagement.domain.events import client_from_item
        from engagement.domain.models import ScoreSource
        from engagement.domain.scoring import score_client
        from engagement.errors import InvalidRecord

        assert self.deployed is not None
        dynamodb = self.client("dynamodb")
        model = ChurnModelRepository(self.deployed.tables["models"], dynamodb).newest()
        now = ShiftedClock(self.clock_offset_file).now()
        judged, overdue = 0, 0
        examples: dict[bool, tuple[str, str, str]] = {}
        for page in dynamodb.get_paginator("scan").paginate(TableName=self.deployed.tables["users"]):
            for item in sorted(page["Items"], key=lambda item: item["userId"]["S"]):
                try:
                    client = client_from_item(from_item(item))
                except InvalidRecord:
                    continue
                score = score_client(client, now, model)
                if score.rhythm is None:
                    continue
                judged, overdue = judged + 1, overdue + score.rhythm.overdue
                if score.source is ScoreSource.MODEL and score.rhythm.usual_gap_days is not None:
                    examples.setdefault(
                        score.band.is_at_risk, (client.name, score.band.value, score.rhythm.explanation)
                    )
        return {
            "churn_model": model.model_dump(mode="json", by_alias=True, exclude_none=True) if model else None,
            "churn_judged": judged,
            "churn_overdue": overdue,
            "churn_examples": [examples[at_risk] for at_risk in (True, False) if at_risk in examples],
        }

    def stop(self) -> None:
        self.stop_event.set()
        if self.api is not None:
            self.api.stop()
        for poller in self.pollers:
            poller.join(timeout=5)
        for function in self.functions.values():
            function.stop()
        if self.log_shipper is not None:
            self.log_shipper.stop()  # the last lines, before the emulator goes
        self.emulator.stop()


def _kind_of(reason: str) -> str:
    """A pick's reason without its particulars: "bought with the Linen trousers you ordered in March" is "bought
    with"; "best seller in pants this month" is "best seller"; "in shirts, which you like" is "your categories"."""
    for kind in ("bought with", "best seller"):
        if reason.startswith(kind):
            return kind
    return "your categories"
