"""Sessions on the local runtime: a dropped connection resumes with no gap and no repeat,
hijack attempts get ``invalid_session``, and turns of one session run in acked order.

Real WebSocket clients against ``localcloud`` (moto server, the SQS FIFO poller with 4
concurrent pollers); connections are killed server side, with DELETE @connections.

The seed-speed case (a 37-55 s reply, the drop at 20 s) runs with RUN_SLOW_PHASE=1.
"""

import asyncio
import json
import os
import time
from typing import Any, Dict, List, Optional, Tuple

import pytest
import websockets
from websockets.exceptions import ConnectionClosed

from chalicelib import auth
from tests.support import LocalStackProcess

pytestmark = pytest.mark.timeout(300)

SECRET = "integration-test-secret-long-enough"


@pytest.fixture(scope="module")
def stack():
    env = [
        "--env",
        "ASSISTANT_DELAY_SECONDS=5",
        "--env",
        f"AUTH_TOKEN_SECRET={SECRET}",
        "--env",
        "HEARTBEAT_SECONDS=1",
        "--env",
        "RATE_LIMIT_MESSAGES=50",
        "--env",
        "RATE_LIMIT_IP_MESSAGES=0",
        "--quiet",
    ]
    with LocalStackProcess(extra_args=env) as running:
        yield running


def url(stack, subject: str = "shopper") -> str:
    return f"{stack.websocket_url}?token={auth.sign(SECRET, subject, 3600)}"


async def connect(stack, subject: str = "shopper") -> Tuple[Any, str]:
    """A connection and its id (the one new row in the connections table)."""
    before = set(stack.connection_ids())
    ws = await websockets.connect(url(stack, subject))
    for _ in range(50):
        new = set(await asyncio.to_thread(stack.connection_ids)) - before
        new = {key for key in new if not key.startswith("rl#")}
        if new:
            return ws, new.pop()
        await asyncio.sleep(0.1)
    raise AssertionError("no connection record")


async def recv(ws, timeout: float = 30) -> Dict[str, Any]:
    return json.loads(await asyncio.wait_for(ws.recv(), timeout))


async def until(ws, predicate, timeout: float = 90) -> List[Dict[str, Any]]:
    """Frames up to and including the first one ``predicate`` accepts."""
    frames = []
    deadline = time.monotonic() + timeout
    while True:
        frame = await recv(ws, max(0.1, deadline - time.monotonic()))
        frames.append(frame)
        if predicate(frame):
            return frames


async def kill(stack, connection_id: str, ws) -> None:
    """Drop the client server side (DELETE @connections), as a network switch would."""
    client = stack.aws_client("apigatewaymanagementapi")
    await asyncio.to_thread(client.delete_connection, ConnectionId=connection_id)
    with pytest.raises(ConnectionClosed):
        while True:
            await asyncio.wait_for(ws.recv(), 10)


def check_exactly_once(frames: List[Dict[str, Any]], message_id: str) -> None:
    """Cursors 1..N each exactly once, in order, one terminal frame, chunks joined = content."""
    session_frames = [frame for frame in frames if frame["type"] != "resumed"]
    cursors = [frame["cursor"] for frame in session_frames]
    assert sorted(cursors) == list(range(1, len(cursors) + 1)), cursors
    ordered = sorted(session_frames, key=lambda frame: frame["cursor"])
    of_message = [frame for frame in ordered if frame.get("message_id") == message_id]
    terminal = [frame for frame in of_message if frame["type"] in ("response", "error")]
    assert [frame["type"] for frame in terminal] == ["response"]
    chunks = [frame for frame in of_message if frame["type"] == "chunk"]
    assert [chunk["seq"] for chunk in chunks] == list(range(len(chunks)))
    assert "".join(chunk["delta"] for chunk in chunks) == terminal[0]["content"]


async def drop_and_resume(stack, drop_after: Optional[float], timeout: float) -> None:
    ws, connection_id = await connect(stack)
    await ws.send(json.dumps({"action": "sendMessage", "message": "running shoes under $100"}))
    seen = await until(ws, lambda frame: frame["type"] == "status")
    ack = seen[0]
    assert (ack["type"], ack["cursor"]) == ("ack", 1)
    if drop_after:
        seen += await until(ws, lambda frame: frame["type"] == "status" and frame["elapsed_ms"] >= drop_after * 1000)
    await kill(stack, connection_id, ws)

    again, _ = await connect(stack)
    last = max(frame["cursor"] for frame in seen)
    await again.send(json.dumps({"action": "resume", "session_id": ack["session_id"], "after": last}))
    rest = await until(again, lambda frame: frame["type"] == "response", timeout)
    await again.close()
    check_exactly_once(seen + rest, ack["message_id"])
    resumed = [frame for frame in rest if frame["type"] == "resumed"]
    assert len(resumed) == 1 and resumed[0]["session_id"] == ack["session_id"]
    assert resumed[0]["cursor"] >= last


def test_a_reply_dropped_after_the_first_status_arrives_whole_on_resume(stack):
    asyncio.run(drop_and_resume(stack, drop_after=None, timeout=60))


def test_resume_from_0_replays_the_whole_session(stack):
    async def scenario():
        ws, _ = await connect(stack)
        await ws.send(json.dumps({"action": "sendMessage", "message": "tents"}))
        live = await until(ws, lambda frame: frame["type"] == "response", 60)
        await ws.close()
        again, _ = await connect(stack)
        await again.send(json.dumps({"action": "resume", "session_id": live[0]["session_id"], "after": 0}))
        replayed = await until(again, lambda frame: frame["type"] == "resumed")
        await again.close()
        assert replayed[:-1] == live  # the same frames, in the same order
        assert replayed[-1] == {"type": "resumed", "session_id": live[0]["session_id"], "cursor": live[-1]["cursor"]}

    asyncio.run(scenario())


def test_hijack_attempts_get_invalid_session(stack):
    async def scenario():
        alice, _ = await connect(stack, "alice")
        await alice.send(json.dumps({"action": "sendMessage", "message": "hello"}))
        ack = await recv(alice)
        session_id = ack["session_id"]
        mallory, _ = await connect(stack, "mallory")
        attempts = [
            {"action": "sendMessage", "message": "show my cart", "session_id": "made-up-id"},
            {"action": "resume", "session_id": "made-up-id", "after": 0},
            {"action": "sendMessage", "message": "clear my cart", "session_id": session_id},
            {"action": "resume", "session_id": session_id, "after": 0},
        ]
        for attempt in attempts:
            await mallory.send(json.dumps(attempt))
            frame = await recv(mallory)
            assert (frame["type"], frame["code"]) == ("error", "invalid_session"), (attempt, frame)
            assert "cursor" not in frame and "message_id" not in frame
        # Expired: the log's ttl is in the past (DynamoDB has not deleted it yet).
        await until(alice, lambda frame: frame["type"] == "response", 60)
        dynamodb = stack.aws_client("dynamodb")
        await asyncio.to_thread(
            dynamodb.update_item,
            TableName="shopping-assistant-sessions",
            Key={"session_id": {"S": f"{session_id}#log"}},
            UpdateExpression="SET #ttl = :past",
            ExpressionAttributeNames={"#ttl": "ttl"},
            ExpressionAttributeValues={":past": {"N": str(int(time.time()) - 1)}},
        )
        await alice.send(json.dumps({"action": "sendMessage", "message": "again", "session_id": session_id}))
        frame = await recv(alice)
        assert (frame["type"], frame["code"]) == ("error", "invalid_session")
        await alice.close()
        await mallory.close()

    asyncio.run(scenario())


def test_five_quick_adds_to_the_cart_give_a_cart_of_five(stack):
    async def scenario():
        ws, _ = await connect(stack)
        await ws.send(json.dumps({"action": "sendMessage", "message": "backpacks"}))
        first = await until(ws, lambda frame: frame["type"] == "response", 60)
        session_id = first[0]["session_id"]
        # All five at once, as fast as a page's buttons send them: the gateway handles them in
        # concurrent invocations; the session's ack lease queues them in acked order.
        body = {"action": "sendMessage", "message": "add the first one to my cart", "session_id": session_id}
        await asyncio.gather(*(ws.send(json.dumps(body)) for _ in range(5)))
        frames: List[Dict[str, Any]] = []
        while len([frame for frame in frames if frame["type"] == "response"]) < 5:
            frames.append(await recv(ws, 90))
        await ws.close()
        acks = [frame["message_id"] for frame in sorted(frames, key=lambda f: f["cursor"]) if frame["type"] == "ack"]
        responses = [frame for frame in frames if frame["type"] == "response"]
        assert [frame["message_id"] for frame in responses] == acks  # answered in acked order
        return session_id, responses

    session_id, responses = asyncio.run(scenario())
    item = stack.aws_client("dynamodb").get_item(
        TableName="shopping-assistant-sessions", Key={"session_id": {"S": session_id}}, ConsistentRead=True
    )["Item"]
    cart = {key: int(value["N"]) for key, value in item["cart"]["M"].items()}
    assert list(cart.values()) == [5], cart


@pytest.mark.skipif(not os.environ.get("RUN_SLOW_PHASE"), reason="a 37-55 s reply: RUN_SLOW_PHASE=1")
def test_a_seed_speed_reply_dropped_at_20_s_arrives_whole_on_resume():
    env = ["--env", "ASSISTANT_BACKEND=slow", "--env", f"AUTH_TOKEN_SECRET={SECRET}", "--quiet"]
    with LocalStackProcess(extra_args=env) as slow:
        asyncio.run(drop_and_resume(slow, drop_after=20, timeout=120))
