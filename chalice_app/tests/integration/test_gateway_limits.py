"""API Gateway's WebSocket size and duration limits on the local runtime, with real clients.

API Gateway (WebSocket API quotas): each frame at most 32 KB, each message at most 128 KB
(a larger message must be split into frames), a post to @connections at most 128 KB
(413 ``PayloadTooLargeException``), and a connection lasts at most 2 hours (close 1001).
"""

import asyncio
import json
import time

import pytest
import websockets
from websockets.exceptions import ConnectionClosed

from tests.support import LocalStackProcess

pytestmark = pytest.mark.timeout(120)

KB = 1024


@pytest.fixture(scope="module")
def stack():
    with LocalStackProcess(extra_args=["--quiet"]) as running:
        yield running


def padded_ping(total_bytes: int) -> str:
    """A valid ping frame of exactly ``total_bytes`` (the handler ignores unknown keys)."""
    head, tail = '{"action":"ping","pad":"', '"}'
    return head + "x" * (total_bytes - len(head) - len(tail)) + tail


def fragments(text: str, size: int):
    return [text[start : start + size] for start in range(0, len(text), size)]


async def expect_close(ws) -> int:
    with pytest.raises(ConnectionClosed) as closed:
        while True:
            await asyncio.wait_for(ws.recv(), 10)
    return closed.value.rcvd.code


def test_a_60_kb_message_in_three_20_kb_frames_is_accepted(stack):
    async def scenario():
        async with websockets.connect(stack.websocket_url, max_size=None) as ws:
            await ws.send(fragments(padded_ping(60 * KB), 20 * KB))
            assert json.loads(await asyncio.wait_for(ws.recv(), 10))["type"] == "pong"
            await ws.send('{"action":"ping"}')  # still open
            assert json.loads(await asyncio.wait_for(ws.recv(), 10))["type"] == "pong"

    asyncio.run(scenario())


def test_a_128_kb_message_in_32_kb_frames_is_accepted(stack):
    async def scenario():
        async with websockets.connect(stack.websocket_url, max_size=None) as ws:
            await ws.send(fragments(padded_ping(128 * KB), 32 * KB))
            assert json.loads(await asyncio.wait_for(ws.recv(), 10))["type"] == "pong"

    asyncio.run(scenario())


def test_a_single_40_kb_text_frame_closes_with_1009(stack):
    async def scenario():
        async with websockets.connect(stack.websocket_url, max_size=None) as ws:
            await ws.send(padded_ping(40 * KB))
            assert await expect_close(ws) == 1009

    asyncio.run(scenario())


def test_a_fragment_over_32_kb_closes_with_1009_even_inside_a_small_message(stack):
    async def scenario():
        async with websockets.connect(stack.websocket_url, max_size=None) as ws:
            text = padded_ping(50 * KB)
            await ws.send([text[: 10 * KB], text[10 * KB :]])  # the second frame is 40 KB
            assert await expect_close(ws) == 1009

    asyncio.run(scenario())


def test_a_binary_frame_over_32_kb_closes_with_1009(stack):
    async def scenario():
        async with websockets.connect(stack.websocket_url, max_size=None) as ws:
            await ws.send(b"\x00" * (40 * KB))
            assert await expect_close(ws) == 1009

    asyncio.run(scenario())


def test_a_message_over_128_kb_in_small_frames_closes_with_1009(stack):
    async def scenario():
        async with websockets.connect(stack.websocket_url, max_size=None) as ws:
            await ws.send(fragments(padded_ping(150 * KB), 30 * KB))
            assert await expect_close(ws) == 1009

    asyncio.run(scenario())


def test_posting_over_128_kb_to_connections_answers_413(stack):
    async def scenario():
        before = set(stack.connection_ids())
        async with websockets.connect(stack.websocket_url, max_size=None) as ws:
            [connection_id] = set(stack.connection_ids()) - before
            client = stack.aws_client("apigatewaymanagementapi")
            with pytest.raises(client.exceptions.PayloadTooLargeException):
                await asyncio.to_thread(
                    client.post_to_connection, ConnectionId=connection_id, Data=b"x" * (128 * KB + 1)
                )
            with pytest.raises(client.exceptions.PayloadTooLargeException):
                await asyncio.to_thread(client.post_to_connection, ConnectionId=connection_id, Data=b"x" * (400 * KB))
            await asyncio.to_thread(client.post_to_connection, ConnectionId=connection_id, Data=b"y" * (128 * KB))
            assert await asyncio.wait_for(ws.recv(), 10) == "y" * (128 * KB)

    asyncio.run(scenario())


def test_a_connection_that_reaches_the_maximum_duration_is_closed_with_1001():
    with LocalStackProcess(extra_args=["--max-connection", "2", "--quiet"]) as stack:

        async def scenario():
            async with websockets.connect(stack.websocket_url) as ws:
                started = time.perf_counter()
                with pytest.raises(ConnectionClosed) as closed:
                    while True:  # busy all along: the duration limit, not the idle one
                        await ws.send('{"action":"ping"}')
                        await asyncio.wait_for(ws.recv(), 10)
                        await asyncio.sleep(0.2)
                assert closed.value.rcvd.code == 1001
                assert closed.value.rcvd.reason == "Maximum connection duration"
                assert 1.9 < time.perf_counter() - started < 6

        asyncio.run(scenario())
