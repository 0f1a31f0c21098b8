"""What a failing function's log says went wrong, and the change that fixes it.

``cause_of(function, line, stage, where)`` runs ``RULES`` in order over one log
line; the first that matches names the error and the fix in words a developer
can act on: the chalicelib helper to post through, the requirements line by
distribution name, the policy statement to add, the config key to change, or,
when nothing more precise is known, a log command that works with the tools
``make install`` provides (the AWS CLI v1's ``logs filter-log-events``, with the
endpoint of an emulated region). ``diagnose`` reads each function's CloudWatch
log group since a moment and returns the first specific cause of each.
"""

import json
import re
import shlex
from dataclasses import dataclass
from typing import Callable, FrozenSet, List, Optional

from botocore.exceptions import BotoCoreError, ClientError

from infra.deploy.imports import requirement_line

__all__ = ["Cause", "Where", "cause_of", "diagnose", "log_command"]

POST_HELPER = "chalicelib.management.for_endpoint(WEBSOCKET_DOMAIN, WEBSOCKET_STAGE).post(connection_id, frame)"


@dataclass(frozen=True)
class Cause:
    function: str
    error: str
    fix: str
    specific: bool = True


@dataclass(frozen=True)
class Where:
    """What the rules know of the stage: its name, its own resource names, and how to read a log."""

    stage: str
    resource_names: FrozenSet[str] = frozenset()
    endpoint_url: Optional[str] = None
    region: Optional[str] = None
    since_ms: Optional[int] = None


def log_command(function: str, where: Where) -> str:
    """The AWS CLI (v1, as ``make install`` installs it) command that prints ``function``'s log lines."""
    parts = [".venv/bin/aws"]
    if where.endpoint_url:
        parts += ["--endpoint-url", where.endpoint_url]
    if where.region:
        parts += ["--region", where.region]
    parts += ["logs", "filter-log-events", "--log-group-name", f"/aws/lambda/{function}"]
    if where.since_ms is not None:
        parts += ["--start-time", str(where.since_ms)]
    parts += ["--query", "events[].message", "--output", "text"]
    return " ".join(shlex.quote(part) for part in parts)


def _short(function: str) -> str:
    return function.rsplit("-", 1)[-1]


def _policy_file(function: str, where: Where) -> str:
    return f".chalice/policy-{where.stage}-{_short(function)}.json"


def _last_line(line: str) -> str:
    stripped = line.strip()
    return stripped.splitlines()[-1][:300] if stripped else line


# --- the rules: each (function, line, where) -> Cause or None -------------------------

_MISSING_MODULE = re.compile(r"No module named '([^']+)'")
_NOT_AUTHORIZED = re.compile(r"perform: ([\w-]+:\w+) on resource: ([^\s\"'\\,;)]+)")


def _missing_module(function: str, line: str, where: Where) -> Optional[Cause]:
    missing = _MISSING_MODULE.search(line)
    if not missing:
        return None
    module = missing.group(1).split(".")[0]
    kind = "Runtime.ImportModuleError" if "Runtime.ImportModuleError" in line else "ModuleNotFoundError"
    return Cause(
        function,
        f"{kind}: No module named '{missing.group(1)}'",
        f"the deployment package lacks {module}: add `{requirement_line(module)}` to chalice_app/requirements.txt "
        "and redeploy (preflight's `imports` check lists every module the code imports that the package lacks)",
    )


def _websocket_api(function: str, line: str, where: Where) -> Optional[Cause]:
    if "websocket_api.session" not in line and "WebsocketAPI.configure must be called" not in line:
        return None
    return Cause(
        function,
        "ValueError: app.websocket_api is not configured outside a WebSocket handler "
        "(Assign app.websocket_api.session / WebsocketAPI.configure must be called)",
        f"{function} posts through app.websocket_api, which Chalice configures only inside WebSocket handlers "
        f"(setting app.websocket_api.session is not enough): post with {POST_HELPER} (chalicelib.management "
        "builds the apigatewaymanagementapi client from WEBSOCKET_DOMAIN/WEBSOCKET_STAGE)",
    )


def _forbidden(function: str, line: str, where: Where) -> Optional[Cause]:
    if "ForbiddenException" not in line and "execute-api:ManageConnections" not in line:
        return None
    return Cause(
        function,
        "ForbiddenException on @connections: its role lacks execute-api:ManageConnections",
        f"allow execute-api:ManageConnections on this API's @connections in {_policy_file(function, where)}"
        ' ({"Effect": "Allow", "Action": "execute-api:ManageConnections", "Resource": '
        '"arn:aws:execute-api:*:*:*/api/POST/@connections/*"}), then rerun deploy.py (step 4 scopes it to the API)',
    )


def _access_denied(function: str, line: str, where: Where) -> Optional[Cause]:
    if "AccessDenied" not in line:
        return None
    denied = _NOT_AUTHORIZED.search(line)
    if not denied:
        return Cause(
            function, _last_line(line), f"the role of {function} lacks a permission its code uses: fix its policy file"
        )
    action, resource = denied.groups()
    name = resource.split(":")[-1].split("/")[-1]
    if where.resource_names and name not in where.resource_names:
        return Cause(
            function,
            f"{_last_line(line)} ({resource} is not a resource of stage {where.stage})",
            f"{function} is configured with {name}, which is not stage {where.stage}'s: set its "
            f"CHAT_QUEUE_NAME/*_TABLE in .chalice/config.json to the stage's own names (preflight's `stage "
            "resources` check names the key), then redeploy",
        )
    statement = json.dumps({"Effect": "Allow", "Action": action, "Resource": resource})
    return Cause(
        function,
        _last_line(line),
        f"add {statement} to {_policy_file(function, where)} and add {action} to infra/policy.py NEEDS, then rerun "
        "deploy.py",
    )


def _handler_not_found(function: str, line: str, where: Where) -> Optional[Cause]:
    if "Runtime.HandlerNotFound" not in line:
        return None
    return Cause(
        function,
        _last_line(line),
        f"{function}'s handler names no function of app.py: rerun deploy.py (chalice sets the handler), or rename "
        "the handler back in app.py",
    )


def _timed_out(function: str, line: str, where: Where) -> Optional[Cause]:
    if "Task timed out" not in line:
        return None
    return Cause(
        function,
        _last_line(line),
        f'raise lambda_functions."{_short(function)}".lambda_timeout in .chalice/config.json (at most 900), '
        "or find what is slow",
    )


def _gone(function: str, line: str, where: Where) -> Optional[Cause]:
    if "GoneException" not in line:
        return None
    return Cause(
        function,
        _last_line(line),
        "the function posts to a connection its endpoint does not know: check WEBSOCKET_DOMAIN and "
        "WEBSOCKET_STAGE of the processor (rerun deploy.py: step 4 wires them)",
    )


def _any_error(function: str, line: str, where: Where) -> Optional[Cause]:
    logged = _json_error(line)
    if "[ERROR]" in line or "Traceback" in line or logged:
        return Cause(function, logged or _last_line(line), f"read its log: {log_command(function, where)}", False)
    return None


RULES: List[Callable[[str, str, Where], Optional[Cause]]] = [
    _missing_module,
    _websocket_api,
    _forbidden,
    _access_denied,
    _handler_not_found,
    _timed_out,
    _gone,
    _any_error,
]


def cause_of(function: str, line: str, stage: str, where: Optional[Where] = None) -> Optional[Cause]:
    """The cause a function's log line names, with the change that fixes it; None if it names none."""
    where = where or Where(stage)
    for rule in RULES:
        cause = rule(function, line, where)
        if cause is not None:
            return cause
    return None


def _json_error(line: str) -> str:
    """The ``error`` of one of the app's JSON log lines ("" if it is not one)."""
    try:
        record = json.loads(line)
    except ValueError:
        return ""
    return str(record.get("error") or "")[:300] if isinstance(record, dict) else ""


def diagnose(logs, functions: List[str], where: Where) -> List[Cause]:
    """The first cause each function's CloudWatch log group names since ``where.since_ms``."""
    causes = []
    for name in functions:
        try:
            events = logs.filter_log_events(logGroupName=f"/aws/lambda/{name}", startTime=where.since_ms)["events"]
        except (ClientError, BotoCoreError):
            continue
        found = [cause_of(name, event["message"], where.stage, where) for event in events]
        found = [cause for cause in found if cause is not None]
        if found:
            # The specific causes first: a generic error line only when nothing more precise was logged.
            causes.append(next((cause for cause in found if cause.specific), found[0]))
    return causes
