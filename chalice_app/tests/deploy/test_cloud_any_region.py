"""The deployed mode in the seed's region: ``make cloud`` serves ap-southeast-1 as it serves us-east-1.

One emulated region process and one deploy, as the seed's checklist does it
(``AWS_DEFAULT_REGION=ap-southeast-1 deploy.py --stage chalice-test --endpoint-url ...``, changing
only ``--endpoint-url``); then the checklist there: the smoke test, the URL ``make cloud``
prints with its region, the ``aws`` commands with ``--region ap-southeast-1``, the function
logs in that region's CloudWatch Logs, phase 3 (``test_websocket_full.py``) against the
printed URL, ``--validate-only --region ap-southeast-1``, and an API the endpoint does not
serve refused in words.
"""

import asyncio
import json
import shutil
import subprocess

import pytest
import websockets
from websockets.exceptions import InvalidStatus

from tests.deploy.conftest import TEST_STAGE, run_phase_3, run_script, tool_env

SEED_REGION = "ap-southeast-1"
PROCESSOR = "shopping-assistant-api-chalice-test-chat_processor"
QUEUE = "shopping-assistant-chalice-test-chat.fifo"
AWS_CLI = shutil.which("aws")


def seed_env() -> dict:
    env = tool_env()
    env["AWS_DEFAULT_REGION"] = SEED_REGION
    return env


@pytest.fixture(scope="module")
def deployed(region, project):
    done = run_script(
        "deploy.py", "--stage", TEST_STAGE, "--endpoint-url", region.endpoint, "--project-dir", str(project),
        env=seed_env(), timeout=400,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr + region.output()
    return done


def printed_url(region) -> str:
    """The URL ``make cloud`` printed for the stage's API, from its line naming the region."""
    marker = f"-websocket-api in {SEED_REGION}: "
    line = next(line for line in region.lines if marker in line)
    return line.split(marker, 1)[1]


def aws(region, *args):
    done = subprocess.run(
        [AWS_CLI, "--endpoint-url", region.endpoint, "--region", SEED_REGION, "--output", "json", *args],
        env=tool_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout or "{}")


def test_the_deploy_into_the_seed_region_passes_its_smoke_test(deployed, region):
    smoke = next(line for line in deployed.stdout.splitlines() if "smoke test:" in line)
    assert smoke.split()[0] == "ok" and "chat message answered" in smoke, deployed.stdout
    assert f"stage chalice-test (deploy) in {SEED_REGION} on {region.endpoint}: all checks hold" in deployed.stdout
    deploy_url = next(line for line in deployed.stdout.splitlines() if line.startswith("WebSocket URL: "))
    assert deploy_url.removeprefix("WebSocket URL: ") == printed_url(region)
    assert f"{PROCESSOR}: version" in region.output() and f"deployed in {SEED_REGION}" in region.output()


@pytest.mark.skipif(AWS_CLI is None, reason="the AWS CLI is not installed")
def test_the_seed_checklist_runs_in_the_seed_region(deployed, region):
    (mapping,) = aws(region, "lambda", "list-event-source-mappings", "--function-name", PROCESSOR)[
        "EventSourceMappings"
    ]
    assert mapping["State"] == "Enabled" and mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert mapping["EventSourceArn"].startswith(f"arn:aws:sqs:{SEED_REGION}:")
    url = aws(region, "sqs", "get-queue-url", "--queue-name", QUEUE)["QueueUrl"]
    attributes = aws(region, "sqs", "get-queue-attributes", "--queue-url", url, "--attribute-names", "All")
    assert attributes["Attributes"]["ApproximateNumberOfMessages"] == "0"
    # The smoke test's invocations logged in the region's own CloudWatch Logs.
    events = aws(region, "logs", "filter-log-events", "--log-group-name", f"/aws/lambda/{PROCESSOR}")["events"]
    assert any(event["message"].startswith("START RequestId") for event in events)

    run_phase_3(printed_url(region))


def test_validate_only_with_the_region_flag_holds(deployed, region, project):
    done = run_script(
        "deploy.py", "--stage", TEST_STAGE, "--region", SEED_REGION, "--endpoint-url", region.endpoint,
        "--project-dir", str(project), "--validate-only",
    )  # fmt: skip
    assert done.returncode == 0, done.stdout
    assert "smoke test: ws://" in done.stdout and f"in {SEED_REGION} on" in done.stdout


def test_an_api_the_endpoint_does_not_serve_is_refused_in_words(deployed, region):
    served = printed_url(region)
    unknown = served.replace("/_api/", "/_api/zz9nope")
    wrong_stage = served.rsplit("/", 1)[0] + "/dev"

    async def refusal(url):
        with pytest.raises(InvalidStatus) as refused:
            async with websockets.connect(url, open_timeout=30):
                pass
        return refused.value.response.status_code, json.loads(refused.value.response.body)["message"]

    status, message = asyncio.run(refusal(unknown))
    assert status == 404 and "zz9nope" in message and f"any region of {region.endpoint}" in message
    assert f"{served} ({SEED_REGION})" in message  # what it does serve, with the region
    status, message = asyncio.run(refusal(wrong_stage))
    assert status == 404 and f"({SEED_REGION}) has stage 'api', not 'dev'" in message
