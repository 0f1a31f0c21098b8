"""The deployed mode end to end: ``make cloud``, the real deploy into it, and the seed's checklist offline.

One emulated region (``scripts/local.py --cloud``) for the module; the tests run in
file order on it: deploy and validate (smoke test: connect, ping, one chat message), the
checklist's ``aws`` commands and ``test_websocket_full.py``, a redeploy picked up without
a restart, IAM enforced on @connections and on DynamoDB, and the configuration failure (production
failure 2: ``WEBSOCKET_DOMAIN`` of another API) named by ``--validate-only``.
"""

import asyncio
import json
import shutil
import signal
import subprocess
import time

import boto3
import pytest
import websockets

from tests.deploy.cloud_region import deploy_into
from tests.deploy.conftest import REGION, run_phase_3, tool_env

PROCESSOR = "shopping-assistant-api-chalice-test-chat_processor"
QUEUE = "shopping-assistant-chalice-test-chat.fifo"
AWS_CLI = shutil.which("aws")


@pytest.fixture(scope="module")
def deployed(region, project):
    done = deploy_into(region, project)
    assert done.returncode == 0, done.stdout + done.stderr + region.output()
    return done


def client(region, service):
    return boto3.client(
        service,
        region_name=REGION,
        endpoint_url=region.endpoint,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def aws(region, *args):
    """The AWS CLI against the region (JSON output), as the checklist runs it."""
    done = subprocess.run(
        [AWS_CLI, "--endpoint-url", region.endpoint, "--output", "json", *args],
        env=tool_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout or "{}")


def websocket_url(done) -> str:
    line = next(line for line in done.stdout.splitlines() if line.startswith("WebSocket URL: "))
    return line.removeprefix("WebSocket URL: ")


def test_make_cloud_prints_the_aws_endpoint(region):
    assert f"AWS endpoint: {region.endpoint}" in region.output()


def test_deploy_into_the_region_passes_a_real_smoke_test(deployed, region):
    assert websocket_url(deployed).startswith(f"ws://127.0.0.1:{region.gateway_port}/")
    smoke = next(line for line in deployed.stdout.splitlines() if "smoke test:" in line)
    assert smoke.split()[0] == "ok", deployed.stdout
    assert "ping -> pong" in smoke and "chat message answered" in smoke
    assert "skip" not in smoke


@pytest.mark.skipif(AWS_CLI is None, reason="the AWS CLI is not installed")
def test_the_seed_checklist_runs_offline(deployed, region):
    mappings = aws(region, "lambda", "list-event-source-mappings", "--function-name", PROCESSOR)["EventSourceMappings"]
    assert len(mappings) == 1 and mappings[0]["State"] == "Enabled"
    assert mappings[0]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    url = aws(region, "sqs", "get-queue-url", "--queue-name", QUEUE)["QueueUrl"]
    attributes = aws(
        region, "sqs", "get-queue-attributes", "--queue-url", url,
        "--attribute-names", "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible",
    )["Attributes"]  # fmt: skip
    assert attributes == {"ApproximateNumberOfMessages": "0", "ApproximateNumberOfMessagesNotVisible": "0"}
    run_phase_3(websocket_url(deployed))


def test_a_redeploy_is_served_without_a_restart(deployed, region, project):
    handler = project / "chalicelib" / "protocol.py"
    handler.write_text(handler.read_text() + "\n# redeployed\n")
    before = sum(f"{PROCESSOR}: version" in line for line in region.lines)
    done = deploy_into(region, project)
    assert done.returncode == 0, done.stdout
    assert sum(f"{PROCESSOR}: version" in line for line in region.lines) == before + 1
    assert "chat message answered" in done.stdout


def test_managing_connections_needs_the_permission_on_the_role(deployed, region, project):
    iam = client(region, "iam")
    role = client(region, "lambda").get_function_configuration(FunctionName=PROCESSOR)["Role"].split("/")[-1]
    (name,) = iam.list_role_policies(RoleName=role)["PolicyNames"]
    document = json.loads(json.dumps(iam.get_role_policy(RoleName=role, PolicyName=name)["PolicyDocument"]))
    document["Statement"] = [
        statement
        for statement in document["Statement"]
        if "execute-api:ManageConnections" not in json.dumps(statement.get("Action"))
    ]
    iam.put_role_policy(RoleName=role, PolicyName=name, PolicyDocument=json.dumps(document))

    done = deploy_into(region, project, "--validate-only")
    assert done.returncode == 1
    smoke = done.stdout[done.stdout.index("smoke test:") :]
    assert "ForbiddenException" in smoke and "execute-api:ManageConnections" in smoke, done.stdout
    assert PROCESSOR in smoke

    done = deploy_into(region, project)  # rerun-safe: the deploy puts the policy back
    assert done.returncode == 0, done.stdout


def test_a_role_without_its_table_permission_gets_access_denied(deployed, region, project):
    """IAM enforced on DynamoDB: websocket_connect's role without PutItem on the connections table."""
    connect = "shopping-assistant-api-chalice-test-websocket_connect"
    iam = client(region, "iam")
    role = client(region, "lambda").get_function_configuration(FunctionName=connect)["Role"].split("/")[-1]
    (name,) = iam.list_role_policies(RoleName=role)["PolicyNames"]
    document = json.loads(json.dumps(iam.get_role_policy(RoleName=role, PolicyName=name)["PolicyDocument"]))
    for statement in document["Statement"]:
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        statement["Action"] = [action for action in actions if action != "dynamodb:PutItem"] or ["dynamodb:GetItem"]
    iam.put_role_policy(RoleName=role, PolicyName=name, PolicyDocument=json.dumps(document))

    done = deploy_into(region, project, "--validate-only")
    assert done.returncode == 1
    smoke = done.stdout[done.stdout.index("smoke test:") :]
    assert "handshake was refused" in smoke and connect in smoke, done.stdout
    assert "AccessDeniedException" in smoke and "dynamodb:PutItem" in smoke

    done = deploy_into(region, project)
    assert done.returncode == 0, done.stdout


def test_a_processor_role_missing_a_table_is_told_within_30_s_and_ended_within_3_min(deployed, region, project):
    """Item "told within seconds" on the deployed mode: IAM enforced, the queue's visibility timeout
    as deployed (6 x 120 s), the record's visibility changed by the function's own role. The retry
    backoffs are shortened through the function's configuration so the test takes seconds."""
    lam = client(region, "lambda")
    variables = lam.get_function_configuration(FunctionName=PROCESSOR)["Environment"]["Variables"]
    lam.update_function_configuration(
        FunctionName=PROCESSOR, Environment={"Variables": {**variables, "RETRY_BACKOFF_SECONDS": "1,2,3"}}
    )
    iam = client(region, "iam")
    role = lam.get_function_configuration(FunctionName=PROCESSOR)["Role"].split("/")[-1]
    (name,) = iam.list_role_policies(RoleName=role)["PolicyNames"]
    document = json.loads(json.dumps(iam.get_role_policy(RoleName=role, PolicyName=name)["PolicyDocument"]))
    for statement in document["Statement"]:
        if "idempotency" in json.dumps(statement.get("Resource")):
            statement["Action"] = [action for action in statement["Action"] if action != "dynamodb:PutItem"]
    iam.put_role_policy(RoleName=role, PolicyName=name, PolicyDocument=json.dumps(document))

    async def chat():
        async with websockets.connect(websocket_url(deployed)) as ws:
            await ws.send(json.dumps({"action": "sendMessage", "message": "any hiking boots?"}))
            frames, acked, told = [], None, None
            async with asyncio.timeout(200):
                while True:
                    frame = json.loads(await ws.recv())
                    frames.append(frame)
                    if frame["type"] == "ack":
                        acked = time.monotonic()
                    if told is None and (frame.get("status") == "retrying" or frame["type"] == "error"):
                        told = time.monotonic() - acked
                    if frame["type"] in ("response", "error"):
                        return frames, told, time.monotonic() - acked

    try:
        frames, told, settled = asyncio.run(chat())
    finally:
        done = deploy_into(region, project)  # puts the policy and the configuration back
    print(f"deployed mode, role missing a table: told {told:.1f} s, settled {settled:.1f} s")
    assert done.returncode == 0, done.stdout
    first = next(frame for frame in frames if frame.get("status") == "retrying")
    assert first["attempt"] == 1 and first["reason"] == "the service could not reach its storage"
    assert told < 30 and settled < 180
    assert (frames[-1]["type"], frames[-1]["code"]) == ("error", "processing_failed")
    assert sum(frame.get("status") == "retrying" for frame in frames) == 4  # attempts 1-4; the 5th is the last


def test_a_websocket_domain_of_another_api_is_named(deployed, region, project):
    """Production failure 2: the processor's WEBSOCKET_DOMAIN names another API."""
    other = client(region, "apigatewayv2").create_api(
        Name="another-api", ProtocolType="WEBSOCKET", RouteSelectionExpression="$request.body.action"
    )["ApiId"]
    domain = f"{other}.execute-api.{REGION}.amazonaws.com"
    lam = client(region, "lambda")
    variables = lam.get_function_configuration(FunctionName=PROCESSOR)["Environment"]["Variables"]
    variables["WEBSOCKET_DOMAIN"] = domain
    if AWS_CLI:
        aws(
            region, "lambda", "update-function-configuration", "--function-name", PROCESSOR,
            "--environment", json.dumps({"Variables": variables}),
        )  # fmt: skip
    else:
        lam.update_function_configuration(FunctionName=PROCESSOR, Environment={"Variables": variables})

    done = deploy_into(region, project, "--validate-only")
    assert done.returncode == 1
    failed = [line for line in done.stdout.splitlines() if line.strip().startswith("FAIL")]
    assert any("WEBSOCKET_DOMAIN" in line and domain in line for line in failed), done.stdout
    assert "rerun scripts/deploy.py --stage chalice-test" in done.stdout

    done = deploy_into(region, project)
    assert done.returncode == 0, done.stdout


def test_ctrl_c_of_make_cloud_tells_every_acked_message(deployed, region):
    """Last in the module: it stops the region. Replies slowed to 60 s are in flight at SIGINT:
    new connections are refused, each acked message is told service_unavailable, none lost."""
    lam = client(region, "lambda")
    variables = lam.get_function_configuration(FunctionName=PROCESSOR)["Environment"]["Variables"]
    lam.update_function_configuration(
        FunctionName=PROCESSOR, Environment={"Variables": {**variables, "ASSISTANT_DELAY_SECONDS": "60"}}
    )
    url = websocket_url(deployed)
    time.sleep(2)  # the region reads the new configuration within its poll (1 s)

    async def scenario():
        sockets = [await websockets.connect(url) for _ in range(5)]
        for index, ws in enumerate(sockets):
            await ws.send(json.dumps({"action": "sendMessage", "message": f"in flight {index}"}))
        ends = []
        for ws in sockets:  # each one's ack first
            while json.loads(await asyncio.wait_for(ws.recv(), 30))["type"] != "ack":
                pass
        region.process.send_signal(signal.SIGINT)
        await asyncio.sleep(0.5)
        try:
            async with websockets.connect(url):
                refused = False
        except (websockets.InvalidStatus, OSError):
            refused = True
        for ws in sockets:
            async with asyncio.timeout(60):
                while True:
                    frame = json.loads(await ws.recv())
                    if frame["type"] in ("response", "error"):
                        ends.append(frame)
                        break
        return ends, refused

    ends, refused = asyncio.run(scenario())
    region.process.wait(60)
    output = region.output()
    assert refused
    assert [(frame["type"], frame.get("code")) for frame in ends] == [("error", "service_unavailable")] * 5, ends
    assert all("cursor" in frame for frame in ends)  # through the frame log: a resume replays them
    assert "Stopped: 5 acked message(s) unfinished at the stop: 0 answered in the grace, 5 told" in output, output
    assert "0 lost." in output
