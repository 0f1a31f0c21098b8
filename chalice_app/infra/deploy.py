"""The deploy pipeline behind ``scripts/deploy.py``.

Like chalice's own deployer (build a graph, plan, execute), a deploy here is a
fixed list of small steps run in order over one ``Context``. Each step records
``Check``s (name, status, detail, fix); the CLI prints them as they come and as
a table at the end. The steps::

    Preflight        the stage in config.json, region, credentials and account
                     (STS), chalice installed, the stage's settings parse, the
                     processor's timeout, and the policy file allows what the
                     code needs (infra.policy.NEEDS).
    EnsureResources  what chalice does not create: the queue with its DLQ and the
                     tables with TTL, through infra.bootstrap.ensure_all (the
                     same code as the local runtime), the queue's visibility
                     timeout at 6x the processor's lambda_timeout.
    ChaliceDeploy    the real ``chalice deploy --stage S`` as a subprocess, its
                     output streamed, with the stage's environment exported so
                     app.py imports with the stage's queue name; then the
                     deployment package is checked for every requirement.
    Wire             reads .chalice/deployed/<stage>.json; puts WEBSOCKET_DOMAIN
                     and WEBSOCKET_STAGE in the processor's configuration (the
                     live function, and config.json so the next chalice deploy
                     keeps them); turns on ReportBatchItemFailures (and Enabled)
                     on the SQS event source mapping, which chalice cannot
                     (chalice issue #2029).
    Validate         read-only: the functions, the WebSocket API and its routes,
                     the wiring, the mapping, queue and DLQ (attributes, depth),
                     the tables, the role policies, and a connect + ping/pong
                     smoke test when the WebSocket URL is reachable.

``--validate-only`` runs Preflight and Validate; ``--skip-validate`` leaves out
Validate; ``--delete`` runs Preflight, ChaliceDelete and DeleteResources.

Every step makes things right whatever it finds, so a rerun after a failure
starts from the top and walks through what is already done; on a healthy stack
every check says ``ok`` and nothing changes (chalice itself still uploads the
code and prints "Updating", with the same resources). A failing step stops the
pipeline, because the steps after it need what it makes; Validate runs all of
its checks and fails at the end.
"""

import json
import shutil
import socket
import subprocess
import sys
import time
import zipfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional
from urllib.parse import urlparse

from botocore.exceptions import BotoCoreError, ClientError

from infra import bootstrap, policy, queues
from infra.stage import FUNCTIONS, PROCESSOR, StageConfig, StageError, Target, load_stage

__all__ = [
    "OK",
    "CHANGED",
    "WARN",
    "FAIL",
    "SKIP",
    "Check",
    "Context",
    "Options",
    "Report",
    "find_mapping",
    "run",
    "steps_for",
]

OK, CHANGED, WARN, FAIL, SKIP = "ok", "changed", "warn", "fail", "skip"
BATCH_ITEM_FAILURES = "ReportBatchItemFailures"
WEBSOCKET_ROUTES = ("$connect", "$default", "$disconnect")
PLACEHOLDER_API_ID = "a1b2c3d4e5"
MIN_PROCESSOR_TIMEOUT = 60
MAX_VISIBILITY_TIMEOUT = 12 * 3600
PACKAGING_FIX = (
    "chalice downloads the manylinux wheels of chalice_app/requirements.txt with pip: check that pip reaches "
    "PyPI (pip download --no-deps aws-lambda-powertools), or put the package's files under chalice_app/vendor/"
)


@dataclass
class Options:
    stage: str
    mode: str = "deploy"  # deploy | validate | delete
    region: Optional[str] = None
    profile: Optional[str] = None
    endpoint_url: Optional[str] = None
    project_dir: Optional[Path] = None
    skip_validate: bool = False
    smoke_url: Optional[str] = None
    backlog_threshold: int = 10
    keep_data: bool = False
    yes: bool = False


@dataclass
class Check:
    step: str
    name: str
    status: str
    detail: str = ""
    fix: str = ""


@dataclass
class Report:
    stage: str
    mode: str
    checks: List[Check] = field(default_factory=list)
    region: Optional[str] = None
    account: Optional[str] = None
    endpoint_url: Optional[str] = None

    @property
    def ok(self) -> bool:
        return not any(check.status == FAIL for check in self.checks)

    def to_dict(self) -> Dict[str, Any]:
        data = asdict(self)
        data["ok"] = self.ok
        return data


class Stop(Exception):
    """A step failed in a way the later steps cannot work around."""


class Context:
    """What the steps share: options, the target, the stage, and what earlier steps found."""

    def __init__(self, options: Options, on_check: Callable[[Check], None], log: Callable[[str], None]):
        self.options = options
        self.report = Report(stage=options.stage, mode=options.mode, endpoint_url=options.endpoint_url)
        self.on_check = on_check
        self.log = log
        self.step = ""
        self.stage: Optional[StageConfig] = None
        self.target: Optional[Target] = None
        self.settings = None
        self.account = ""
        self.partition = "aws"
        self.resources: Optional[bootstrap.Resources] = None

    def check(self, name: str, status: str, detail: str = "", fix: str = "") -> Check:
        check = Check(self.step, name, status, detail, fix)
        self.report.checks.append(check)
        self.on_check(check)
        return check

    def fail(self, name: str, detail: str, fix: str = "") -> Stop:
        """Record a failed check; ``raise ctx.fail(...)`` stops the pipeline."""
        self.check(name, FAIL, detail, fix)
        return Stop(detail)

    def client(self, service_name: str) -> Any:
        return self.target.client(service_name)

    # --- what .chalice/deployed/<stage>.json says ---------------------------------

    def deployed(self) -> Dict[str, Any]:
        deployed = self.stage.deployed()
        if not (deployed or {}).get("resources"):
            raise self.fail(
                "deployed stack",
                f"{self.stage.deployed_path} lists no resources: stage {self.stage.stage} is not deployed from here",
                f"run scripts/deploy.py --stage {self.stage.stage}",
            )
        return deployed

    def resource(self, name: str) -> Dict[str, Any]:
        for resource in self.deployed().get("resources", []):
            if resource["name"] == name:
                return resource
        raise self.fail(
            "deployed stack",
            f"{self.stage.deployed_path} has no resource {name!r}",
            f"run scripts/deploy.py --stage {self.stage.stage}",
        )

    def websocket_endpoint(self) -> Dict[str, str]:
        api = self.resource("websocket_api")
        return {
            "api_id": api["websocket_api_id"],
            "url": api["websocket_api_url"],
            "domain": urlparse(api["websocket_api_url"]).hostname,
            "stage": self.stage.api_gateway_stage,
        }

    def scope(self, api_id: Optional[str] = None) -> policy.Scope:
        return policy.Scope(
            partition=self.partition,
            region=self.target.region,
            account=self.account,
            app_name=self.stage.app_name,
            stage=self.stage.stage,
            websocket_stage=self.stage.api_gateway_stage,
            api_id=api_id or PLACEHOLDER_API_ID,
            queue=self.settings.queue_name,
            connections_table=self.settings.connections_table,
            idempotency_table=self.settings.idempotency_table,
            sessions_table=self.settings.sessions_table,
            model_id=self.settings.bedrock_model_id,
        )


def _error(exc: Exception) -> str:
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        return f"{error.get('Code', 'Error')}: {error.get('Message', exc)}"
    return f"{type(exc).__name__}: {exc}"


def chalice_cli() -> Optional[str]:
    """The chalice next to this Python (the venv's), else the one on PATH."""
    beside = Path(sys.executable).parent / "chalice"
    return str(beside) if beside.exists() else shutil.which("chalice")


def find_mapping(lambda_client, queue_arn: str, function_arn: str) -> Optional[Dict[str, Any]]:
    """The event source mapping from ``queue_arn`` to ``function_arn``, looked up by both ARNs."""

    def function_name(arn: str) -> str:
        return arn.split(":function:")[-1].split(":")[0]  # a mapping's FunctionArn may carry a qualifier

    paginator = lambda_client.get_paginator("list_event_source_mappings")
    for page in paginator.paginate(EventSourceArn=queue_arn):
        for mapping in page.get("EventSourceMappings", []):
            if function_name(mapping.get("FunctionArn", "")) == function_name(function_arn):
                return mapping
    return None


def _stream(ctx: Context, command: List[str], env: Dict[str, str]) -> tuple:
    ctx.log("    $ " + " ".join(command))
    lines = []
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1)
    for line in process.stdout:
        lines.append(line.rstrip("\n"))
        ctx.log("    | " + lines[-1])
    return process.wait(), lines


def _chalice_command(ctx: Context, *args: str) -> List[str]:
    command = [chalice_cli(), "--project-dir", str(ctx.stage.project_dir), *args, "--stage", ctx.stage.stage]
    if ctx.options.profile:
        command += ["--profile", ctx.options.profile]
    return command


# --- the steps --------------------------------------------------------------------


class Step:
    title = ""

    def run(self, ctx: Context) -> None:
        raise NotImplementedError


class Preflight(Step):
    title = "Preflight"

    def run(self, ctx: Context) -> None:
        options = ctx.options
        try:
            ctx.stage = load_stage(options.stage, options.project_dir)
        except StageError as exc:
            raise ctx.fail("stage config", str(exc)) from None
        ctx.check("stage config", OK, f"{ctx.stage.config_path} [{options.stage}]")
        if options.mode == "delete" and options.stage == "prod" and not options.yes:
            raise ctx.fail("confirmation", "refusing to delete stage prod", "add --yes if you mean it")
        self._region_and_credentials(ctx)
        if options.mode != "validate":
            self._chalice(ctx)
        self._settings(ctx)
        if options.mode != "delete":
            self._timeouts(ctx)
            self._policy_file(ctx)

    def _region_and_credentials(self, ctx: Context) -> None:
        options = ctx.options
        try:
            ctx.target = Target(options.region, options.profile, options.endpoint_url)
        except BotoCoreError as exc:  # ProfileNotFound
            raise ctx.fail("credentials", _error(exc), "use a profile from ~/.aws/config, or leave --profile out")
        if not ctx.target.region:
            raise ctx.fail(
                "region", "no AWS region", "pass --region, or set AWS_DEFAULT_REGION, or a region in the profile"
            )
        ctx.report.region = ctx.target.region
        ctx.check(
            "region",
            OK,
            ctx.target.region + (f" (emulated AWS at {options.endpoint_url})" if options.endpoint_url else ""),
        )
        if ctx.target.session.get_credentials() is None:
            raise ctx.fail(
                "credentials",
                "no AWS credentials found",
                "pass --profile NAME, or run `aws configure` / `aws sso login`, or set AWS_ACCESS_KEY_ID and "
                "AWS_SECRET_ACCESS_KEY",
            )
        try:
            identity = ctx.client("sts").get_caller_identity()
        except (ClientError, BotoCoreError) as exc:
            raise ctx.fail(
                "credentials",
                f"STS GetCallerIdentity failed: {_error(exc)}",
                "refresh the credentials (e.g. `aws sso login --profile NAME`) or check --endpoint-url",
            )
        ctx.account = ctx.report.account = identity["Account"]
        ctx.partition = identity["Arn"].split(":")[1]
        ctx.check("credentials", OK, f"account {ctx.account} as {identity['Arn']}")

    def _chalice(self, ctx: Context) -> None:
        cli = chalice_cli()
        if cli is None:
            raise ctx.fail(
                "chalice", "the chalice CLI is not installed", "make install (or pip install -r requirements.txt)"
            )
        version = subprocess.run([cli, "--version"], capture_output=True, text=True, timeout=60)
        if version.returncode != 0:
            raise ctx.fail("chalice", f"{cli} --version failed: {version.stderr.strip()}", "make install")
        ctx.check("chalice", OK, f"{version.stdout.strip()} ({cli})")

    def _settings(self, ctx: Context) -> None:
        from chalicelib.assistant import BACKENDS
        from chalicelib.config import REQUIRED_IN_LAMBDA, ConfigError

        where = f'stages."{ctx.stage.stage}".environment_variables in {ctx.stage.config_path}'
        try:
            ctx.settings = ctx.stage.settings(ctx.target.region)
        except ConfigError as exc:
            raise ctx.fail("settings", str(exc), f"fix it in {where}")
        for function in FUNCTIONS:
            absent = [name for name in REQUIRED_IN_LAMBDA if not ctx.stage.environment(function).get(name)]
            if absent:
                raise ctx.fail(
                    "settings", f"{function} would start without {', '.join(absent)}", f"add them to {where}"
                )
        s = ctx.settings
        if s.assistant_backend not in BACKENDS and ":" not in s.assistant_backend:
            raise ctx.fail(
                "settings",
                f"ASSISTANT_BACKEND={s.assistant_backend!r} is not a backend this code has",
                f"use one of {', '.join(BACKENDS)} (or package.module:Factory) in {where}",
            )
        backend = s.assistant_backend + (f" ({s.bedrock_model_id})" if s.assistant_backend == "bedrock" else "")
        ctx.check(
            "settings",
            OK,
            f"queue {s.queue_name}, tables {s.connections_table}, {s.idempotency_table}, {s.sessions_table}; "
            f"backend {backend}",
        )
        if not (s.auth_api_keys or s.auth_token_secret):
            ctx.check(
                "auth",
                WARN,
                "no AUTH_TOKEN_SECRET or AUTH_API_KEYS: $connect accepts anyone who has the URL",
                f"set one for this stage ({where}); keep the value itself out of git",
            )

    def _timeouts(self, ctx: Context) -> None:
        timeout, visibility = ctx.stage.processor_timeout, ctx.stage.visibility_timeout
        detail = f"{PROCESSOR} lambda_timeout {timeout} s -> queue visibility timeout {visibility} s"
        where = f'lambda_functions."{PROCESSOR}".lambda_timeout in {ctx.stage.config_path}'
        if visibility > MAX_VISIBILITY_TIMEOUT:
            raise ctx.fail("timeouts", detail + f" (SQS allows {MAX_VISIBILITY_TIMEOUT} s)", f"lower {where}")
        if timeout < MIN_PROCESSOR_TIMEOUT:
            ctx.check(
                "timeouts", WARN, detail + ": short for an LLM reply", f"raise {where} to {MIN_PROCESSOR_TIMEOUT}+"
            )
        else:
            ctx.check("timeouts", OK, detail)

    def _policy_file(self, ctx: Context) -> None:
        # Before the first deploy the API id is unknown: an example id stands in for it.
        deployed = (ctx.stage.deployed() or {}).get("resources", [])
        scope = ctx.scope(next((r["websocket_api_id"] for r in deployed if r["name"] == "websocket_api"), None))
        problems, files = [], set()
        for function in FUNCTIONS:
            config = ctx.stage.function(function)
            path = ctx.stage.policy_path(function)
            files.add(path.name)
            if config.autogen_policy:
                raise ctx.fail(
                    "policy file",
                    f"autogen_policy is on for {function}: chalice would replace the least-privilege policy",
                    f'set "autogen_policy": false in {ctx.stage.config_path}',
                )
            try:
                document = json.loads(path.read_text())
            except (OSError, ValueError) as exc:
                raise ctx.fail("policy file", f"cannot read {path}: {exc}", f"create {path} (see docs/deploy.md)")
            problems += [
                f"{path.name} does not allow {need.describe()}"
                for need in policy.missing(document, policy.needs_for(scope, [function]))
            ]
        if problems:
            raise ctx.fail(
                "policy file",
                "; ".join(dict.fromkeys(problems)),
                "add each action with a matching Resource to an Allow statement of the policy file",
            )
        ctx.check("policy file", OK, f"{', '.join(sorted(files))} allows what the code of the 4 functions calls")


class EnsureResources(Step):
    title = "Queue, DLQ and tables"

    def run(self, ctx: Context) -> None:
        before = self._snapshot(ctx)
        try:
            ctx.resources = bootstrap.ensure_all(ctx.client, ctx.settings, ctx.stage.visibility_timeout)
        except (ClientError, BotoCoreError) as exc:
            raise ctx.fail(
                "queue and tables",
                f"could not create or update them: {_error(exc)}",
                "the deploying identity needs sqs:CreateQueue/SetQueueAttributes and dynamodb:CreateTable/"
                "UpdateTimeToLive",
            )
        after = self._snapshot(ctx)
        s = ctx.settings
        tables = [spec["name"] for spec in bootstrap.table_specs(s)]
        queue_detail = (
            f"{s.queue_name}: visibility {ctx.stage.visibility_timeout} s, retention "
            f"{bootstrap.RETENTION_SECONDS // 86400} d, to {s.queue_name}{bootstrap.DLQ_SUFFIX} after "
            f"{s.max_receive_count} receives"
        )
        self._report(ctx, "queue + DLQ", queue_detail, ["queue", "dlq"], before, after)
        self._report(ctx, "tables", "with TTL: " + ", ".join(tables), tables, before, after)

    @staticmethod
    def _report(ctx: Context, name: str, detail: str, keys: List[str], before: Dict, after: Dict) -> None:
        changed = [
            f"{key} {'created' if before[key] is None else 'updated'}" for key in keys if before[key] != after[key]
        ]
        if changed:
            ctx.check(name, CHANGED, f"{detail} ({', '.join(changed)})")
        else:
            ctx.check(name, OK, detail)

    @staticmethod
    def _snapshot(ctx: Context) -> Dict[str, Any]:
        sqs, dynamodb = ctx.client("sqs"), ctx.client("dynamodb")
        state: Dict[str, Any] = {}
        for key, name in (("queue", ctx.settings.queue_name), ("dlq", ctx.settings.queue_name + bootstrap.DLQ_SUFFIX)):
            try:
                url = sqs.get_queue_url(QueueName=name)["QueueUrl"]
            except ClientError:
                state[key] = None
                continue
            attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
            redrive = json.loads(attributes.get("RedrivePolicy") or "{}")
            state[key] = (
                attributes.get("VisibilityTimeout"),
                attributes.get("MessageRetentionPeriod"),
                attributes.get("ReceiveMessageWaitTimeSeconds"),
                redrive.get("deadLetterTargetArn"),
                str(redrive.get("maxReceiveCount")),
            )
        for spec in bootstrap.table_specs(ctx.settings):
            try:
                ttl = dynamodb.describe_time_to_live(TableName=spec["name"])["TimeToLiveDescription"]
            except ClientError:
                state[spec["name"]] = None
                continue
            state[spec["name"]] = (ttl.get("TimeToLiveStatus"), ttl.get("AttributeName"))
        return state


class ChaliceDeploy(Step):
    title = "chalice deploy"

    def run(self, ctx: Context) -> None:
        before = self._resources(ctx)
        # app.py reads CHAT_QUEUE_NAME and SQS_BATCH_SIZE at import: give it the stage's values.
        env = ctx.target.subprocess_env({**ctx.stage.environment(PROCESSOR), "PYTHONUNBUFFERED": "1"})
        code, lines = _stream(ctx, _chalice_command(ctx, "deploy"), env)
        if code != 0:
            last = next((line for line in reversed(lines) if line.strip()), "")
            fix = "read chalice's output above, fix the cause, and rerun deploy.py: steps already done are skipped"
            if any("NoSuchPackageError" in line or "Could not satisfy the requirement" in line for line in lines):
                fix = PACKAGING_FIX
            raise ctx.fail("chalice deploy", f"exited with {code}: {last}", fix)
        after = self._resources(ctx)
        functions = sum(1 for kind in after.values() if kind == "lambda_function")
        added = sorted(set(after) - set(before))
        removed = sorted(set(before) - set(after))
        if added or removed:
            detail = (
                f"{functions} functions; added {', '.join(added) or 'nothing'}; "
                f"removed {', '.join(removed) or 'nothing'}"
            )
            ctx.check("chalice deploy", CHANGED, detail)
        else:
            ctx.check("chalice deploy", OK, f"{functions} functions; the same resources as before (code updated)")
        self._check_package(ctx, lines)

    @staticmethod
    def _resources(ctx: Context) -> Dict[str, str]:
        deployed = ctx.stage.deployed() or {"resources": []}
        return {resource["name"]: resource["resource_type"] for resource in deployed["resources"]}

    @staticmethod
    def _check_package(ctx: Context, lines: List[str]) -> None:
        from chalice.deploy.packager import LambdaDeploymentPackager
        from chalice.utils import OSUtils
        from packaging.requirements import Requirement
        from packaging.utils import canonicalize_name

        requirements_file = ctx.stage.project_dir / "requirements.txt"
        wanted = []
        if requirements_file.exists():
            for line in requirements_file.read_text().splitlines():
                line = line.split("#", 1)[0].strip()
                if line and not line.startswith("-"):
                    wanted.append(canonicalize_name(Requirement(line).name))
        package = LambdaDeploymentPackager(OSUtils(), None, None).deployment_package_filename(
            str(ctx.stage.project_dir), ctx.stage.chalice.lambda_python_version
        )
        try:
            with zipfile.ZipFile(package) as bundle:
                tops = {name.split("/", 1)[0] for name in bundle.namelist()}
            present = {
                canonicalize_name(top.removesuffix(".dist-info").rsplit("-", 1)[0])
                for top in tops
                if top.endswith(".dist-info")
            }
        except OSError as exc:
            raise ctx.fail("deployment package", f"cannot read {package}: {exc}")
        absent = [name for name in wanted if name not in present]
        if absent:
            hint = next((line for line in lines if "Could not install dependencies" in line), "")
            raise ctx.fail(
                "deployment package",
                f"{Path(package).name} lacks {', '.join(absent)} {hint}".strip(),
                PACKAGING_FIX + f"; then delete {package} and rerun",
            )
        ctx.check("deployment package", OK, f"{Path(package).name} contains {', '.join(wanted) or 'no requirements'}")


class Wire(Step):
    title = "Wire the processor"

    def run(self, ctx: Context) -> None:
        endpoint = ctx.websocket_endpoint()
        processor = ctx.resource(PROCESSOR)
        self._environment(ctx, processor["lambda_arn"], endpoint)
        self._config_file(ctx, endpoint)
        self._mapping(ctx, processor["lambda_arn"])

    @staticmethod
    def _environment(ctx: Context, function_arn: str, endpoint: Dict[str, str]) -> None:
        lam = ctx.client("lambda")
        variables = (
            lam.get_function_configuration(FunctionName=function_arn).get("Environment", {}).get("Variables", {})
        )
        wanted = {"WEBSOCKET_DOMAIN": endpoint["domain"], "WEBSOCKET_STAGE": endpoint["stage"]}
        detail = f"WEBSOCKET_DOMAIN={endpoint['domain']} WEBSOCKET_STAGE={endpoint['stage']}"
        if all(variables.get(key) == value for key, value in wanted.items()):
            ctx.check("processor endpoint", OK, detail)
            return
        lam.update_function_configuration(FunctionName=function_arn, Environment={"Variables": {**variables, **wanted}})
        lam.get_waiter("function_updated_v2").wait(
            FunctionName=function_arn, WaiterConfig={"Delay": 2, "MaxAttempts": 60}
        )
        ctx.check("processor endpoint", CHANGED, detail + " set on the function")

    @staticmethod
    def _config_file(ctx: Context, endpoint: Dict[str, str]) -> None:
        wanted = {"WEBSOCKET_DOMAIN": endpoint["domain"], "WEBSOCKET_STAGE": endpoint["stage"]}
        current = ctx.stage.environment(PROCESSOR)
        if all(current.get(key) == value for key, value in wanted.items()):
            ctx.check("config.json endpoint", OK, f"stage {ctx.stage.stage} already names the endpoint")
            return
        _edit_processor_env(ctx.stage, wanted)
        ctx.check(
            "config.json endpoint",
            CHANGED,
            f"wrote them into stages.{ctx.stage.stage}.lambda_functions.{PROCESSOR} of {ctx.stage.config_path.name}",
            "commit .chalice/config.json so the next chalice deploy keeps them",
        )

    @staticmethod
    def _mapping(ctx: Context, function_arn: str) -> None:
        lam = ctx.client("lambda")
        queue_arn = ctx.resources.queue_arn
        mapping = find_mapping(lam, queue_arn, function_arn)
        if mapping is None:
            subscribed = ctx.resource(f"{PROCESSOR}-sqs-event-source").get("queue_arn")
            raise ctx.fail(
                "sqs mapping",
                f"no event source mapping from {queue_arn} to {PROCESSOR} (chalice subscribed {subscribed})",
                "check CHAT_QUEUE_NAME for this stage in config.json, then rerun deploy.py",
            )
        detail = f"{mapping['UUID']}: {BATCH_ITEM_FAILURES}, Enabled"
        if BATCH_ITEM_FAILURES in (mapping.get("FunctionResponseTypes") or []) and mapping.get("State") == "Enabled":
            ctx.check("sqs mapping", OK, detail)
            return
        for attempt in range(30):
            try:
                lam.update_event_source_mapping(
                    UUID=mapping["UUID"], FunctionResponseTypes=[BATCH_ITEM_FAILURES], Enabled=True
                )
                break
            except ClientError as exc:  # still Creating/Updating right after chalice
                if exc.response["Error"]["Code"] != "ResourceInUseException" or attempt == 29:
                    raise ctx.fail("sqs mapping", f"cannot update {mapping['UUID']}: {_error(exc)}")
                time.sleep(2)
        ctx.check(
            "sqs mapping", CHANGED, detail + f" (was {mapping.get('State')}, {mapping.get('FunctionResponseTypes')})"
        )


def _edit_processor_env(stage: StageConfig, values: Dict[str, Optional[str]]) -> bool:
    """Set (or, for None, remove) processor variables of the stage in config.json; True if it changed."""
    raw = stage.raw_config()
    stage_config = raw["stages"][stage.stage]
    env = (
        stage_config.setdefault("lambda_functions", {})
        .setdefault(PROCESSOR, {})
        .setdefault("environment_variables", {})
    )
    before = dict(env)
    for key, value in values.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    if env == before:
        return False
    if not env:
        del stage_config["lambda_functions"][PROCESSOR]["environment_variables"]
        if not stage_config["lambda_functions"][PROCESSOR]:
            del stage_config["lambda_functions"][PROCESSOR]
        if not stage_config["lambda_functions"]:
            del stage_config["lambda_functions"]
    stage.config_path.write_text(json.dumps(raw, indent=2) + "\n")
    return True


class Validate(Step):
    title = "Validate"

    def run(self, ctx: Context) -> None:
        ctx.deployed()  # stops here when the stage was never deployed
        failed = False
        for name, check in (
            ("functions", self._functions),
            ("websocket api", self._websocket_api),
            ("processor endpoint", self._processor_endpoint),
            ("sqs mapping", self._mapping),
            ("queue", self._queue),
            ("tables", self._tables),
            ("role policies", self._role_policies),
            ("smoke test", self._smoke_test),
        ):
            try:
                status, detail, fix = check(ctx)
            except Stop:
                failed = True
                continue
            except (ClientError, BotoCoreError) as exc:
                status, detail, fix = FAIL, _error(exc), self._redeploy(ctx)
            ctx.check(name, status, detail, fix)
            failed = failed or status == FAIL
        if failed:
            raise Stop("validation failed")

    # Each check returns (status, detail, fix).

    def _redeploy(self, ctx: Context) -> str:
        return f"rerun scripts/deploy.py --stage {ctx.stage.stage}"

    def _functions(self, ctx: Context):
        from chalicelib.config import REQUIRED_IN_LAMBDA

        lam = ctx.client("lambda")
        problems = []
        for function in FUNCTIONS:
            name = ctx.stage.function_name(function)
            try:
                config = lam.get_function_configuration(FunctionName=name)
            except ClientError as exc:
                problems.append(f"{name}: {_error(exc)}")
                continue
            if config.get("State", "Active") != "Active" or config.get("LastUpdateStatus") == "Failed":
                problems.append(f"{name} is {config.get('State')}/{config.get('LastUpdateStatus')}")
            variables = config.get("Environment", {}).get("Variables", {})
            absent = [key for key in REQUIRED_IN_LAMBDA if not variables.get(key)]
            if absent:
                problems.append(f"{name} lacks {', '.join(absent)}")
        if problems:
            return FAIL, "; ".join(problems), self._redeploy(ctx)
        return OK, f"{len(FUNCTIONS)} functions Active: {', '.join(FUNCTIONS)}", ""

    def _websocket_api(self, ctx: Context):
        endpoint = ctx.websocket_endpoint()
        gateway = ctx.client("apigatewayv2")
        api = gateway.get_api(ApiId=endpoint["api_id"])
        routes = {route["RouteKey"] for route in gateway.get_routes(ApiId=endpoint["api_id"])["Items"]}
        stages = {stage["StageName"] for stage in gateway.get_stages(ApiId=endpoint["api_id"])["Items"]}
        absent = [route for route in WEBSOCKET_ROUTES if route not in routes]
        problems = []
        if api.get("ProtocolType") != "WEBSOCKET":
            problems.append(f"API {endpoint['api_id']} is {api.get('ProtocolType')}, not WEBSOCKET")
        if absent:
            problems.append(f"routes missing: {', '.join(absent)}")
        if endpoint["stage"] not in stages:
            problems.append(f"stage {endpoint['stage']} missing")
        if problems:
            return FAIL, "; ".join(problems), self._redeploy(ctx)
        return OK, f"{endpoint['url']} with {', '.join(sorted(routes))}", ""

    def _processor_endpoint(self, ctx: Context):
        endpoint = ctx.websocket_endpoint()
        lam = ctx.client("lambda")
        variables = (
            lam.get_function_configuration(FunctionName=ctx.stage.function_name(PROCESSOR))
            .get("Environment", {})
            .get("Variables", {})
        )
        got = (variables.get("WEBSOCKET_DOMAIN"), variables.get("WEBSOCKET_STAGE"))
        if got != (endpoint["domain"], endpoint["stage"]):
            return (
                FAIL,
                f"{PROCESSOR} has WEBSOCKET_DOMAIN/STAGE {got}, the API is {endpoint['domain']}/{endpoint['stage']}",
                self._redeploy(ctx) + " (step 4 wires them)",
            )
        return OK, f"{PROCESSOR} posts to https://{endpoint['domain']}/{endpoint['stage']}", ""

    def _mapping(self, ctx: Context):
        lam = ctx.client("lambda")
        function_arn = ctx.resource(PROCESSOR)["lambda_arn"]
        queue_arn = _queue_arn(ctx)
        mapping = find_mapping(lam, queue_arn, function_arn)
        if mapping is None:
            return FAIL, f"no event source mapping from {queue_arn} to {PROCESSOR}", self._redeploy(ctx)
        problems = []
        state = mapping.get("State")
        if state != "Enabled":
            problems.append(f"mapping {mapping['UUID']} is {state}: queued chat messages are not processed")
        if BATCH_ITEM_FAILURES not in (mapping.get("FunctionResponseTypes") or []):
            problems.append(f"{BATCH_ITEM_FAILURES} is off: one failed record retries the whole batch")
        if mapping.get("BatchSize") != ctx.settings.sqs_batch_size:
            problems.append(f"BatchSize {mapping.get('BatchSize')} != SQS_BATCH_SIZE {ctx.settings.sqs_batch_size}")
        if problems:
            fix = (
                f"{self._redeploy(ctx)} (it enables the mapping with {BATCH_ITEM_FAILURES}), or: aws lambda "
                f"update-event-source-mapping --uuid {mapping['UUID']} --enabled --function-response-types "
                f"{BATCH_ITEM_FAILURES}"
            )
            return FAIL, "; ".join(problems), fix
        return OK, f"{mapping['UUID']} Enabled, {BATCH_ITEM_FAILURES}, batch {mapping.get('BatchSize')}", ""

    def _queue(self, ctx: Context):
        sqs = ctx.client("sqs")
        urls = queues.queue_urls(sqs, ctx.settings.queue_name)
        attributes = sqs.get_queue_attributes(QueueUrl=urls["queue"], AttributeNames=["All"])["Attributes"]
        dlq_arn = sqs.get_queue_attributes(QueueUrl=urls["dlq"], AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        timeout = ctx.client("lambda").get_function_configuration(FunctionName=ctx.stage.function_name(PROCESSOR))[
            "Timeout"
        ]
        problems = []
        visibility = int(attributes.get("VisibilityTimeout", 0))
        if visibility < 6 * timeout:
            problems.append(f"VisibilityTimeout {visibility} s < 6 x {PROCESSOR} timeout {timeout} s")
        redrive = json.loads(attributes.get("RedrivePolicy") or "{}")
        if redrive.get("deadLetterTargetArn") != dlq_arn:
            problems.append(f"no redrive to {dlq_arn}")
        if problems:
            return FAIL, "; ".join(problems), self._redeploy(ctx) + " (step 2 sets the queue attributes)"
        main, dead = queues.depth(sqs, urls["queue"]), queues.depth(sqs, urls["dlq"])
        detail = (
            f"{main.name}: {main.visible} waiting, {main.in_flight} in flight; "
            f"{dead.name}: {dead.visible} waiting, {dead.in_flight} in flight"
        )

        def tool(command: str) -> str:
            return f"`scripts/queue.py {command} --stage {ctx.stage.stage}`"

        fixes = []
        if main.visible >= ctx.options.backlog_threshold:
            fixes.append(
                f"backlog of {main.visible}: look with {tool('status')}, drop stale messages with "
                f"{tool('purge')[:-1]} --older-than 15`"
            )
        if dead.visible:
            fixes.append(
                f"{dead.visible} in the DLQ: after fixing the cause, {tool('redrive')}; or drop them with "
                f"{tool('purge')[:-1]} --dlq --older-than 0`"
            )
        return (WARN if fixes else OK), detail, "; ".join(fixes)

    def _tables(self, ctx: Context):
        dynamodb = ctx.client("dynamodb")
        problems, names = [], []
        for spec in bootstrap.table_specs(ctx.settings):
            names.append(spec["name"])
            try:
                status = dynamodb.describe_table(TableName=spec["name"])["Table"]["TableStatus"]
            except ClientError as exc:
                problems.append(f"{spec['name']}: {_error(exc)}")
                continue
            ttl = dynamodb.describe_time_to_live(TableName=spec["name"])["TimeToLiveDescription"]
            if status != "ACTIVE":
                problems.append(f"{spec['name']} is {status}")
            if ttl.get("TimeToLiveStatus") not in ("ENABLED", "ENABLING") or ttl.get("AttributeName") != spec["ttl"]:
                problems.append(f"{spec['name']}: TTL on {spec['ttl']!r} is not enabled")
        if problems:
            return FAIL, "; ".join(problems), self._redeploy(ctx) + " (step 2 creates them)"
        return OK, f"{', '.join(names)}: ACTIVE with TTL", ""

    def _role_policies(self, ctx: Context):
        iam, lam = ctx.client("iam"), ctx.client("lambda")
        scope = ctx.scope(ctx.websocket_endpoint()["api_id"])
        problems, roles = [], []
        for function in FUNCTIONS:
            role_name = lam.get_function_configuration(FunctionName=ctx.stage.function_name(function))["Role"].split(
                "/"
            )[-1]
            roles.append(role_name)
            document = {"Statement": []}
            for policy_name in iam.list_role_policies(RoleName=role_name)["PolicyNames"]:
                found = iam.get_role_policy(RoleName=role_name, PolicyName=policy_name)["PolicyDocument"]
                if isinstance(found, str):
                    found = json.loads(found)
                document["Statement"] += policy.statements(found)
            problems += [
                f"role {role_name} does not allow {need.describe()}"
                for need in policy.missing(document, policy.needs_for(scope, [function]))
            ]
        if problems:
            fix = (
                f"{self._redeploy(ctx)}: chalice puts {ctx.stage.policy_path().name} on every role again "
                "(add what is missing to that file first if preflight says so)"
            )
            return FAIL, "; ".join(problems), fix
        return OK, f"{len(roles)} roles allow what their function calls, ManageConnections included", ""

    def _smoke_test(self, ctx: Context):
        url = ctx.options.smoke_url
        if not url:
            if ctx.target.emulated:
                return SKIP, "emulated AWS: nothing serves the deployed WebSocket URL", "pass --smoke-url to test one"
            url = ctx.websocket_endpoint()["url"]
        parsed = urlparse(url)
        port = parsed.port or (443 if parsed.scheme == "wss" else 80)
        try:
            socket.create_connection((parsed.hostname, port), timeout=5).close()
        except OSError as exc:
            return WARN, f"{url} is not reachable from here ({exc}); smoke test not run", ""
        try:
            from websockets.sync.client import connect
        except ImportError:
            return SKIP, "the websockets package is not installed", "pip install -r requirements.txt"
        started = time.monotonic()
        try:
            with connect(url, open_timeout=10, close_timeout=2) as websocket:
                websocket.send(json.dumps({"action": "ping"}))
                frame = json.loads(websocket.recv(timeout=10))
        except Exception as exc:  # any failure of the handshake or the exchange is the finding
            return FAIL, f"{url}: {type(exc).__name__}: {exc}", "follow scripts/tail_websocket_logs.sh while retrying"
        elapsed_ms = int((time.monotonic() - started) * 1000)
        if frame.get("type") != "pong":
            return FAIL, f"{url}: ping answered with {frame}", "follow scripts/tail_websocket_logs.sh while retrying"
        return OK, f"{url}: connect + ping -> pong in {elapsed_ms} ms", ""


def _queue_arn(ctx: Context) -> str:
    if ctx.resources is not None:
        return ctx.resources.queue_arn
    sqs = ctx.client("sqs")
    url = sqs.get_queue_url(QueueName=ctx.settings.queue_name)["QueueUrl"]
    return sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]


class ChaliceDelete(Step):
    title = "chalice delete"

    def run(self, ctx: Context) -> None:
        if not (ctx.stage.deployed() or {}).get("resources"):
            ctx.check("chalice delete", OK, f"nothing deployed according to {ctx.stage.deployed_path.name}")
            return
        code, lines = _stream(ctx, _chalice_command(ctx, "delete"), ctx.target.subprocess_env())
        if code != 0:
            last = next((line for line in reversed(lines) if line.strip()), "")
            raise ctx.fail("chalice delete", f"exited with {code}: {last}", "fix the cause and rerun with --delete")
        ctx.check("chalice delete", CHANGED, "functions, roles, mapping and WebSocket API deleted")


class DeleteResources(Step):
    title = "Delete queue, DLQ and tables"

    def run(self, ctx: Context) -> None:
        if _edit_processor_env(ctx.stage, {"WEBSOCKET_DOMAIN": None, "WEBSOCKET_STAGE": None}):
            ctx.check("config.json endpoint", CHANGED, "removed the deleted API's WEBSOCKET_DOMAIN/STAGE")
        if ctx.options.keep_data:
            ctx.check("queue and tables", SKIP, "kept (--keep-data)")
            return
        sqs, dynamodb = ctx.client("sqs"), ctx.client("dynamodb")
        gone = []
        for name in (ctx.settings.queue_name, ctx.settings.queue_name + bootstrap.DLQ_SUFFIX):
            try:
                sqs.delete_queue(QueueUrl=sqs.get_queue_url(QueueName=name)["QueueUrl"])
                gone.append(name)
            except ClientError as exc:
                if "NonExistentQueue" not in exc.response["Error"]["Code"]:
                    raise ctx.fail("queue and tables", f"{name}: {_error(exc)}")
        for spec in bootstrap.table_specs(ctx.settings):
            try:
                dynamodb.delete_table(TableName=spec["name"])
                gone.append(spec["name"])
            except ClientError as exc:
                if exc.response["Error"]["Code"] != "ResourceNotFoundException":
                    raise ctx.fail("queue and tables", f"{spec['name']}: {_error(exc)}")
        ctx.check("queue and tables", CHANGED if gone else OK, f"deleted {', '.join(gone)}" if gone else "already gone")


def steps_for(options: Options) -> List[Step]:
    if options.mode == "delete":
        return [Preflight(), ChaliceDelete(), DeleteResources()]
    if options.mode == "validate":
        return [Preflight(), Validate()]
    steps = [Preflight(), EnsureResources(), ChaliceDeploy(), Wire()]
    return steps if options.skip_validate else [*steps, Validate()]


def run(
    options: Options,
    on_check: Callable[[Check], None] = lambda check: None,
    log: Callable[[str], None] = lambda line: None,
    on_step: Callable[[int, int, str], None] = lambda number, total, title: None,
) -> Report:
    """Run the steps for ``options``; the report says what each check found."""
    ctx = Context(options, on_check, log)
    steps = steps_for(options)
    for number, step in enumerate(steps, 1):
        ctx.step = step.title
        on_step(number, len(steps), step.title)
        try:
            step.run(ctx)
        except Stop:
            break
        except (ClientError, BotoCoreError) as exc:
            ctx.check("error", FAIL, _error(exc), "rerun when the cause is fixed: finished steps are skipped over")
            break
    return ctx.report
