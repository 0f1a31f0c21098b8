"""Restarting the local runtime on the same port, and a port that is really taken.

A stack stopped while clients are connected closes their sockets first, so the
server's side of each connection sits in TCP TIME_WAIT for about a minute. A new
stack on that port must start at once (as any server started with SO_REUSEADDR
does), while a port held by a listening socket must still be refused with exit 2
and "port N is already in use".
"""

import asyncio
import json
import socket

import pytest
import websockets

from tests.support import LocalStackProcess, free_port

pytestmark = pytest.mark.timeout(180)

CLIENTS = 5


async def ping(ws) -> dict:
    await ws.send(json.dumps({"action": "ping"}))
    return json.loads(await asyncio.wait_for(ws.recv(), 10))


def test_a_stopped_stack_restarts_on_the_same_port_at_once():
    first = LocalStackProcess(extra_args=["--quiet"]).start()
    try:

        async def serve_then_stop():
            clients = [await websockets.connect(first.websocket_url, ping_interval=None) for _ in range(CLIENTS)]
            for ws in clients:
                assert (await ping(ws))["type"] == "pong"
            first.health()
            # Stopped with the clients still connected: the server closes every socket.
            assert await asyncio.to_thread(first.stop) == 0
            for ws in clients:
                await ws.close()

        asyncio.run(serve_then_stop())
    finally:
        first.stop()

    with LocalStackProcess(extra_args=["--quiet"], port=first.port) as second:

        async def still_serves():
            async with websockets.connect(second.websocket_url, ping_interval=None) as ws:
                assert (await ping(ws))["type"] == "pong"

        asyncio.run(still_serves())
        assert second.port == first.port


def test_a_port_held_by_a_listening_socket_exits_2_with_its_number():
    port = free_port()
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", port))
        holder.listen()
        taken = LocalStackProcess(extra_args=["--quiet"], port=port)
        with pytest.raises(RuntimeError):
            taken.start(timeout=30)
        assert taken.process.returncode == 2
        assert f"port {port} is already in use" in taken.console()
