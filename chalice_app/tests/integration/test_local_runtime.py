"""The local runtime against real clients: the boto3 Management API client, real
WebSocket connections, API Gateway's limits, and chat_processor's drop of gone clients."""

import asyncio
import json
import time

import pytest
import websockets
from websockets.exceptions import ConnectionClosed

from tests.support import LocalStackProcess

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def stack():
    with LocalStackProcess(extra_args=["--env", "ASSISTANT_DELAY_SECONDS=0.5", "--quiet"]) as running:
        yield running


def management_client(stack):
    return stack.aws_client("apigatewaymanagementapi")


def connection_ids(stack):
    return stack.connection_ids()


async def connect_and_identify(stack, **kwargs):
    """Open a connection and find its id: the one new row in the connections table."""
    before = set(connection_ids(stack))
    ws = await websockets.connect(stack.websocket_url, **kwargs)
    new = set(connection_ids(stack)) - before
    assert len(new) == 1, new
    return ws, new.pop()


def test_management_api_post_get_delete_with_the_boto3_client(stack):
    async def scenario():
        ws, connection_id = await connect_and_identify(stack, user_agent_header="phase-test/1.0")
        client = management_client(stack)

        await asyncio.to_thread(client.post_to_connection, ConnectionId=connection_id, Data=b'{"hello":"there"}')
        assert json.loads(await asyncio.wait_for(ws.recv(), 5)) == {"hello": "there"}

        info = await asyncio.to_thread(client.get_connection, ConnectionId=connection_id)
        assert info["Identity"] == {"SourceIp": "127.0.0.1", "UserAgent": "phase-test/1.0"}
        assert abs(info["ConnectedAt"].timestamp() - time.time()) < 30
        assert info["LastActiveAt"] >= info["ConnectedAt"]

        await asyncio.to_thread(client.delete_connection, ConnectionId=connection_id)
        with pytest.raises(ConnectionClosed):
            await asyncio.wait_for(ws.recv(), 5)
        with pytest.raises(client.exceptions.GoneException):
            await asyncio.to_thread(client.post_to_connection, ConnectionId=connection_id, Data=b"late")
        # $disconnect ran and removed the record.
        for _ in range(50):
            if connection_id not in connection_ids(stack):
                break
            await asyncio.sleep(0.1)
        assert connection_id not in connection_ids(stack)

    asyncio.run(scenario())


def test_unknown_connection_is_gone(stack):
    client = management_client(stack)
    with pytest.raises(client.exceptions.GoneException):
        client.get_connection(ConnectionId="AAAAAAAAAAAAAAA=")
    with pytest.raises(client.exceptions.GoneException):
        client.post_to_connection(ConnectionId="AAAAAAAAAAAAAAA=", Data=b"x")


def test_connection_record_carries_identity_and_ttl(stack):
    async def scenario():
        ws, connection_id = await connect_and_identify(stack)
        record = connection_ids(stack)[connection_id]
        assert record["source_ip"]["S"] == "127.0.0.1"
        assert int(record["ttl"]["N"]) > time.time()
        await ws.close()

    asyncio.run(scenario())


def test_frame_over_the_limit_closes_with_1009(stack):
    async def scenario():
        async with websockets.connect(stack.websocket_url, max_size=None) as ws:
            await ws.send(json.dumps({"action": "sendMessage", "message": "x" * 40_000}))
            with pytest.raises(ConnectionClosed) as closed:
                await asyncio.wait_for(ws.recv(), 5)
            assert closed.value.rcvd.code == 1009

    asyncio.run(scenario())


def test_slow_handler_does_not_stall_other_connections(stack):
    async def scenario():
        async with websockets.connect(stack.websocket_url) as busy, websockets.connect(stack.websocket_url) as other:
            busy_frames = []

            async def read_busy():
                while not busy_frames or busy_frames[-1]["type"] != "response":
                    busy_frames.append(json.loads(await busy.recv()))

            reading = asyncio.ensure_future(read_busy())
            # The processor is busy for 0.5 s with this one ...
            await busy.send(json.dumps({"action": "sendMessage", "message": "take your time"}))
            while not any(frame["type"] == "status" for frame in busy_frames):
                await asyncio.sleep(0.01)
            await other.send(json.dumps({"action": "ping"}))
            assert json.loads(await asyncio.wait_for(other.recv(), 5))["type"] == "pong"
            # ... and the ping is answered while it works, not after it (judged by order, not
            # by a time bound a loaded machine could miss).
            assert busy_frames[-1]["type"] != "response", busy_frames
            await asyncio.wait_for(reading, 10)

    asyncio.run(scenario())


def test_a_client_that_leaves_after_the_ack_gets_the_whole_reply_on_resume(stack):
    """Nothing is dropped for a client that left: the reply is made, kept, and replayed once."""

    async def scenario():
        ws = await websockets.connect(stack.websocket_url)
        await ws.send(json.dumps({"action": "sendMessage", "message": "I will not wait"}))
        ack = json.loads(await asyncio.wait_for(ws.recv(), 5))
        assert ack["type"] == "ack" and ack["message"] == "I will not wait"
        await ws.close()
        await asyncio.sleep(1)
        async with websockets.connect(stack.websocket_url) as again:
            await again.send(json.dumps({"action": "resume", "session_id": ack["session_id"], "after": ack["cursor"]}))
            frames = []
            while not frames or frames[-1]["type"] != "resumed":
                frames.append(json.loads(await asyncio.wait_for(again.recv(), 10)))
                if frames[-1]["type"] == "response":
                    break
            while frames[-1]["type"] not in ("response", "error"):
                frames.append(json.loads(await asyncio.wait_for(again.recv(), 10)))
        return ack["message_id"], frames

    message_id, frames = asyncio.run(scenario())
    ends = [frame for frame in frames if frame["type"] in ("response", "error")]
    assert [(frame["type"], frame["message_id"]) for frame in ends] == [("response", message_id)]
    cursors = [frame["cursor"] for frame in frames if "cursor" in frame and frame["type"] != "resumed"]
    assert len(cursors) == len(set(cursors))
    drops = [
        line for line in stack.log_lines("chat_processor") if line["type"] == "LOG" and '"drop"' in line["message"]
    ]
    assert drops == []
    reports = [line for line in stack.log_lines("chat_processor") if line["type"] == "REPORT"]
    assert not any(line["error"] for line in reports)


def test_idle_connections_are_closed_like_api_gateway():
    with LocalStackProcess(extra_args=["--idle-timeout", "1", "--quiet"]) as stack:

        async def scenario():
            async with websockets.connect(stack.websocket_url, ping_interval=None) as ws:
                started = time.perf_counter()
                with pytest.raises(ConnectionClosed) as closed:
                    await asyncio.wait_for(ws.recv(), 10)
                assert closed.value.rcvd.code == 1001
                assert 0.9 < time.perf_counter() - started < 5

        asyncio.run(scenario())


def test_port_in_use_gets_a_clear_message():
    with LocalStackProcess(extra_args=["--quiet"]) as first:
        second = LocalStackProcess(extra_args=["--quiet"])
        second.port = first.port
        with pytest.raises(RuntimeError) as failed:
            second.start(timeout=30)
        assert "already in use" in str(failed.value)
        assert second.process.returncode == 2


def test_token_auth_refuses_the_upgrade_and_accepts_a_signed_token():
    from websockets.exceptions import InvalidStatus

    from chalicelib import auth

    secret = "integration-test-secret-not-a-credential"
    with LocalStackProcess(extra_args=["--env", f"AUTH_TOKEN_SECRET={secret}", "--quiet"]) as stack:

        async def scenario():
            for query, status in (("", 401), ("?token=forged", 403)):
                with pytest.raises(InvalidStatus) as refused:
                    await websockets.connect(stack.websocket_url + query)
                assert refused.value.response.status_code == status
            assert stack.connection_ids() == {}  # no record: nothing but $connect ran
            token = auth.sign(secret, "shopper-1", ttl_seconds=60)
            async with websockets.connect(f"{stack.websocket_url}?token={token}") as ws:
                await ws.send(json.dumps({"action": "ping"}))
                assert json.loads(await asyncio.wait_for(ws.recv(), 5))["type"] == "pong"

        asyncio.run(scenario())
        message_runs = [line for line in stack.log_lines("websocket_message") if line["type"] == "START"]
        assert len(message_runs) == 1  # only the authorised client's ping
