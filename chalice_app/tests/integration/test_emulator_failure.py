"""The local runtime when its AWS emulator dies: never silent, never stuck.

The moto server child is killed (``kill -9``) while clients have acknowledged messages in
flight. Every one of them must end in a ``service_unavailable`` error frame, ``/health``
must say why with a 503, new connections are refused, and the stack exits non-zero.
"""

import asyncio
import json
import os
import signal
import time
import urllib.error
import urllib.request

import pytest
import websockets
from websockets.exceptions import ConnectionClosed, InvalidStatus

from chalicelib import protocol
from localcloud.gateway import in_flight_change
from tests.support import LocalStackProcess

pytestmark = pytest.mark.timeout(180)


def health(stack):
    """(status code, payload) of ``/health``."""
    try:
        with urllib.request.urlopen(stack.http_url + "/health", timeout=5) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as failed:
        return failed.code, json.load(failed)


class Client:
    def __init__(self, ws):
        self.ws = ws
        self.frames = []
        self.reader = asyncio.ensure_future(self._read())

    async def _read(self):
        try:
            async for raw in self.ws:
                self.frames.append(json.loads(raw))
        except ConnectionClosed:
            pass

    def of_type(self, kind):
        return [frame for frame in self.frames if frame["type"] == kind]

    async def wait_for(self, predicate, timeout):
        deadline = time.monotonic() + timeout
        while not predicate() and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        return predicate()


def test_killing_the_moto_server_fails_every_message_in_flight_and_stops_the_stack():
    # One poller and a slow assistant: one message is being processed, the others wait in the queue.
    args = ["--pollers", "1", "--env", "ASSISTANT_DELAY_SECONDS=3", "--env", "RATE_LIMIT_MESSAGES=0"]
    stack = LocalStackProcess(extra_args=args)
    with stack:
        status, before = health(stack)
        assert status == 200 and before["status"] == "ok"
        moto_pid = before["moto_pid"]

        async def scenario():
            clients = [Client(await websockets.connect(stack.websocket_url)) for _ in range(3)]
            for index, client in enumerate(clients):
                await client.ws.send(json.dumps({"action": "sendMessage", "message": f"in flight {index}"}))
            for client in clients:
                assert await client.wait_for(lambda c=client: c.of_type("ack"), 10), client.frames
            await asyncio.sleep(0.5)  # the first one is with the assistant now

            os.kill(moto_pid, signal.SIGKILL)
            killed = time.monotonic()
            while (await asyncio.to_thread(health, stack))[0] != 503 and time.monotonic() - killed < 10:
                await asyncio.sleep(0.1)
            noticed = time.monotonic() - killed
            status, failed = await asyncio.to_thread(health, stack)

            # A frame sent now is answered, not swallowed.
            await clients[0].ws.send(json.dumps({"action": "sendMessage", "message": "after the crash"}))
            # A new connection is refused with the reason.
            with pytest.raises(InvalidStatus) as refused:
                await websockets.connect(stack.websocket_url)
            for client in clients:
                await client.wait_for(lambda c=client: c.reader.done(), 60)
            return clients, noticed, status, failed, refused.value.response

        clients, noticed, status, failed, refusal = asyncio.run(scenario())
        code = stack.process.wait(60)
        console = stack.console()

    print(f"moto death noticed in {noticed:.2f} s")
    assert noticed < 5
    assert status == 503
    assert failed["status"] == "failed"
    assert f"pid {moto_pid}" in failed["reason"] and "signal 9" in failed["reason"], failed
    assert refusal.status_code == 503
    assert b"moto server" in refusal.body

    for client in clients:
        [ack] = client.of_type("ack")
        terminals = [f for f in client.frames if f["type"] in ("response", "error") and "message_id" in f]
        assert [(f["code"], f["message_id"]) for f in terminals] == [("service_unavailable", ack["message_id"])]
        assert "moto server" in terminals[0]["message"]
        assert client.ws.close_code == 1011
    late = [f for f in clients[0].frames if f["type"] == "error" and "message_id" not in f]
    assert [f["code"] for f in late] == ["service_unavailable"]

    assert code == 3
    assert f"the AWS emulator (moto server, pid {moto_pid}) exited with signal 9" in console
    assert "Traceback" not in console


def test_a_moto_endpoint_that_stops_answering_fails_the_stack_too():
    from localcloud.motoserver import MotoServer

    moto = MotoServer().start()
    try:
        stack = LocalStackProcess(extra_args=["--moto-endpoint", moto.url, "--quiet"])
        with stack:
            assert health(stack)[1]["moto_pid"] is None  # not the stack's child
            moto.stop()
            code = stack.process.wait(60)
            console = stack.console()
    finally:
        moto.stop()
    assert code == 3
    assert f"the AWS emulator at {moto.url} stopped answering" in console
    assert "Traceback" not in console


def test_messages_in_flight_are_read_from_the_frames_posted_to_connections():
    def change(frame):
        return in_flight_change(protocol.encode(frame))

    assert change(protocol.ack("m1", "s1", "c1")) == ("m1", None)
    assert change(protocol.status("m1", 0)) == (None, None)
    assert change(protocol.chunk("m1", 0, "Hi")) == (None, None)
    assert change(protocol.response("m1", "s1", "Hi", [])) == (None, "m1")
    assert change(protocol.error(protocol.EXPIRED, "late", "m1")) == (None, "m1")
    assert change(protocol.error(protocol.RATE_LIMITED, "wait")) == (None, None)
    assert change(protocol.pong()) == (None, None)
    assert in_flight_change('{"message_id": "not json') == (None, None)
