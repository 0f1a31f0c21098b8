"""Every failure kind of chat_processor, on the local runtime (real execution environments, moto's
SQS, the emulated event source mapping): the shopper is told within 30 s and every acked message
ends within 3 minutes, with the queue's visibility timeout as deployed (6 x the function timeout).

The processor's timeout is cut to 8 s in a copy of the project, and the retry settings are
scaled with it (they are config, see chalicelib/retry.py), so the scenario takes seconds.
"""

import asyncio
import json
import os
import time

import pytest

from tests.lambdaservice.test_source_mode import copy_project
from tests.reliability.test_fault_injection import ChatClient
from tests.support import LocalStackProcess

pytestmark = pytest.mark.timeout(300)

TOLD_BOUND_SECONDS = 30
SETTLED_BOUND_SECONDS = 180
PROCESSOR_TIMEOUT = 8
ENV = {
    "ASSISTANT_BACKEND": "tests.faults:FaultyAssistant",
    "RATE_LIMIT_MESSAGES": "0",
    "MAX_RECEIVE_COUNT": "4",
    "RETRY_BACKOFF_SECONDS": "1,3,6",  # 3 + 3 + 6 > 8: a dead holder's claim lapses before the last attempt
    "IN_FLIGHT_VISIBILITY_SECONDS": "3",
    "HEARTBEAT_SECONDS": "1",
}
# message -> (its terminal, the reason the shopper is told first)
KINDS = {
    "fail-once assistant": ("response", "the assistant failed"),
    "fail-always assistant": ("processing_failed", "the assistant failed"),
    "import-error lazily loaded": ("processing_failed", "the service is misconfigured (a part of it failed to load)"),
    "missing-table role": ("processing_failed", "the service could not reach its storage"),
    "crash-once environment killed": ("response", "the previous attempt stopped responding"),
    "slow-once=30 function timeout": ("response", "the reply took too long"),
}


def short_timeout_project(tmp_path) -> str:
    project = copy_project(tmp_path / "project")
    path = os.path.join(project, ".chalice", "config.json")
    with open(path) as handle:
        config = json.load(handle)
    config["stages"]["local"]["lambda_functions"]["chat_processor"]["lambda_timeout"] = PROCESSOR_TIMEOUT
    with open(path, "w") as handle:
        json.dump(config, handle)
    return project


async def measure(client: ChatClient, text: str) -> dict:
    """Send ``text``; the seconds from its ack to the first told frame and to its terminal frame."""
    await client.send(text)
    await client.wait_for_acks(1)
    acked = time.monotonic()
    [message_id] = client.acks.values()
    told = None
    while time.monotonic() - acked < SETTLED_BOUND_SECONDS + 10:
        frames = client.frames[message_id]
        if told is None and any(f.get("status") == "retrying" or f["type"] == "error" for f in frames):
            told = time.monotonic() - acked
        if client.terminals(message_id):
            break
        await asyncio.sleep(0.05)
    return {"told": told, "settled": time.monotonic() - acked, "frames": list(client.frames[message_id])}


def test_every_failure_kind_is_told_within_30_s_and_settled_within_3_min(tmp_path):
    args = ["--project-dir", short_timeout_project(tmp_path), "--quiet", "--pollers", "6"]
    for name, value in ENV.items():
        args += ["--env", f"{name}={value}"]
    with LocalStackProcess(args) as stack:

        async def scenario():
            clients = [await ChatClient(stack.websocket_url).open() for _ in KINDS]
            results = await asyncio.gather(*(measure(c, text) for c, text in zip(clients, KINDS, strict=True)))
            for client in clients:
                await client.close()
            return dict(zip(KINDS, results, strict=True))

        results = asyncio.run(scenario())
        attributes = stack.aws_client("sqs").get_queue_attributes(
            QueueUrl=stack.aws_client("sqs").get_queue_url(QueueName="ChatProcessingQueue.fifo")["QueueUrl"],
            AttributeNames=["VisibilityTimeout"],
        )["Attributes"]
        log = [json.loads(line["message"]) for line in stack.log_lines("chat_processor") if line["type"] == "LOG"]
    assert int(attributes["VisibilityTimeout"]) == 6 * PROCESSOR_TIMEOUT  # as deployed: the retries do not wait on it
    for text, result in results.items():
        told = "never" if result["told"] is None else f"{result['told']:.1f} s"
        print(f"{text}: told {told}, settled {result['settled']:.1f} s")
    for text, (terminal, reason) in KINDS.items():
        result = results[text]
        frames = result["frames"]
        ends = [f for f in frames if f["type"] in ("response", "error")]
        assert len(ends) == 1, (text, frames)
        assert (ends[0].get("code") or ends[0]["type"]) == terminal, (text, frames)
        assert result["told"] is not None and result["told"] < TOLD_BOUND_SECONDS, (text, result)
        assert result["settled"] < SETTLED_BOUND_SECONDS, (text, result)
        first = next(f for f in frames if f.get("status") == "retrying" or f["type"] == "error")
        assert reason in (first.get("reason") or first.get("message")), (text, first)
        if first.get("status") == "retrying":
            assert first["attempt"] >= 1
    # Every failure's log line keeps its cause: the exception's type and message.
    failed = [line for line in log if line.get("event") in ("processing_failed", "in_progress_elsewhere")]
    causes = {line["error"].split(":")[0] for line in failed}
    assert {"RuntimeError", "ModuleNotFoundError", "ResourceNotFoundException", "DeadlineError"} <= causes, causes
    assert "IdempotencyAlreadyInProgressError" in causes, causes
