"""Validate: read-only checks of a deployed stage, ending with a WebSocket smoke test."""

import json
import socket
import time
from urllib.parse import urlparse

from botocore.exceptions import BotoCoreError, ClientError

from infra import bootstrap, policy, queues
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
from infra.stage import FUNCTIONS, PROCESSOR


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
            except DeployStoppedError:
                failed = True
                continue
            except (ClientError, BotoCoreError) as exc:
                status, detail, fix = FAIL, error(exc), self._redeploy(ctx)
            ctx.check(name, status, detail, fix)
            failed = failed or status == FAIL
        if failed:
            raise DeployStoppedError("validation failed")

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
                problems.append(f"{name}: {error(exc)}")
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
        elif str(redrive.get("maxReceiveCount")) != str(ctx.settings.max_receive_count):
            # processor.py posts processing_failed on attempt MAX_RECEIVE_COUNT: it must be the DLQ's count.
            problems.append(
                f"redrive after {redrive.get('maxReceiveCount')} receives, MAX_RECEIVE_COUNT is "
                f"{ctx.settings.max_receive_count}"
            )
        if problems:
            return FAIL, "; ".join(problems), self._redeploy(ctx) + " (step 2 sets the queue attributes)"
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
        problems, names = [], []
        for spec in bootstrap.table_specs(ctx.settings):
            names.append(spec["name"])
            try:
                status = dynamodb.describe_table(TableName=spec["name"])["Table"]["TableStatus"]
            except ClientError as exc:
                problems.append(f"{spec['name']}: {error(exc)}")
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
