"""Source mode on the real local stack (``scripts/local.py --project-dir`` on a temporary copy of
the project): a reload picks up an edit while a socket stays open, and a function past its
timeout is killed and its SQS record retried."""

import asyncio
import json
import os
import shutil
import time

import pytest
import websockets

from localcloud.process import LocalStackProcess
from localcloud.stack import PROJECT_DIR

pytestmark = pytest.mark.timeout(300)


def copy_project(target):
    """The files ``chalice package`` reads (and the fault-injecting assistant the tests use)."""
    skipped = ("__pycache__", "tests", "localcloud", "infra", "scripts", "web", "deployed", "deployments", "*.egg-info")
    shutil.copytree(PROJECT_DIR, target, ignore=shutil.ignore_patterns(*skipped))
    os.makedirs(os.path.join(target, "tests"))
    shutil.copy2(os.path.join(PROJECT_DIR, "tests", "faults.py"), os.path.join(target, "tests", "faults.py"))
    return str(target)


def wait_for(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


async def ping(ws):
    await ws.send('{"action":"ping"}')
    while True:
        frame = json.loads(await asyncio.wait_for(ws.recv(), 30))
        if frame.get("type") == "pong":
            return frame


def test_an_edit_reaches_the_next_invocation_and_an_open_socket_stays_open(tmp_path):
    project = copy_project(tmp_path / "project")
    protocol_file = os.path.join(project, "chalicelib", "protocol.py")
    with LocalStackProcess(["--project-dir", project, "--quiet"]) as stack:

        async def scenario():
            async with websockets.connect(stack.websocket_url) as ws:
                before = await ping(ws)
                assert "reloaded" not in before
                with open(protocol_file) as handle:
                    source = handle.read()
                edited = source.replace('return {"type": "pong", "timestamp": now_ms()}',
                                        'return {"type": "pong", "timestamp": now_ms(), "reloaded": True}')  # fmt: skip
                assert edited != source
                with open(protocol_file, "w") as handle:
                    handle.write(edited)
                await asyncio.to_thread(wait_for, lambda: "Reloaded: " in stack.console(), 30, "the reload line")
                after = await ping(ws)  # the same socket, never closed
                assert after.get("reloaded") is True
                assert ws.close_code is None

        asyncio.run(scenario())
        reloads = [line for line in stack.console().splitlines() if "Reloaded: " in line]
        assert len(reloads) == 1 and "chalicelib/protocol.py" in reloads[0]
        pids = {line["pid"] for line in stack.log_lines("websocket_message") if line["type"] == "REPORT"}
        assert len(pids) == 2  # the warm environment was retired, a fresh one served the edit


def test_a_processor_past_its_timeout_is_killed_and_its_record_retried(tmp_path):
    project = copy_project(tmp_path / "project")
    config_path = os.path.join(project, ".chalice", "config.json")
    with open(config_path) as handle:
        config = json.load(handle)
    config["stages"]["local"]["lambda_functions"]["chat_processor"]["lambda_timeout"] = 2
    with open(config_path, "w") as handle:
        json.dump(config, handle)
    args = ["--project-dir", project, "--quiet", "--visibility-timeout", "3", "--pollers", "1"]
    # DEADLINE_MARGIN_SECONDS=0: the processor does not stop itself first, so Lambda's timeout is what is tested.
    for name, value in {"ASSISTANT_BACKEND": "tests.faults:FaultyAssistant", "MAX_RECEIVE_COUNT": "2",
                        "RATE_LIMIT_MESSAGES": "0", "DEADLINE_MARGIN_SECONDS": "0",
                        "IN_FLIGHT_VISIBILITY_SECONDS": "3", "HEARTBEAT_SECONDS": "1"}.items():  # fmt: skip
        args += ["--env", f"{name}={value}"]
    with LocalStackProcess(args) as stack:

        def timed_out():
            return [
                line for line in stack.log_lines("chat_processor")
                if line["type"] == "ERROR" and line["message"].endswith("Task timed out after 2.00 seconds")
            ]  # fmt: skip

        async def scenario():
            async with websockets.connect(stack.websocket_url) as ws:  # open: the reply has somewhere to go
                await ws.send(json.dumps({"action": "sendMessage", "message": "slow=20 hello"}))
                while json.loads(await asyncio.wait_for(ws.recv(), 30)).get("type") != "ack":
                    pass
                await asyncio.to_thread(wait_for, lambda: len(timed_out()) >= 2, 60, "two timed-out attempts")

        asyncio.run(scenario())
        starts = [line for line in stack.log_lines("chat_processor") if line["type"] == "START"]
        assert len(starts) >= 2  # the record came back after the visibility timeout
        reports = [line for line in stack.log_lines("chat_processor") if line["type"] == "REPORT"]
        assert all(line["error"] for line in reports[:2])
        wait_for(lambda: stack.queue_depths().get("ChatProcessingQueue-dlq.fifo", 0) == 1, 60, "the DLQ")
