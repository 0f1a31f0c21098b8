"""Validate: read-only checks of a deployed stage, ending with a WebSocket smoke test.

The smoke test connects to the deployed stage (API Gateway's URL on AWS; on an
emulated region started by ``make cloud``, the local gateway's, ``served_url``),
pings, and sends one chat message that must be answered end to end. When it fails,
``diagnose`` reads the functions' CloudWatch log groups since the test began and
names each failing function, its error and what to change (``cause_of``).
"""

import json
import socket
import time
import urllib.request
from dataclasses import dataclass
from typing import Optional
from urllib.parse import urlparse

from botocore.exceptions import BotoCoreError, ClientError

from infra import bootstrap, policy, queues
from infra.deploy import diagnosis, limits
from infra.deploy.base import (
    BATCH_ITEM_FAILURES,
    FAIL,
    OK,
    SKIP,
    WARN,
    WEBSOCKET_ROUTES,
    Context,
    DeployStoppedError,
    Step,
    error,
    find_mapping,
    role_policies,
)
from infra.deploy.diagnosis import Cause, Where, cause_of, diagnose  # noqa: F401 (cause_of: the rules' entry)
from infra.stage import FUNCTIONS, PROCESSOR


class Validate(Step):
    title = "Validate"

    def run(self, ctx: Context) -> None:
        ctx.deployed()  # stops here when the stage was never deployed
        failed = False
        self.blocked = []  # the checks whose failure makes a smoke test pointless (it would wait out its timeout)
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
            except DeployStoppedError:
                failed = True
                continue
            except (ClientError, BotoCoreError) as exc:
                status, detail, fix = FAIL, error(exc), self._redeploy(ctx)
            ctx.check(name, status, detail, fix)
            failed = failed or status == FAIL
            if status == FAIL and name in BLOCKS_SMOKE_TEST:
                self.blocked.append(name)
        if failed:
            raise DeployStoppedError("validation failed")

    # Each check returns (status, detail, fix).

    def _redeploy(self, ctx: Context) -> str:
        return f"rerun scripts/deploy.py --stage {ctx.stage.stage}"

    def _functions(self, ctx: Context):
        lam = ctx.client("lambda")
        problems, fixes = [], []
        for function in FUNCTIONS:
            name = ctx.stage.function_name(function)
            try:
                config = lam.get_function_configuration(FunctionName=name)
            except ClientError as exc:
                problems.append(f"{name}: {error(exc)}")
                fixes.append(self._redeploy(ctx))
                continue
            for problem, fix in _function_findings(ctx, function, config):
                problems.append(problem)
                fixes.append(fix)
        if problems:
            return FAIL, "; ".join(problems), "; ".join(dict.fromkeys(fixes))
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
        found = limits.queue_rules(
            ctx.settings.queue_name, attributes, dlq_arn, timeout, ctx.settings.max_receive_count
        )
        if found:
            return FAIL, "; ".join(p for p, _ in found), "; ".join(dict.fromkeys(f for _, f in found))
        main, dead = queues.depth(sqs, urls["queue"]), queues.depth(sqs, urls["dlq"])
        detail = (
            f"{main.name}: {main.visible} waiting, {main.in_flight} in flight; "
            f"{dead.name}: {dead.visible} waiting, {dead.in_flight} in flight"
        )

        def tool(command: str) -> str:
            return f"`scripts/queue_tool.py {command} --stage {ctx.stage.stage}`"

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
        problems, names, rekey = [], [], []
        for spec in bootstrap.table_specs(ctx.settings):
            names.append(spec["name"])
            try:
                table = dynamodb.describe_table(TableName=spec["name"])["Table"]
            except ClientError as exc:
                problems.append(f"{spec['name']}: {error(exc)}")
                continue
            ttl = dynamodb.describe_time_to_live(TableName=spec["name"])["TimeToLiveDescription"]
            if table["TableStatus"] != "ACTIVE":
                problems.append(f"{spec['name']} is {table['TableStatus']}")
            mismatch = bootstrap.key_schema_mismatch(spec, table)
            if mismatch:
                problems.append(f"{spec['name']}: {mismatch}")
                rekey.append(spec["name"])
            if ttl.get("TimeToLiveStatus") not in ("ENABLED", "ENABLING") or ttl.get("AttributeName") != spec["ttl"]:
                problems.append(f"{spec['name']}: TTL on {spec['ttl']!r} is not enabled")
        if problems:
            fix = self._redeploy(ctx) + " (step 2 creates them)"
            if rekey:  # a key cannot change in place
                fix = f"delete {', '.join(rekey)} (its items are lost), then {fix}"
            return FAIL, "; ".join(problems), fix
        return OK, f"{', '.join(names)}: ACTIVE with their keys and TTL", ""

    def _role_policies(self, ctx: Context):
        scope = ctx.scope(ctx.websocket_endpoint()["api_id"])
        problems, roles = [], []
        for function in FUNCTIONS:
            role_name, documents = role_policies(ctx, function)
            roles.append(role_name)
            document = {"Statement": [st for found in documents.values() for st in policy.statements(found)]}
            problems += [
                f"role {role_name} does not allow {need.describe()}"
                for need in policy.missing(document, policy.needs_for(scope, [function]))
            ]
            problems += [
                f"role {role_name} allows {need.describe()}"
                for need in policy.excess(document, policy.forbidden_for(scope, function))
            ]
        if problems:
            fix = (
                f"{self._redeploy(ctx)}: chalice puts each function's policy file on its role again and step 4 "
                "scopes ManageConnections to this API (fix the file first if preflight names it)"
            )
            return FAIL, "; ".join(problems), fix
        return OK, f"{len(roles)} roles allow what their function calls and nothing else, on this API only", ""

    def _smoke_test(self, ctx: Context):
        url = ctx.options.smoke_url or served_url(ctx)
        if not url:
            return (
                SKIP,
                "this emulated AWS does not serve WebSocket APIs (a plain moto server)",
                "deploy into `make cloud` (scripts/local.py --cloud) to smoke-test offline, or pass --smoke-url",
            )
        ctx.report.websocket_url = url
        if self.blocked:
            return (
                SKIP,
                f"not run: {', '.join(self.blocked)} failed above, so a chat message could not be answered",
                "fix what those checks name, then rerun",
            )
        parsed = urlparse(url)
        port = parsed.port or (443 if parsed.scheme == "wss" else 80)
        try:
            socket.create_connection((parsed.hostname, port), timeout=5).close()
        except OSError as exc:
            return WARN, f"{url} is not reachable from here ({exc}); smoke test not run", ""
        try:
            from websockets.sync.client import connect  # noqa: F401 (a dev dependency)
        except ImportError:
            return SKIP, "the websockets package is not installed", "pip install -r requirements.txt"
        since_ms = int(time.time() * 1000)
        outcome = smoke(url, give_up=lambda: bool(_diagnose(ctx, since_ms)))
        if outcome.ok:
            return OK, f"{url}: {outcome.detail}", ""
        time.sleep(LOG_DELAY_SECONDS)  # the failing function's lines reach CloudWatch Logs
        causes = _diagnose(ctx, since_ms)
        if not causes:
            where = _where(ctx, since_ms)
            commands = " ; ".join(diagnosis.log_command(ctx.stage.function_name(f), where) for f in FUNCTIONS)
            return FAIL, f"{url}: {outcome.detail}", f"no function logged an error; read their logs: {commands}"
        detail = f"{url}: {outcome.detail}; " + "; ".join(f"{cause.function}: {cause.error}" for cause in causes)
        return FAIL, detail, "; ".join(dict.fromkeys(cause.fix for cause in causes))


# --- the smoke test ------------------------------------------------------------------

SMOKE_MESSAGE = "smoke test: hello"
SMOKE_TIMEOUT_SECONDS = 60.0  # a cold chat_processor plus its first reply, with margin
LOG_DELAY_SECONDS = 2.0
GIVE_UP_SECONDS = 3.0
REGION_WAIT_SECONDS = 20.0  # the emulated region reads what is deployed every second or so


@dataclass(frozen=True)
class SmokeOutcome:
    ok: bool
    detail: str


def served_url(ctx: Context, wait_seconds: float = REGION_WAIT_SECONDS) -> Optional[str]:
    """The WebSocket URL of the deployed stage: API Gateway's on AWS; on an emulated region
    (``make cloud``), the local gateway's, which its ``/moto-api/localcloud/info`` names, once
    the region has read what is deployed now (its ``/health`` ``refreshed_at``); None on an
    emulator that serves no WebSocket API."""
    endpoint = ctx.websocket_endpoint()
    if not ctx.target.emulated:
        return endpoint["url"]
    asked_at = time.time()
    info = _get_json(f"{ctx.options.endpoint_url.rstrip('/')}/moto-api/localcloud/info")
    gateway = urlparse((info or {}).get("gateway", ""))
    if not gateway.netloc:
        return None
    deadline = time.monotonic() + wait_seconds
    while time.monotonic() < deadline:
        health = _get_json(f"http://{gateway.netloc}/health") or {}
        if health.get("refreshed_at", 0) >= asked_at and endpoint["api_id"] in health.get("websocket_apis", {}):
            break
        time.sleep(0.25)
    prefix = info.get("websocket_prefix", "/_api")
    return f"ws://{gateway.netloc}{prefix}/{endpoint['api_id']}/{endpoint['stage']}"


def _get_json(url: str) -> Optional[dict]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return json.loads(response.read())
    except (OSError, ValueError):
        return None


def smoke(url: str, timeout: float = SMOKE_TIMEOUT_SECONDS, give_up=lambda: False) -> SmokeOutcome:
    """Connect, ping (a pong), and one chat message answered end to end (ack ... response).

    While it waits for the answer it asks ``give_up()`` every GIVE_UP_SECONDS (the
    functions' logs already name a failure: no need to wait out the timeout)."""
    from websockets.exceptions import InvalidStatus
    from websockets.sync.client import connect

    started = time.monotonic()
    step = "connect"
    try:
        with connect(url, open_timeout=15, close_timeout=2) as websocket:
            step = "ping"
            websocket.send(json.dumps({"action": "ping"}))
            frame = json.loads(websocket.recv(timeout=15))
            if frame.get("type") != "pong":
                return SmokeOutcome(False, f"ping answered with {frame}")
            ping_ms = int((time.monotonic() - started) * 1000)
            step = "chat message"
            websocket.send(json.dumps({"action": "sendMessage", "message": SMOKE_MESSAGE}))
            message_id, seen = None, []
            deadline = time.monotonic() + timeout
            while True:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    got = ", ".join(seen) or "nothing"
                    return SmokeOutcome(False, f"chat message not answered within {timeout:.0f} s (got {got})")
                try:
                    frame = json.loads(websocket.recv(timeout=min(remaining, GIVE_UP_SECONDS)))
                except TimeoutError:
                    if give_up():
                        got = ", ".join(seen) or "nothing"
                        return SmokeOutcome(False, f"chat message not answered (got {got}), and a function failed")
                    continue
                seen.append(str(frame.get("type")))
                if frame.get("type") == "ack":
                    message_id = frame.get("message_id")
                elif (
                    frame.get("message_id") == message_id
                    and frame.get("type") in ("response", "error")
                    or frame.get("type") == "error"
                    and message_id is None
                ):
                    break
            if frame.get("type") != "response":
                return SmokeOutcome(False, f"chat message answered with an error frame: {frame}")
    except InvalidStatus as exc:
        said = (exc.response.body or b"").decode("utf-8", "replace").strip()[:300]
        answer = f"HTTP {exc.response.status_code}" + (f": {said}" if said else "")
        return SmokeOutcome(False, f"{step}: the handshake was refused with {answer}")
    except TimeoutError:
        return SmokeOutcome(False, f"{step}: no answer in time")
    except Exception as exc:  # any failure of the handshake or the exchange is the finding
        return SmokeOutcome(False, f"{step}: {type(exc).__name__}: {exc}")
    total_ms = int((time.monotonic() - started) * 1000)
    return SmokeOutcome(True, f"connect + ping -> pong in {ping_ms} ms, chat message answered in {total_ms} ms")


# The checks whose failure means a chat message cannot be answered: the smoke test is not run after them.
BLOCKS_SMOKE_TEST = ("functions", "sqs mapping", "queue")


def _function_findings(ctx: Context, function: str, config: dict) -> list:
    """(problem, fix) of one deployed function: its state, variables, Lambda's limits, the stage's own resources."""
    from chalicelib.config import REQUIRED_IN_LAMBDA

    name, where = ctx.stage.function_name(function), str(ctx.stage.config_path)
    found = []
    if config.get("State", "Active") != "Active" or config.get("LastUpdateStatus") == "Failed":
        found.append((f"{name} is {config.get('State')}/{config.get('LastUpdateStatus')}", _rerun(ctx)))
    variables = config.get("Environment", {}).get("Variables", {})
    absent = [key for key in REQUIRED_IN_LAMBDA if not variables.get(key)]
    if absent:
        found.append((f"{name} lacks {', '.join(absent)}", _rerun(ctx)))
    found += limits.handler_rule(
        function, config.get("Handler", ""), limits.app_handlers(ctx.stage.project_dir), _rerun(ctx)
    )
    found += limits.function_limits(function, config.get("Timeout", 3), config.get("MemorySize", 128), where)
    found += limits.own_resources(function, variables, ctx.settings, where)
    return found


def _rerun(ctx: Context) -> str:
    return f"rerun scripts/deploy.py --stage {ctx.stage.stage}"


def _where(ctx: Context, since_ms: int) -> Where:
    names = {getattr(ctx.settings, attribute) for attribute in limits.RESOURCE_KEYS.values()}
    names.add(bootstrap.dlq_name(ctx.settings.queue_name))
    return Where(
        stage=ctx.stage.stage,
        resource_names=frozenset(names),
        endpoint_url=ctx.options.endpoint_url,
        region=ctx.target.region,
        since_ms=since_ms,
    )


def _diagnose(ctx: Context, since_ms: int):
    functions = [ctx.stage.function_name(function) for function in FUNCTIONS]
    return diagnose(ctx.client("logs"), functions, _where(ctx, since_ms))


def _queue_arn(ctx: Context) -> str:
    if ctx.resources is not None:
        return ctx.resources.queue_arn
    sqs = ctx.client("sqs")
    url = sqs.get_queue_url(QueueName=ctx.settings.queue_name)["QueueUrl"]
    return sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
