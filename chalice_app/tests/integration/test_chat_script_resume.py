"""``scripts/chat.py`` against a real local stack: the server drops the socket mid-reply (DELETE
through @connections), the script reconnects, resumes the session and prints the reply once."""

import asyncio
import json
import os
import subprocess
import sys
import threading
import time

import pytest
import websockets

from tests.support import REPO_DIR, LocalStackProcess

CHAT = os.path.join(REPO_DIR, "chalice_app", "scripts", "chat.py")
QUESTION = "running shoes under 100"
REFERENCE_AGENT = "reference-client"
# The delay puts 70% before the first words and spreads the rest between the pieces: the socket
# is cut while the pieces are still coming.
STACK_ARGS = ["--env", "ASSISTANT_DELAY_SECONDS=12", "--env", "HEARTBEAT_SECONDS=1"]

pytestmark = pytest.mark.timeout(240)


@pytest.fixture(scope="module")
def stack():
    with LocalStackProcess(extra_args=STACK_ARGS) as running:
        yield running


class Output:
    """A pipe read as it comes (chunks end no line), kept whole."""

    def __init__(self, stream) -> None:
        self.text, self._stream = "", stream
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        for piece in iter(lambda: os.read(self._stream.fileno(), 4096), b""):
            self.text += piece.decode("utf-8", "replace")

    def wait_for(self, needle: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while needle not in self.text:
            assert time.monotonic() < deadline, f"no {needle!r} within {timeout:g} s in:\n{self.text}"
            time.sleep(0.05)


async def reference_reply(uri: str) -> dict:
    """The same question on a connection of its own (left alone): the reply the script must print."""
    async with websockets.connect(uri, user_agent_header=REFERENCE_AGENT) as ws:
        await ws.send(json.dumps({"action": "sendMessage", "message": QUESTION}))
        async for raw in ws:
            frame = json.loads(raw)
            if frame.get("type") in ("response", "error"):
                return frame
    raise AssertionError("the reference connection closed before its reply")


def drop_script_connections(stack: LocalStackProcess) -> int:
    dropped = 0
    for connection_id, item in stack.connection_ids().items():
        if item.get("user_agent", {}).get("S") != REFERENCE_AGENT:
            stack.aws_client("apigatewaymanagementapi").delete_connection(ConnectionId=connection_id)
            dropped += 1
    return dropped


def test_chat_script_resumes_a_reply_cut_off_mid_stream_and_prints_it_once(stack):
    reference: dict = {}
    referee = threading.Thread(target=lambda: reference.update(asyncio.run(reference_reply(stack.websocket_url))))
    referee.start()
    script = subprocess.Popen(
        [sys.executable, CHAT, stack.websocket_url, "--reply-timeout", "90"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    out, err = Output(script.stdout), Output(script.stderr)
    try:
        out.wait_for("connected to", 30)
        script.stdin.write(f"{QUESTION}\n".encode())
        script.stdin.flush()
        out.wait_for("(queued)", 30)
        out.wait_for("assistant> ", 60)  # the first piece is printed, more are on their way
        assert drop_script_connections(stack) == 1
        err.wait_for("reconnected", 60)
        script.stdin.close()  # end of input: the script waits for the reply, then leaves
        assert script.wait(timeout=150) == 0, out.text + err.text
    finally:
        if script.poll() is None:
            script.kill()
        referee.join(timeout=120)
    assert "resuming after cursor" in err.text, err.text
    assert reference.get("type") == "response", reference
    assert out.text.count("(queued)") == 1, out.text
    assert out.text.count("assistant> ") == 1, out.text
    streamed = out.text.split("assistant> ", 1)[1].split("\n  1. ")[0].rstrip("\n")
    assert streamed == reference["content"], out.text
    assert "error [" not in out.text, out.text


@pytest.fixture(scope="module")
def echo_stack():
    with LocalStackProcess(extra_args=["--env", "ASSISTANT_BACKEND=echo"]) as running:
        yield running


def forget_every_session(stack: LocalStackProcess, table: str = "shopping-assistant-sessions") -> int:
    """What DynamoDB's TTL does to an expired session: its items are deleted."""
    dynamodb = stack.aws_client("dynamodb")
    keys = [item["session_id"] for item in dynamodb.scan(TableName=table, ConsistentRead=True)["Items"]]
    for key in keys:
        dynamodb.delete_item(TableName=table, Key={"session_id": key})
    return len(keys)


def test_chat_script_starts_a_new_session_when_the_server_no_longer_knows_its_own(echo_stack):
    script = subprocess.Popen(
        [sys.executable, CHAT, echo_stack.websocket_url, "--reply-timeout", "60"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    out, err = Output(script.stdout), Output(script.stderr)
    try:
        script.stdin.write(b"hello\n")
        script.stdin.flush()
        out.wait_for("You said: hello\n", 60)
        assert forget_every_session(echo_stack) >= 1
        script.stdin.write(b"hello again\n")
        script.stdin.close()
        assert script.wait(timeout=90) == 0, out.text + err.text
    finally:
        if script.poll() is None:
            script.kill()
    assert out.text.count("(Your earlier conversation has expired; starting a new one)") == 1, out.text
    assert out.text.count("assistant> You said: hello again\n") == 1, out.text
    assert out.text.count("(queued)") == 2, out.text
    assert "error [" not in out.text, out.text
