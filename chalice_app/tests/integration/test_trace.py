"""scripts/trace.py against a real local stack: a message behind a backlog, its timeline from the logs."""

import asyncio
import json
import os
import subprocess
import sys
import time

import pytest
import websockets

from localcloud.process import LOCAL_SCRIPT
from tests.support import LocalStackProcess

pytestmark = pytest.mark.timeout(180)

DELAY_SECONDS = 2
BACKLOG = 2  # messages in front, each taking DELAY_SECONDS on the one poller
TRACE = os.path.join(os.path.dirname(LOCAL_SCRIPT), "trace.py")


@pytest.fixture(scope="module")
def stack():
    args = ["--pollers", "1", "--env", f"ASSISTANT_DELAY_SECONDS={DELAY_SECONDS}", "--env", "RATE_LIMIT_MESSAGES=0"]
    with LocalStackProcess(extra_args=[*args, "--quiet"]) as running:
        yield running


def trace(stack, *args):
    return subprocess.run(
        [sys.executable, TRACE, *args, "--logs-dir", stack.log_dir],
        capture_output=True,
        text=True,
        timeout=60,
    )


async def send_behind_a_backlog(stack):
    """Sends BACKLOG + 1 messages, each once the one before is acknowledged (so no ack waits on
    another message's handler); returns the message answered last, which had BACKLOG in front
    of it on the one poller (SQS does not keep order), and the ms from its ack to its response
    as the client saw them."""
    acked, answered = {}, {}

    async def receive_until(done):
        while not done():
            frame = json.loads(await asyncio.wait_for(ws.recv(), 60))
            now = time.time() * 1000
            if frame.get("type") == "ack":
                acked[frame["message_id"]] = now
            elif frame.get("type") == "response":
                answered[frame["message_id"]] = now
            elif frame.get("type") == "error":
                raise AssertionError(frame)

    async with websockets.connect(stack.websocket_url) as ws:
        for number in range(BACKLOG + 1):
            await ws.send(json.dumps({"action": "sendMessage", "message": f"running shoes {number}"}))
            await receive_until(lambda number=number: len(acked) == number + 1)
        await receive_until(lambda: len(answered) == BACKLOG + 1)
    last = max(answered, key=answered.get)
    return last, answered[last] - acked[last]


def test_trace_shows_queue_wait_and_processing_adding_up_to_the_reply_time(stack):
    message_id, observed_ms = asyncio.run(send_behind_a_backlog(stack))
    time.sleep(0.5)  # the processor logs "answered" just after posting the response
    done = trace(stack, message_id, "--json")
    assert done.returncode == 0, done.stderr
    [timeline] = json.loads(done.stdout)
    phases = timeline["phases"]
    assert phases["queue_wait"] >= BACKLOG * DELAY_SECONDS * 1000 * 0.9, phases  # it waited behind the backlog
    # Processing runs to the first chunk, delivery from there to the response (None without chunks).
    measured = phases["queue_wait"] + phases["processing"] + (phases["delivery"] or 0)
    assert measured - phases["queue_wait"] >= DELAY_SECONDS * 1000, phases
    print(f"observed {observed_ms:.0f} ms, traced {measured} ms ({phases})")
    assert abs(measured - observed_ms) <= 50, (observed_ms, phases)

    text = trace(stack, message_id)
    assert text.returncode == 0, text.stderr
    assert "acked +0 ms -> queued -> picked up +" in text.stdout and "(queue wait)" in text.stdout
    assert "-> response +" in text.stdout and "attempt 1, answered" in text.stdout


def test_last_lists_the_recent_messages_and_an_unknown_id_exits_1(stack):
    done = trace(stack, "--last", "2", "--json")
    assert done.returncode == 0, done.stderr
    assert len(json.loads(done.stdout)) == 2
    missing = trace(stack, "00000000-0000-4000-8000-000000000000")
    assert missing.returncode == 1
    assert "message 00000000-0000-4000-8000-000000000000 is not in" in missing.stderr
