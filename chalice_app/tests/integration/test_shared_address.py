"""Many shoppers behind one address (an office, a mobile carrier's NAT), black box, with the
default limits: real WebSocket clients against a local stack, all from 127.0.0.1.

- 50 clients each send 10 messages as fast as the per-connection limit lets them (on
  ``rate_limited`` a client waits for the next window and sends the message again): every
  message is acked, and no refusal names the address (the per-IP default, 20 per 10 s,
  acked 80 of 500 and refused 1,338 times).
- Then all 50 drop and reconnect together, each resuming its last session: every resume
  is answered with ``resumed`` (resumes used to count as messages, per address too).
"""

import asyncio
import json
import math
import time

import pytest
import websockets

from tests.support import LocalStackProcess

pytestmark = pytest.mark.timeout(240)

CLIENTS = 50
MESSAGES = 10
WINDOW_SECONDS = 10  # RATE_LIMIT_WINDOW_SECONDS's default: windows start every 10 s of epoch time


@pytest.fixture(scope="module")
def stack():
    # The echo backend answers at once; every limit is at its default.
    with LocalStackProcess(["--quiet", "--env", "ASSISTANT_BACKEND=echo"]) as running:
        yield running


async def until_next_window() -> None:
    now = time.time()
    await asyncio.sleep(math.ceil(now / WINDOW_SECONDS) * WINDOW_SECONDS - now + 0.05)


class Shopper:
    def __init__(self, uri: str, index: int):
        self.uri, self.index = uri, index
        self.acked = 0
        self.refusals = []  # the hint of each rate_limited
        self.session_id = None

    async def chat(self) -> None:
        async with websockets.connect(self.uri, max_size=None, open_timeout=60) as ws:
            for number in range(MESSAGES):
                while not await self._send(ws, f"shopper {self.index} message {number}"):
                    await until_next_window()

    async def _send(self, ws, text: str) -> bool:
        """Send one message; True once acked, False when rate_limited."""
        await ws.send(json.dumps({"action": "sendMessage", "message": text}))
        while True:
            frame = json.loads(await asyncio.wait_for(ws.recv(), 60))
            if frame.get("type") == "ack":
                self.acked += 1
                self.session_id = frame["session_id"]
                return True
            if frame.get("type") == "error" and frame.get("code") == "rate_limited":
                self.refusals.append(frame["message"])
                assert "per connection" in frame["message"], frame  # never the address's limit
                return False
            assert frame.get("type") != "error" or frame.get("message_id"), frame  # a reply's own error is fine

    async def resume(self) -> dict:
        async with websockets.connect(self.uri, max_size=None, open_timeout=60) as ws:
            await ws.send(json.dumps({"action": "resume", "session_id": self.session_id, "after": 0}))
            while True:
                frame = json.loads(await asyncio.wait_for(ws.recv(), 60))
                if frame.get("type") in ("resumed", "error") and not frame.get("message_id"):
                    return frame


def test_fifty_shoppers_behind_one_address_are_all_acked_and_all_resume(stack):
    shoppers = [Shopper(stack.websocket_url, index) for index in range(CLIENTS)]

    async def scenario():
        await until_next_window()  # every shopper starts in the same window
        started = time.perf_counter()
        await asyncio.gather(*(shopper.chat() for shopper in shoppers))
        chatted = time.perf_counter() - started
        answers = await asyncio.gather(*(shopper.resume() for shopper in shoppers))
        return chatted, answers

    chatted, answers = asyncio.run(scenario())
    refusals = sum(len(shopper.refusals) for shopper in shoppers)
    print(f"{CLIENTS} x {MESSAGES} messages from one address: all acked in {chatted:.1f} s, {refusals} resends")
    assert [shopper.acked for shopper in shoppers] == [MESSAGES] * CLIENTS
    assert [answer["type"] for answer in answers] == ["resumed"] * CLIENTS, answers
