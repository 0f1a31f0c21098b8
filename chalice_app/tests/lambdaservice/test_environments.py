"""The Lambda service's execution environments, with real processes and a tiny function package:
isolation, the reserved variables, warm reuse, the concurrency cap, cold starts, the timeout,
import errors, endpoint rewriting and idle reaping."""

import json
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from localcloud.lambdaservice import (
    API_ID_HEADER,
    REGION_HEADER,
    EndpointRoutes,
    FunctionConfig,
    FunctionTimeoutError,
    InitError,
    InvocationError,
    LambdaService,
)
from localcloud.lambdaservice.routing import rewrite
from localcloud.logfiles import FunctionLogs

pytestmark = pytest.mark.timeout(120)

FUNCTION_CODE = """
import os, sys, time

def info(event, context):
    return {"pid": os.getpid(), "isolated": sys.flags.isolated, "path": sys.path, "env": dict(os.environ),
            "remaining_ms": context.get_remaining_time_in_millis(), "request_id": context.aws_request_id}

def can_import(event, context):
    try:
        __import__(event["module"])
        return True
    except ImportError:
        return False

def sleep(event, context):
    time.sleep(event["seconds"])
    return os.getpid()

def boom(event, context):
    raise RuntimeError("boom")

def call_aws(event, context):
    import boto3
    from botocore.config import Config
    config = Config(retries={"max_attempts": 1}, read_timeout=5, connect_timeout=2)
    if event["service"] == "apigatewaymanagementapi":
        client = boto3.client("apigatewaymanagementapi", endpoint_url=event["endpoint"], config=config)
        client.post_to_connection(ConnectionId="x", Data=b"hi")
    else:
        boto3.client("sqs", config=config).list_queues()
    return True
"""


@pytest.fixture
def code_dir(tmp_path):
    package = tmp_path / "package"
    package.mkdir()
    (package / "app.py").write_text(FUNCTION_CODE)
    (package / "broken.py").write_text("import not_installed_anywhere\n")
    return str(package)


@pytest.fixture
def logs(tmp_path):
    logs = FunctionLogs(str(tmp_path / "logs"), verbose=False)
    yield logs
    logs.close()


def make_service(logs, routes=None, **options):
    routes = routes or EndpointRoutes(aws_endpoint="http://127.0.0.1:9", execute_api="http://127.0.0.1:9")
    return LambdaService(logs, routes, lambda config: {"AWS_ACCESS_KEY_ID": "AKIDLOCAL", "AWS_SECRET_ACCESS_KEY": "s"},
                         **options)  # fmt: skip


@pytest.fixture
def service(logs):
    service = make_service(logs)
    yield service
    service.close()


def config_for(code_dir, handler, name="fn", timeout=30.0, version="1", **environment):
    return FunctionConfig(
        name=f"shopping-assistant-api-test-{name}", handler=f"app.{handler}" if "." not in handler else handler,
        code_dir=code_dir, environment=environment, timeout_seconds=timeout, memory_mb=256, role_arn=None,
        version=version,
    )  # fmt: skip


def wait_until(predicate, what, timeout=20.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def log_lines(logs, config):
    with open(logs.for_function(config.name).path) as handle:
        return [json.loads(line) for line in handle if line.strip()]


def test_the_environment_is_isolated_to_the_package_and_the_runtime(service, code_dir):
    answer = service.invoke(config_for(code_dir, "info"), {})
    assert answer["isolated"] == 1
    assert answer["path"][0] == code_dir
    assert not any("site-packages" in entry for entry in answer["path"])
    config = config_for(code_dir, "can_import")
    for module in ("moto", "pytest", "aiohttp", "chalicelib", "localcloud", "_localcloud_routing"):
        assert service.invoke(config, {"module": module}) is False, module
    for module in ("boto3", "botocore", "json"):
        assert service.invoke(config, {"module": module}) is True, module


def test_the_environment_has_the_functions_variables_and_lambdas_reserved_ones(service, code_dir, monkeypatch):
    monkeypatch.setenv("DEV_ONLY_VARIABLE", "leak")
    config = config_for(code_dir, "info", timeout=30.0, TABLE="t1")
    answer = service.invoke(config, {})
    env = answer["env"]
    assert env["TABLE"] == "t1" and "DEV_ONLY_VARIABLE" not in env
    assert env["AWS_LAMBDA_FUNCTION_NAME"] == config.name
    assert env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "256" and env["AWS_LAMBDA_FUNCTION_TIMEOUT"] == "30"
    assert env["AWS_LAMBDA_LOG_GROUP_NAME"] == f"/aws/lambda/{config.name}"
    assert env["AWS_LAMBDA_LOG_STREAM_NAME"] and env["AWS_LAMBDA_FUNCTION_VERSION"] == "$LATEST"
    assert env["AWS_REGION"] == env["AWS_DEFAULT_REGION"] == "us-east-1"
    assert env["AWS_EXECUTION_ENV"].startswith("AWS_Lambda_python") and env["LAMBDA_TASK_ROOT"] == code_dir
    assert env["AWS_ACCESS_KEY_ID"] == "AKIDLOCAL" and env["_HANDLER"] == "app.info"
    assert 0 < answer["remaining_ms"] <= 30_000


def test_a_warm_environment_is_reused_and_a_new_version_gets_a_fresh_one(service, code_dir):
    config = config_for(code_dir, "info")
    first, second = service.invoke(config, {}), service.invoke(config, {})
    assert first["pid"] == second["pid"] and first["request_id"] != second["request_id"]
    changed = config_for(code_dir, "info", version="2")
    assert service.invoke(changed, {})["pid"] != first["pid"]
    service.retire()
    assert service.invoke(changed, {})["pid"] not in (first["pid"],)
    assert len(service.environments()[config.name]["idle"]) == 1  # the old ones were stopped


def test_a_handler_error_is_an_error_result_and_the_environment_stays_warm(service, code_dir):
    config = config_for(code_dir, "boom")
    for _ in range(2):
        with pytest.raises(InvocationError) as failed:
            service.invoke(config, {})
        assert failed.value.error_type == "RuntimeError" and "boom" in str(failed.value)
        assert not isinstance(failed.value, (FunctionTimeoutError, InitError))
    assert service.cold_starts == 1 and len(service.environments()[config.name]["idle"]) == 1
    # The traceback comes on the environment's output, read by its own thread: allow it a moment.
    wait_until(lambda: any(line["type"] == "LOG" and line["message"].startswith("[ERROR] RuntimeError: boom")
                           for line in log_lines(service.logs, config)), "the logged error")  # fmt: skip


def test_at_most_concurrency_environments_per_function(logs, code_dir):
    service = make_service(logs, concurrency=2)
    try:
        config = config_for(code_dir, "sleep")
        peak = []

        def watch(stop):
            while not stop.is_set():
                state = service.environments().get(config.name, {"idle": [], "busy": []})
                peak.append(len(state["busy"]) + len(state["idle"]))
                time.sleep(0.01)

        stop = threading.Event()
        watcher = threading.Thread(target=watch, args=(stop,))
        watcher.start()
        with ThreadPoolExecutor(6) as pool:
            pids = list(pool.map(lambda _: service.invoke(config, {"seconds": 0.4}), range(6)))
        stop.set()
        watcher.join()
        assert len(set(pids)) == 2
        assert max(peak) <= 2
    finally:
        service.close()


def test_a_cold_start_reports_its_init_duration_once(service, code_dir):
    config = config_for(code_dir, "info")
    service.invoke(config, {})
    service.invoke(config, {})
    reports = [line for line in log_lines(service.logs, config) if line["type"] == "REPORT"]
    assert len(reports) == 2
    assert "Init Duration: " in reports[0]["message"] and reports[0]["init_duration_ms"] > 0
    assert "Init Duration" not in reports[1]["message"]
    starts = [line for line in log_lines(service.logs, config) if line["type"] == "START"]
    assert all(line["message"].startswith("RequestId: ") for line in starts)


def test_the_timeout_kills_the_environment_and_fails_the_invocation(service, code_dir):
    config = config_for(code_dir, "sleep", timeout=1.0)
    warm = service.invoke(config, {"seconds": 0})
    started = time.monotonic()
    with pytest.raises(FunctionTimeoutError):
        service.invoke(config, {"seconds": 30})
    assert time.monotonic() - started < 15
    errors = [line["message"] for line in log_lines(service.logs, config) if line["type"] == "ERROR"]
    assert any(message.endswith("Task timed out after 1.00 seconds") for message in errors), errors
    assert not os.path.exists(f"/proc/{warm}") or _is_zombie_or_gone(warm)
    assert service.invoke(config, {"seconds": 0}) != warm  # a fresh environment


def _is_zombie_or_gone(pid):
    try:
        with open(f"/proc/{pid}/status") as handle:
            return any(line.startswith("State:") and "Z" in line for line in handle)
    except OSError:
        return True


def test_an_import_error_is_logged_as_lambda_logs_it(service, code_dir):
    config = config_for(code_dir, "broken.handler")
    with pytest.raises(InitError) as failed:
        service.invoke(config, {})
    assert failed.value.error_type == "Runtime.ImportModuleError"
    expected = "Runtime.ImportModuleError: Unable to import module 'broken': No module named 'not_installed_anywhere'"
    assert any(expected in line["message"] for line in log_lines(service.logs, config))
    report = [line for line in log_lines(service.logs, config) if line["type"] == "REPORT"][-1]
    assert report["error"] is True


class Recorder(BaseHTTPRequestHandler):
    def do_POST(self):  # noqa: N802 (http.server's name)
        self.server.seen.append((self.command, self.path, dict(self.headers)))
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def recorder():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    server.seen = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def test_calls_to_aws_and_to_execute_api_reach_the_emulated_region_and_the_local_gateway(logs, code_dir, recorder):
    base = f"http://127.0.0.1:{recorder.server_address[1]}"
    service = make_service(logs, EndpointRoutes(aws_endpoint=base + "/aws", execute_api=base + "/gateway"))
    try:
        config = config_for(code_dir, "call_aws")
        endpoint = "https://abc123.execute-api.us-east-1.amazonaws.com/api"
        assert service.invoke(config, {"service": "apigatewaymanagementapi", "endpoint": endpoint}) is True
        method, path, headers = recorder.seen[-1]
        assert (method, path) == ("POST", "/gateway/api/@connections/x")
        assert {key.lower(): value for key, value in headers.items()}[API_ID_HEADER] == "abc123"
        assert "Credential=AKIDLOCAL/" in headers["Authorization"] and "execute-api" in headers["Authorization"]
        service.invoke(config, {"service": "sqs"})
        assert recorder.seen[-1][1].startswith("/aws")
    finally:
        service.close()


@pytest.mark.parametrize(
    "url, expected, headers",
    [
        ("https://abc123.execute-api.us-east-1.amazonaws.com/api/@connections/x%3D", "http://gw/api/@connections/x%3D",
         {API_ID_HEADER: "abc123", REGION_HEADER: "us-east-1"}),
        ("https://k9z.execute-api.ap-southeast-1.amazonaws.com/api/@connections/c", "http://gw/api/@connections/c",
         {API_ID_HEADER: "k9z", REGION_HEADER: "ap-southeast-1"}),
        ("https://sqs.us-east-1.amazonaws.com/123456789012/q?Action=x", "http://aws/123456789012/q?Action=x", {}),
        ("https://dynamodb.eu-west-1.amazonaws.com/", "http://aws/", {}),
        ("http://127.0.0.1:8000/api/@connections/x", "http://127.0.0.1:8000/api/@connections/x", {}),
        ("https://example.com/amazonaws.com", "https://example.com/amazonaws.com", {}),
    ],
)  # fmt: skip
def test_rewrite_rule(url, expected, headers):
    assert rewrite(url, "http://aws", "http://gw") == (expected, headers)


def test_idle_environments_are_reaped(logs, code_dir):
    service = make_service(logs, idle_seconds=0.3)
    try:
        config = config_for(code_dir, "info")
        pid = service.invoke(config, {})["pid"]
        wait_until(lambda: not service.environments()[config.name]["idle"] and _is_zombie_or_gone(pid), "the reaping")
    finally:
        service.close()


def test_max_environments_caps_all_functions_together_stopping_the_least_recently_used(logs, code_dir):
    service = make_service(logs, max_environments=2)
    try:
        first, second, third = (config_for(code_dir, "info", name=name) for name in ("a", "b", "c"))
        pid_a = service.invoke(first, {})["pid"]
        service.invoke(second, {})
        service.invoke(third, {})  # a cold start beyond the cap: "a", the least recently used, is stopped
        state = service.environments()
        assert sum(len(pools["idle"]) + len(pools["busy"]) for pools in state.values()) == 2
        assert state[first.name]["idle"] == [] and _is_zombie_or_gone(pid_a)
        with ThreadPoolExecutor(3) as pool:  # three at once with room for two: one waits, none fails
            pids = list(pool.map(lambda config: service.invoke(config, {"seconds": 0.3}),
                                 [config_for(code_dir, "sleep", name=name) for name in ("a", "b", "c")]))  # fmt: skip
        assert len(pids) == 3
    finally:
        service.close()


POST_CODE = """
import boto3

def post(event, context):
    client = boto3.client("apigatewaymanagementapi", endpoint_url=event["endpoint"])
    client.post_to_connection(ConnectionId=event["connection_id"], Data=event["text"].encode())
    return True
"""


class ConnectOnly:
    """The gateway's functions: every route succeeds; the connection ids are recorded."""

    def __init__(self):
        self.connection_ids = []

    def invoke(self, name, event):
        if name == "websocket_connect":
            self.connection_ids.append(event["requestContext"]["connectionId"])
        return {"statusCode": 200}


def test_a_post_to_the_execute_api_url_reaches_a_client_of_the_local_gateway(logs, tmp_path):
    import asyncio

    import websockets
    from aiohttp import web

    from localcloud.gateway import Gateway
    from localcloud.motoserver import free_port

    package = tmp_path / "poster"
    package.mkdir()
    (package / "app.py").write_text(POST_CODE)
    port = free_port()
    functions = ConnectOnly()
    routes = EndpointRoutes(aws_endpoint="http://127.0.0.1:9", execute_api=f"http://127.0.0.1:{port}")
    service = make_service(logs, routes)

    async def scenario():
        gateway = Gateway(functions, ThreadPoolExecutor(2), stage="api", api_id="abc123", domain=f"127.0.0.1:{port}")
        runner = web.AppRunner(gateway.make_app())
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        try:
            async with websockets.connect(f"ws://127.0.0.1:{port}/api") as ws:
                event = {
                    "endpoint": "https://abc123.execute-api.us-east-1.amazonaws.com/api",
                    "connection_id": functions.connection_ids[0],
                    "text": "through the emulated region",
                }
                config = FunctionConfig("poster", "app.post", str(package), {}, 30.0, 128, None, "1")
                assert await asyncio.to_thread(service.invoke, config, event) is True
                assert await asyncio.wait_for(ws.recv(), 10) == "through the emulated region"
        finally:
            await runner.cleanup()

    try:
        asyncio.run(scenario())
    finally:
        service.close()
