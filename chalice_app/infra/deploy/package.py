"""Package: the real ``chalice package`` of a stage, then its SAM template made as correct as a deploy.

``chalice package DIR`` writes ``sam.json`` and ``deployment.zip`` from the same
config.json, policy files and app the deploy uses. What deploy's Wire step does
to a live stack, ``harden`` does to the template, so a SAM/CloudFormation deploy
of it is as correct:

- ``FunctionResponseTypes: [ReportBatchItemFailures]`` on the SQS event, which
  chalice cannot set (chalice issue #2029); without it a failed record of a batch
  is deleted instead of retried;
- every ManageConnections statement scoped to the template's own WebSocket API
  (``Fn::Sub`` of its logical id, the stage and the methods the policy file names),
  never another stack's, whatever API id an earlier deploy wrote into the files;
- ``WEBSOCKET_DOMAIN`` / ``WEBSOCKET_STAGE`` of the processor naming that API,
  not the API a deploy from this checkout made.

Then cfn-lint (a development requirement) checks the template when installed.
"""

import copy
import json
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

from infra import policy
from infra.deploy import template as stage_template
from infra.deploy.base import (
    BATCH_ITEM_FAILURES,
    CHANGED,
    FAIL,
    OK,
    SKIP,
    Context,
    Step,
    chalice_command,
    chalice_failure,
    stream,
)
from infra.stage import PROCESSOR

__all__ = ["TEMPLATE", "Package", "harden", "report_batch_item_failures", "scope_to_own_api", "websocket_api"]

TEMPLATE = "sam.json"
PLAIN_TEMPLATE = "cloudformation.json"  # the same stack without the SAM transform
SERVERLESS_FUNCTION = "AWS::Serverless::Function"
IAM_ROLE = "AWS::IAM::Role"
WEBSOCKET_API = "AWS::ApiGatewayV2::Api"


def _of_type(template: Dict[str, Any], kind: str) -> Dict[str, Dict[str, Any]]:
    return {name: r for name, r in template.get("Resources", {}).items() if r.get("Type") == kind}


def report_batch_item_failures(template: Dict[str, Any]) -> List[str]:
    """Set ``FunctionResponseTypes: [ReportBatchItemFailures]`` on every SQS event, in place.

    SAM: an ``SQS`` event of ``AWS::Serverless::Function`` takes ``FunctionResponseTypes``
    (the event source mapping's); with ``ReportBatchItemFailures`` Lambda retries only
    the records the handler returns in ``batchItemFailures``.
    """
    changed = []
    for name, function in _of_type(template, SERVERLESS_FUNCTION).items():
        for event_name, event in function.get("Properties", {}).get("Events", {}).items():
            if event.get("Type") == "SQS":
                event.setdefault("Properties", {})["FunctionResponseTypes"] = [BATCH_ITEM_FAILURES]
                changed.append(f"{name}.{event_name}")
    return changed


def websocket_api(template: Dict[str, Any]) -> Optional[str]:
    """The logical id of the template's WebSocket API (chalice makes one)."""
    apis = [
        name
        for name, api in _of_type(template, WEBSOCKET_API).items()
        if api.get("Properties", {}).get("ProtocolType") == "WEBSOCKET"
    ]
    return apis[0] if len(apis) == 1 else None


def scope_to_own_api(template: Dict[str, Any], api: str, stage: str) -> List[str]:
    """Scope ManageConnections to ``api`` (a logical id) and ``stage`` in every role, in place;
    point the processor's WEBSOCKET_DOMAIN/STAGE at that API. Returns the roles changed.

    The ARN is the one the Wire step writes (``policy.connections_arn``), with the
    stack's partition, region, account and API id as ``Fn::Sub`` variables.
    """

    def resource_for(method: str) -> Dict[str, str]:
        return {
            "Fn::Sub": policy.connections_arn(
                "${AWS::Partition}", "${AWS::Region}", "${AWS::AccountId}", "${" + api + "}", stage, method
            )
        }

    changed = []
    for name, role in _of_type(template, IAM_ROLE).items():
        for entry in role.get("Properties", {}).get("Policies", []):
            scoped = policy.scope_connections(entry["PolicyDocument"], resource_for)
            if scoped != entry["PolicyDocument"]:
                entry["PolicyDocument"] = scoped
                changed.append(name)
    for function in _of_type(template, SERVERLESS_FUNCTION).values():
        properties = function.get("Properties", {})
        if properties.get("Handler") == f"app.{PROCESSOR}":
            variables = properties.setdefault("Environment", {}).setdefault("Variables", {})
            # What Wire reads from the deployed API's URL: {api-id}.execute-api.{region}.amazonaws.com
            variables["WEBSOCKET_DOMAIN"] = {"Fn::Sub": "${" + api + "}.execute-api.${AWS::Region}.${AWS::URLSuffix}"}
            variables["WEBSOCKET_STAGE"] = stage
    return changed


def harden(template: Dict[str, Any], stage: str) -> Tuple[Dict[str, Any], List[str]]:
    """A copy of chalice's SAM template with what Wire does to a deployed stack; and what it changed."""
    hardened = copy.deepcopy(template)
    notes = []
    events = report_batch_item_failures(hardened)
    notes.append(f"{BATCH_ITEM_FAILURES} on {', '.join(events) or 'no SQS event'}")
    api = websocket_api(hardened)
    if api is None:
        raise ValueError("the template has no (or more than one) WebSocket API")
    roles = scope_to_own_api(hardened, api, stage)
    notes.append(f"ManageConnections on ${{{api}}}/{stage} only in {', '.join(roles) or 'no role'}")
    notes.append(f"{PROCESSOR}'s WEBSOCKET_DOMAIN/STAGE from {api}")
    return hardened, notes


def cfn_lint_cli() -> Optional[Path]:
    beside = Path(sys.executable).parent / "cfn-lint"
    return beside if beside.exists() else None


class Package(Step):
    title = "chalice package"

    def run(self, ctx: Context) -> None:
        out = Path(ctx.options.package_dir).resolve()
        # app.py reads CHAT_QUEUE_NAME and SQS_BATCH_SIZE at import: give it the stage's values.
        env = ctx.target.subprocess_env({**ctx.stage.environment(PROCESSOR), "PYTHONUNBUFFERED": "1"})
        code, lines = stream(ctx, chalice_command(ctx, "package", str(out)), env)
        if code != 0:
            raise chalice_failure(ctx, "chalice package", code, lines, "rerun deploy.py --package")
        path = out / TEMPLATE
        ctx.check("chalice package", OK, f"{path} and {out / 'deployment.zip'}")
        try:
            hardened, notes = harden(json.loads(path.read_text()), ctx.stage.api_gateway_stage)
        except (OSError, ValueError) as exc:
            raise ctx.fail("template", f"{path}: {exc}")
        stage = ctx.stage
        added = stage_template.add_stage(hardened, ctx.settings, stage.visibility_timeout, stage.app_name, stage.stage)
        notes.append(f"added {', '.join(added)}; FunctionName on every function")
        mismatches = stage_template.log_permission_mismatches(hardened)
        if mismatches:
            raise ctx.fail("template", "; ".join(mismatches), "name the function's log group in its WriteOwnLogs")
        path.write_text(json.dumps(hardened, indent=2) + "\n")
        ctx.check("template", CHANGED, "; ".join(notes))
        plain = out / PLAIN_TEMPLATE
        description = f"{stage.app_name} stage {stage.stage}: upload deployment.zip to CodeBucket/CodeKey first"
        plain.write_text(json.dumps(stage_template.to_cloudformation(hardened, description), indent=2) + "\n")
        ctx.check("plain template", OK, f"{plain} (no SAM transform; code from the CodeBucket/CodeKey parameters)")
        ctx.check("cfn-lint", *self._lint(path))
        ctx.check("cfn-lint plain", *self._lint(plain))

    @staticmethod
    def _lint(path: Path) -> Tuple[str, str, str]:
        cli = cfn_lint_cli()
        if cli is None:
            return SKIP, "cfn-lint is not installed", "pip install -r requirements.txt"
        done = subprocess.run([str(cli), str(path)], capture_output=True, text=True, timeout=600)
        if done.returncode != 0:
            findings = " | ".join(line for line in done.stdout.splitlines() if line.strip())
            return FAIL, f"{cli.name} {path.name}: {findings or done.stderr.strip()}", "fix the template's cause"
        return OK, f"no findings in {path.name}", ""
