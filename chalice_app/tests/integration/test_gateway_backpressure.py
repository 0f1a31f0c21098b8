"""The emulated gateway under pressure, over real sockets, with a stand-in function host
(what is tested is the gateway: its @connections answers, its lines of work, its
timeouts; the functions behind it are not).

- A post to a client that does not read answers 429 LimitExceededException at once (as
  API Gateway does) and never stalls posts to other clients; a connection that stays
  unreadable is closed.
- A storm of closes does not queue a new client's $connect behind its $disconnects.
- An unmasked client frame closes the connection with 1002 (RFC 6455 section 5.1).
- A TCP connection that never completes its upgrade is closed.
"""

import asyncio
import base64
import contextlib
import os
import socket
import struct
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import websockets
from aiohttp import web

from chalicelib import management
from localcloud.gateway import Gateway, Limits
from tests.support import free_port

pytestmark = pytest.mark.timeout(120)

KB = 1024


class StandInHost:
    """Accepts every connection; ``$disconnect`` takes ``disconnect_seconds``; records when each ran."""

    def __init__(self, disconnect_seconds: float = 0.0):
        self.disconnect_seconds = disconnect_seconds
        self.started = []  # (function name, monotonic time), in start order
        self._lock = threading.Lock()

    def invoke(self, name, event):
        with self._lock:
            self.started.append((name, time.monotonic()))
        if name == "websocket_disconnect":
            time.sleep(self.disconnect_seconds)
        return {"statusCode": 200}


@contextlib.asynccontextmanager
async def serving(host, limits=None, workers: int = 8):
    limits = limits or Limits()
    port = free_port()
    executor = ThreadPoolExecutor(workers)
    gateway = Gateway(host, executor, stage="api", api_id="abc123", domain=f"127.0.0.1:{port}", limits=limits)
    runner = web.AppRunner(gateway.make_app())
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield gateway, port
    finally:
        await runner.cleanup()
        executor.shutdown(wait=False, cancel_futures=True)


async def raw_upgrade(port: int, receive_buffer: int = 0):
    """A WebSocket client made by hand: upgraded, then reading only when the test says so."""
    sock = socket.socket()
    if receive_buffer:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", port))
    reader, writer = await asyncio.open_connection(sock=sock, limit=1024)
    key = base64.b64encode(os.urandom(16)).decode()
    writer.write(
        f"GET /api HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode()
    )
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
    assert head.startswith(b"HTTP/1.1 101"), head
    return reader, writer


async def the_new_connection(gateway, known) -> str:
    for _ in range(500):
        new = set(gateway.connections) - known
        if new:
            return new.pop()
        await asyncio.sleep(0.01)
    raise AssertionError("no new connection")


# --- posting never blocks -----------------------------------------------------------


def test_a_client_that_does_not_read_gets_429_at_once_others_are_not_held_up_and_it_is_closed():
    limits = Limits(outgoing_buffer_bytes=64 * KB, unreadable_seconds=1.0)

    async def scenario():
        async with serving(StandInHost(), limits) as (gateway, port):
            api = management.ManagementApi(f"http://127.0.0.1:{port}/api")
            _, stuck_writer = await raw_upgrade(port, receive_buffer=4 * KB)
            stuck = await the_new_connection(gateway, set())
            async with websockets.connect(f"ws://127.0.0.1:{port}/api", max_size=None) as other_ws:
                other = await the_new_connection(gateway, {stuck})
                frame = "x" * (100 * KB)
                outcomes, slowest = [], 0.0
                while management.BUSY not in outcomes and len(outcomes) < 400:
                    started = time.perf_counter()
                    outcomes.append(await asyncio.to_thread(api.deliver, stuck, frame))
                    slowest = max(slowest, time.perf_counter() - started)
                assert outcomes[-1] == management.BUSY, outcomes  # the kernel's buffers, then 429
                assert set(outcomes[:-1]) <= {management.SENT}
                assert slowest < 1.0, slowest  # no post waited for the client to read
                started = time.perf_counter()
                assert await asyncio.to_thread(api.deliver, other, "to the other") == management.SENT
                assert await asyncio.wait_for(other_ws.recv(), 5) == "to the other"
                assert time.perf_counter() - started < 1.0
                # Unreadable for longer than unreadable_seconds: closed, so its posts are 410 Gone.
                deadline = time.monotonic() + limits.unreadable_seconds + 5
                while await asyncio.to_thread(api.deliver, stuck, "?") != management.GONE:
                    assert time.monotonic() < deadline, "the unreadable connection was not closed"
                    await asyncio.sleep(0.2)
                assert stuck not in gateway.connections
                await other_ws.send('{"action":"ping"}')  # the other one is still served
            stuck_writer.close()

    asyncio.run(scenario())


# --- disconnect storms ----------------------------------------------------------------


def test_a_storm_of_closes_does_not_queue_a_new_clients_connect_behind_its_disconnects():
    host = StandInHost(disconnect_seconds=0.1)
    storm = 48

    async def scenario():
        async with serving(host, workers=8) as (gateway, port):
            clients = [await websockets.connect(f"ws://127.0.0.1:{port}/api") for _ in range(storm)]
            await asyncio.gather(*(client.close() for client in clients))
            while gateway.connections:  # every close is in: each one's $disconnect is waiting to run
                await asyncio.sleep(0.01)
            started = time.perf_counter()
            async with websockets.connect(f"ws://127.0.0.1:{port}/api"):
                connected = time.perf_counter() - started
            while sum(name == "websocket_disconnect" for name, _ in host.started) < storm + 1:
                await asyncio.sleep(0.05)
            return connected

    connected = asyncio.run(scenario())
    names = [name for name, _ in host.started]
    last_connect = len(names) - 1 - names[::-1].index("websocket_connect")
    disconnects_before = names[:last_connect].count("websocket_disconnect")
    # In the executor's queue, all 48 $disconnects (0.1 s each, 8 threads) ran before it: 0.6 s.
    assert disconnects_before < storm // 2, (disconnects_before, connected)
    assert connected < 0.5, connected


# --- RFC 6455 and unfinished upgrades ----------------------------------------------


def test_an_unmasked_client_frame_closes_the_connection_with_1002():
    async def scenario():
        async with serving(StandInHost()) as (_, port):
            reader, writer = await raw_upgrade(port)
            payload = b'{"action":"ping"}'
            writer.write(bytes([0x81, len(payload)]) + payload)  # text, FIN, no mask bit
            head = await asyncio.wait_for(reader.readexactly(2), 10)
            assert head[0] == 0x88, head  # a close frame, not a pong
            body = await reader.readexactly(head[1] & 0x7F)
            writer.close()
            return struct.unpack("!H", body[:2])[0]

    assert asyncio.run(scenario()) == 1002


def test_a_connection_that_never_completes_its_upgrade_is_closed():
    limits = Limits(upgrade_seconds=0.5)

    async def scenario():
        async with serving(StandInHost(), limits) as (_, port):
            async with websockets.connect(f"ws://127.0.0.1:{port}/api") as ws:
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
                started = time.perf_counter()
                writer.write(b"GET /api HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n")  # and no more
                for _ in range(4):  # a header byte now and then does not keep it open
                    await asyncio.sleep(0.2)
                    if writer.is_closing() or reader.at_eof():
                        break
                    writer.write(b"X")
                # Closed by the server (a reset, if a byte was on its way).
                with contextlib.suppress(ConnectionError):
                    assert await asyncio.wait_for(reader.read(), 5) == b""
                closed_after = time.perf_counter() - started
                writer.close()
                await ws.send('{"action":"ping"}')  # an upgraded connection idle that long stays open
            return closed_after

    closed_after = asyncio.run(scenario())
    assert 0.4 < closed_after < 2.0, closed_after
