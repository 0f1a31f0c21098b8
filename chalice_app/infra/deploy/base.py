"""The pipeline's shared parts: statuses and constants, Options, Check, Report, Context, Step, helpers."""

import json
import shutil
import subprocess
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional
from urllib.parse import urlparse

from botocore.exceptions import ClientError

from chalicelib.errors import ShoppingAssistantError
from infra import bootstrap, policy
from infra.stage import StageConfig, Target

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
    mode: str = "deploy"  # deploy | validate | delete | package
    region: Optional[str] = None
    profile: Optional[str] = None
    endpoint_url: Optional[str] = None
    project_dir: Optional[Path] = None
    skip_validate: bool = False
    smoke_url: Optional[str] = None
    backlog_threshold: int = 10
    keep_data: bool = False
    yes: bool = False
    package_dir: Optional[Path] = None


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
    websocket_url: Optional[str] = None  # the deployed stage's, where Validate smoke-tested it

    @property
    def ok(self) -> bool:
        return not any(check.status == FAIL for check in self.checks)

    def to_dict(self) -> Dict[str, Any]:
        data = asdict(self)
        data["ok"] = self.ok
        return data


class DeployStoppedError(ShoppingAssistantError):
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

    def fail(self, name: str, detail: str, fix: str = "") -> DeployStoppedError:
        """Record a failed check; ``raise ctx.fail(...)`` stops the pipeline."""
        self.check(name, FAIL, detail, fix)
        return DeployStoppedError(detail)

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
        return policy.Scope.of(
            self.settings,
            partition=self.partition,
            region=self.target.region,
            account=self.account,
            app_name=self.stage.app_name,
            stage=self.stage.stage,
            websocket_stage=self.stage.api_gateway_stage,
            api_id=api_id or PLACEHOLDER_API_ID,
        )


def error(exc: Exception) -> str:
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


def role_policies(ctx: Context, function: str) -> tuple:
    """(role name, {policy name: document}) of the deployed function's role: its inline policies."""
    iam = ctx.client("iam")
    role = ctx.client("lambda").get_function_configuration(FunctionName=ctx.stage.function_name(function))["Role"]
    role = role.split("/")[-1]
    documents = {}
    for name in iam.list_role_policies(RoleName=role)["PolicyNames"]:
        document = iam.get_role_policy(RoleName=role, PolicyName=name)["PolicyDocument"]
        documents[name] = json.loads(document) if isinstance(document, str) else document
    return role, documents


def stream(ctx: Context, command: List[str], env: Dict[str, str]) -> tuple:
    ctx.log("    $ " + " ".join(command))
    lines = []
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1)
    for line in process.stdout:
        lines.append(line.rstrip("\n"))
        ctx.log("    | " + lines[-1])
    return process.wait(), lines


def chalice_failure(ctx: Context, name: str, code: int, lines: List[str], rerun: str) -> DeployStoppedError:
    """Record a failed chalice command (its last line, and the packaging fix when pip could not
    reach a requirement); ``raise chalice_failure(...)``."""
    last = next((line for line in reversed(lines) if line.strip()), "")
    fix = f"read chalice's output above, fix the cause, and {rerun}"
    if any("NoSuchPackageError" in line or "Could not satisfy the requirement" in line for line in lines):
        fix = PACKAGING_FIX
    return ctx.fail(name, f"exited with {code}: {last}", fix)


def chalice_command(ctx: Context, *args: str) -> List[str]:
    command = [chalice_cli(), "--project-dir", str(ctx.stage.project_dir), *args, "--stage", ctx.stage.stage]
    if ctx.options.profile:
        command += ["--profile", ctx.options.profile]
    return command


class Step:
    title = ""

    def run(self, ctx: Context) -> None:
        raise NotImplementedError
