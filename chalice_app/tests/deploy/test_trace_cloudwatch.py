"""scripts/trace.py --stage: FilterLogEvents on the stage's four log groups (a moto server), every page."""

import json
import time

import boto3
import pytest

from infra.logsource import cloudwatch_entries, term_pattern
from infra.stage import FUNCTIONS
from infra.timeline import build
from tests.deploy.conftest import REGION, run_script, tool_env

APP = "shopping-assistant-api"
MID = "5b0c1d2e-3f40-4a5b-8c6d-7e8f90a1b2c3"
OTHER = "0f0e0d0c-0b0a-4909-8807-060504030201"


def group(function, stage="dev"):
    return f"/aws/lambda/{APP}-{stage}-{function}"


def powertools(ts_ms, **keys):
    """A Powertools Logger line, as the Lambda function prints it."""
    stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(ts_ms / 1000)) + f",{ts_ms % 1000:03d}+0000"
    return json.dumps({"level": "INFO", "location": "emit:30", "message": keys["event"], "timestamp": stamp,
                       "service": APP, "function_request_id": "f00d", **keys})  # fmt: skip


@pytest.fixture(scope="module")
def logs(moto_endpoint):
    client = boto3.client(
        "logs", endpoint_url=moto_endpoint, region_name=REGION, aws_access_key_id="testing", aws_secret_access_key="t"
    )
    now = int(time.time() * 1000) - 60_000
    lines = {
        "websocket_message": [
            (now, powertools(now, event="queued", message_id=MID, connection_id="c1=", session_id="s1")),
            (now + 5, powertools(now + 5, event="queued", message_id=OTHER, connection_id="c2=")),
        ],
        "chat_processor": [
            (now + 400, "START RequestId: 1a2b-0 Version: $LATEST"),
            (now + 412, powertools(now + 412, event="picked_up", message_id=MID, queue_wait_ms=415, attempt=1)),
            (now + 1900, powertools(now + 1900, event="first_chunk", message_id=MID)),
            (now + 37200, powertools(now + 37200, event="answered", message_id=MID, elapsed_ms=36788)),
            (now + 37210, "REPORT RequestId: 1a2b-0\tDuration: 36810.00 ms\tBilled Duration: 36811 ms"),
        ],
    }  # fmt: skip
    stream = "2026/12/01/[$LATEST]abc"
    for function in FUNCTIONS:
        client.create_log_group(logGroupName=group(function))
        client.create_log_stream(logGroupName=group(function), logStreamName=stream)
        events = [{"timestamp": ts, "message": text} for ts, text in lines.get(function, [])]
        if events:
            client.put_log_events(logGroupName=group(function), logStreamName=stream, logEvents=events)
    return client, now


def test_every_page_of_every_group_is_read(logs):
    client, now = logs
    groups = {function: group(function) for function in FUNCTIONS}
    entries = cloudwatch_entries(client, groups, now - 1000, page_size=1)
    assert len(entries) == 7
    assert {entry.function for entry in entries} == {"websocket_message", "chat_processor"}
    narrowed = cloudwatch_entries(client, groups, now - 1000, filter_pattern=term_pattern(MID), page_size=1)
    assert {entry.message_id for entry in narrowed} == {MID}
    timeline = build(narrowed)[MID]
    assert timeline.phases() == {"queue_wait": 415, "processing": 1488, "delivery": 35300, "total": 37203}


def test_a_missing_log_group_has_no_lines(logs):
    client, now = logs
    assert cloudwatch_entries(client, {"chat_processor": group("chat_processor", "nope")}, now - 1000) == []


def test_trace_script_against_the_stage(logs, moto_endpoint):
    done = run_script("trace.py", MID, "--stage", "dev", "--endpoint-url", moto_endpoint, env=tool_env())
    assert done.returncode == 0, done.stderr
    assert "  acked +0 ms -> queued -> picked up +415 ms (queue wait) -> first chunk +1.9 s -> response +37.2 s" in (
        done.stdout.splitlines()
    )
    assert "session s1, connection c1=" in done.stdout and "attempt 1, answered" in done.stdout
    last = run_script("trace.py", "--last", "2", "--stage", "dev", "--endpoint-url", moto_endpoint, "--json")
    assert [timeline["message_id"] for timeline in json.loads(last.stdout)] == [MID, OTHER]
    missing = run_script("trace.py", "ffffffff-0000-4000-8000-000000000000", "--stage", "dev", "--endpoint-url",
                         moto_endpoint)  # fmt: skip
    assert missing.returncode == 1 and "is not in stage dev's CloudWatch Logs" in missing.stderr
