"""``stop`` on a real local stack: a running reply ends at its next boundary with what was
streamed, a queued message never runs, and a stop that cannot apply is refused.

The ``slow`` backend (the catalog slowed to ``DELAY_SECONDS`` a reply) spends 70 % of the delay
before its first chunk, then streams the catalog's lines about ``0.0375 * DELAY_SECONDS`` apart:
long enough to stop a reply in either phase. Auth is on (``AUTH_TOKEN_SECRET``), so a session
has an owner another subject cannot stop.

Every stop-to-terminal latency (stop sent -> its terminal frame received) is recorded and
printed with p50/max at the end of the module (run with ``-s`` to see it).
"""

import asyncio
import json
import random
import statistics
import time
import uuid
from typing import Any, Callable, Dict, List, Optional, Tuple

import pytest
import websockets
from websockets.exceptions import ConnectionClosed

from chalicelib import auth
from tests.support import LocalStackProcess

pytestmark = pytest.mark.timeout(180)

SECRET = "stop-test-secret-long-enough-for-hmac"
DELAY_SECONDS = 10.0  # each reply: 7 s before the first chunk, then ~0.375 s per line
FIRST_CHUNK_SECONDS = 0.7 * DELAY_SECONDS
STOP_BOUND_SECONDS = 1.0  # stop sent -> terminal frame received
PROMPT_PICKUP_SECONDS = 2.0  # the next message of a stopped session starts within this of its ack


@pytest.fixture(scope="module")
def stack():
    env = {
        "ASSISTANT_BACKEND": "slow",
        "ASSISTANT_DELAY_SECONDS": f"{DELAY_SECONDS:g}",
        "HEARTBEAT_SECONDS": "1",
        "AUTH_TOKEN_SECRET": SECRET,
        "RATE_LIMIT_MESSAGES": "0",
        "RATE_LIMIT_IP_MESSAGES": "0",
    }
    args = ["--quiet"]
    for name, value in env.items():
        args += ["--env", f"{name}={value}"]
    with LocalStackProcess(extra_args=args) as running:
        yield running


@pytest.fixture(scope="module")
def latencies():
    """(what, seconds) of every stop, printed as p50/max when the module ends."""
    recorded: List[Tuple[str, float]] = []
    yield recorded
    if recorded:
        values = [seconds for _, seconds in recorded]
        print(
            f"\nstop -> terminal over {len(values)} stops: p50 {statistics.median(values) * 1000:.0f} ms,"
            f" max {max(values) * 1000:.0f} ms"
        )
        for what, seconds in recorded:
            print(f"  {what}: {seconds * 1000:.0f} ms")


class Tab:
    """One WebSocket connection of a signed-in shopper, with every frame it got and when."""

    def __init__(self, stack: LocalStackProcess, subject: str = "shopper"):
        self.uri = f"{stack.websocket_url}?token={auth.sign(SECRET, subject, 3600)}"
        self.received: List[Tuple[float, Dict[str, Any]]] = []

    async def open(self) -> "Tab":
        self.ws = await websockets.connect(self.uri, max_queue=None, open_timeout=30)
        self.reader = asyncio.ensure_future(self._read())
        return self

    async def _read(self) -> None:
        try:
            async for raw in self.ws:
                self.received.append((time.monotonic(), json.loads(raw)))
        except ConnectionClosed:
            pass

    async def close(self) -> None:
        await self.ws.close()
        await self.reader

    async def send(self, frame: Dict[str, Any]) -> float:
        """Send; the monotonic time just before it left."""
        at = time.monotonic()
        await self.ws.send(json.dumps(frame))
        return at

    @property
    def frames(self) -> List[Dict[str, Any]]:
        return [frame for _, frame in self.received]

    def of(self, message_id: str, *types: str) -> List[Dict[str, Any]]:
        return [f for f in self.frames if f.get("message_id") == message_id and (not types or f["type"] in types)]

    def first(self, predicate: Callable[[Dict[str, Any]], bool], start: int = 0) -> Optional[Tuple[float, Dict]]:
        return next(((at, f) for at, f in self.received[start:] if predicate(f)), None)

    async def until(
        self, predicate: Callable[[Dict[str, Any]], bool], timeout: float, start: int = 0
    ) -> Tuple[float, Dict[str, Any]]:
        """The first frame (from index ``start``) ``predicate`` accepts, with its arrival time."""
        deadline = time.monotonic() + timeout
        while (found := self.first(predicate, start)) is None:
            if time.monotonic() > deadline:
                raise AssertionError(f"no such frame within {timeout:.0f} s; got {self.frames[start:]}")
            await asyncio.sleep(0.01)
        return found

    async def ask(self, text: str, session_id: Optional[str] = None) -> Dict[str, Any]:
        """sendMessage, then its ack."""
        client_message_id = uuid.uuid4().hex[:16]
        frame = {"action": "sendMessage", "message": text, "client_message_id": client_message_id}
        if session_id:
            frame["session_id"] = session_id
        await self.send(frame)
        _, ack = await self.until(lambda f: f["type"] == "ack" and f["client_message_id"] == client_message_id, 30)
        return ack

    async def picked_up(self, message_id: str, timeout: float = 60) -> float:
        at, _ = await self.until(lambda f: f.get("message_id") == message_id and f["type"] == "status", timeout)
        return at

    async def terminal(self, message_id: str, timeout: float) -> Tuple[float, Dict[str, Any]]:
        return await self.until(is_terminal_of(message_id), timeout)

    async def stop(self, session_id: str, message_id: str) -> float:
        return await self.send({"action": "stop", "session_id": session_id, "message_id": message_id})

    async def refusal(self, frame: Dict[str, Any], timeout: float = 10) -> Dict[str, Any]:
        """Send a frame that gets an error outside any message; that error."""
        start = len(self.received)
        await self.send(frame)
        _, error = await self.until(lambda f: f["type"] == "error" and "message_id" not in f, timeout, start)
        return error


def is_terminal_of(message_id: str) -> Callable[[Dict[str, Any]], bool]:
    return lambda f: f.get("message_id") == message_id and f["type"] in ("response", "error")


def joined_chunks(tab: Tab, message_id: str) -> str:
    chunks = sorted(tab.of(message_id, "chunk"), key=lambda f: f["seq"])
    assert [c["seq"] for c in chunks] == list(range(len(chunks))), chunks
    return "".join(c["delta"] for c in chunks)


def assert_stopped_terminal(tab: Tab, message_id: str, content: str) -> Dict[str, Any]:
    """Exactly one terminal for the message: a stopped response with ``content``; nothing of the
    message after it."""
    terminals = tab.of(message_id, "response", "error")
    assert len(terminals) == 1, terminals
    [terminal] = terminals
    assert terminal["type"] == "response" and terminal.get("stopped") is True, terminal
    assert terminal["content"] == content, (terminal["content"], content)
    assert tab.of(message_id)[-1] is terminal, tab.of(message_id)  # no chunk or status after it
    return terminal


def assert_every_cursor_once(tab: Tab, first: int = 1) -> None:
    cursors = sorted(f["cursor"] for f in tab.frames if "cursor" in f and f["type"] != "resumed")
    assert cursors == list(range(first, first + len(cursors))), cursors


def not_running(frame: Dict[str, Any]) -> bool:
    return frame["type"] == "error" and frame["code"] == "not_running" and "message_id" not in frame


# --- (a) a running reply ------------------------------------------------------------------


def test_stop_after_two_chunks_ends_the_reply_with_what_was_streamed_on_every_tab(stack, latencies):
    async def scenario():
        tab = await Tab(stack).open()
        ack = await tab.ask("running shoes under 100")
        session_id, message_id = ack["session_id"], ack["message_id"]
        # A second tab of the same shopper resumes the session while the reply is on its way.
        other = await Tab(stack).open()
        await other.send({"action": "resume", "session_id": session_id, "after": 0})
        await other.until(lambda f: f["type"] == "resumed", 10)
        picked_up = await tab.picked_up(message_id)
        await tab.until(lambda f: f.get("message_id") == message_id and f["type"] == "chunk" and f["seq"] == 1, 60)

        chunks_seen = len(tab.of(message_id, "chunk"))
        stopped_at = await tab.stop(session_id, message_id)
        arrived, terminal = await tab.terminal(message_id, 10)
        latencies.append((f"(a) running, {chunks_seen} chunks received at the stop", arrived - stopped_at))
        other_arrived, _ = await other.terminal(message_id, 10)
        latencies.append(("(a) the same stop, seen by the second tab", other_arrived - stopped_at))

        # Stopping it again: it has ended.
        assert not_running(await tab.refusal({"action": "stop", "session_id": session_id, "message_id": message_id}))

        # The next message starts at once (the stopped reply does not hold the session for its
        # remaining ~2.5 s) and is answered whole.
        next_ack = await tab.ask("tents", session_id)
        acked_at = time.monotonic()
        next_id = next_ack["message_id"]
        started = await tab.picked_up(next_id, 30)
        answered, response = await tab.terminal(next_id, DELAY_SECONDS + 10)
        await other.terminal(next_id, 10)
        await asyncio.sleep(0.5)
        await tab.close()
        await other.close()
        return locals()

    run = asyncio.run(scenario())
    tab, other, message_id, next_id = run["tab"], run["other"], run["message_id"], run["next_id"]
    latency = run["arrived"] - run["stopped_at"]
    assert latency < STOP_BOUND_SECONDS, latency
    assert run["other_arrived"] - run["stopped_at"] < STOP_BOUND_SECONDS
    streamed = joined_chunks(tab, message_id)
    assert len(tab.of(message_id, "chunk")) >= 2
    assert_stopped_terminal(tab, message_id, streamed)
    # The second tab got the same frames of the message (replayed or live), each once.
    assert joined_chunks(other, message_id) == streamed
    assert_stopped_terminal(other, message_id, streamed)
    assert run["terminal"]["products"] == []

    response = run["response"]
    assert response["type"] == "response" and not response.get("stopped"), response
    assert response["content"] and joined_chunks(tab, next_id) == response["content"]
    assert [f["type"] for f in other.of(next_id, "response", "error")] == ["response"]
    pickup_wait = run["started"] - run["acked_at"]
    assert pickup_wait < PROMPT_PICKUP_SECONDS, pickup_wait
    # Before the stopped reply would have ended by itself.
    assert run["started"] < run["picked_up"] + DELAY_SECONDS, run["started"] - run["picked_up"]
    assert run["answered"] - run["acked_at"] < DELAY_SECONDS + 3
    answer_seconds = run["answered"] - run["acked_at"]
    print(
        f"\n(a) stop after {len(tab.of(message_id, 'chunk'))} chunks: terminal in {latency * 1000:.0f} ms;"
        f" next message picked up {pickup_wait:.2f} s after its ack, answered in {answer_seconds:.1f} s"
    )
    assert_every_cursor_once(tab)
    assert_every_cursor_once(other)


# --- (b) a queued message ------------------------------------------------------------------


def test_stop_of_a_message_queued_behind_a_long_reply_never_runs_it(stack, latencies):
    async def scenario():
        tab = await Tab(stack).open()
        first = await tab.ask("show me backpacks")
        session_id = first["session_id"]
        await tab.picked_up(first["message_id"])
        queued = await tab.ask("tents", session_id)
        stopped_at = await tab.stop(session_id, queued["message_id"])
        arrived, terminal = await tab.terminal(queued["message_id"], 10)
        latencies.append(("(b) queued", arrived - stopped_at))
        first_done, response = await tab.terminal(first["message_id"], DELAY_SECONDS + 20)
        # Its SQS message is picked up once the first reply ends: it must end there.
        deadline = time.monotonic() + 20
        while not already_ended(stack, queued["message_id"]) and time.monotonic() < deadline:
            await asyncio.sleep(0.2)
        await asyncio.sleep(0.5)
        ended = await tab.refusal({"action": "stop", "session_id": session_id, "message_id": first["message_id"]})
        await tab.close()
        return locals()

    run = asyncio.run(scenario())
    tab, queued, first = run["tab"], run["queued"], run["first"]
    latency = run["arrived"] - run["stopped_at"]
    assert latency < STOP_BOUND_SECONDS, latency
    assert_stopped_terminal(tab, queued["message_id"], "")
    assert [f["type"] for f in tab.of(queued["message_id"])] == ["ack", "response"]  # no status, no chunk
    assert already_ended(stack, queued["message_id"]), "the stopped message's pickup was not logged"
    response = run["response"]
    assert response["type"] == "response" and not response.get("stopped"), response
    assert joined_chunks(tab, first["message_id"]) == response["content"] != ""
    assert not_running(run["ended"]), run["ended"]  # an ended message
    assert_every_cursor_once(tab)
    print(f"\n(b) queued message stopped: terminal in {latency * 1000:.0f} ms")


def already_ended(stack: LocalStackProcess, message_id: str) -> bool:
    return any(
        line["type"] == "LOG"
        and '"event": "stopped_before_pickup"' in line["message"]
        and message_id in line["message"]
        for line in stack.log_lines("chat_processor")
    )


# --- (c) stops that cannot apply -----------------------------------------------------------


def test_stop_refusals(stack, latencies):
    async def scenario():
        alice = await Tab(stack, "alice").open()
        ack = await alice.ask("hello")
        session_id, message_id = ack["session_id"], ack["message_id"]
        mallory = await Tab(stack, "mallory").open()
        refusals = {
            "unknown message": await alice.refusal(
                {"action": "stop", "session_id": session_id, "message_id": str(uuid.uuid4())}
            ),
            "another owner's session": await mallory.refusal(
                {"action": "stop", "session_id": session_id, "message_id": message_id}
            ),
            "made-up session": await alice.refusal(
                {"action": "stop", "session_id": "A" * 22, "message_id": message_id}
            ),
            "no message_id": await alice.refusal({"action": "stop", "session_id": session_id}),
        }
        # Mallory's attempt changed nothing: the message is still Alice's to stop.
        await alice.picked_up(message_id)
        await asyncio.sleep(0.5)
        assert not alice.of(message_id, "response", "error")
        stopped_at = await alice.stop(session_id, message_id)
        arrived, _ = await alice.terminal(message_id, 10)
        latencies.append(("(c) running, wait phase, after a refused stop", arrived - stopped_at))
        await asyncio.sleep(0.5)
        await alice.close()
        await mallory.close()
        return refusals, alice, message_id, arrived - stopped_at

    refusals, alice, message_id, latency = asyncio.run(scenario())
    assert not_running(refusals["unknown message"]), refusals
    assert refusals["another owner's session"]["code"] == "invalid_session", refusals
    assert refusals["made-up session"]["code"] == "invalid_session", refusals
    assert refusals["no message_id"]["code"] == "invalid_message", refusals
    assert not alice.of(message_id, "error")
    assert latency < STOP_BOUND_SECONDS, latency
    assert_stopped_terminal(alice, message_id, "")


# --- (d) the long wait before the first token ---------------------------------------------


def test_stop_during_the_wait_before_the_first_chunk_ends_within_a_second(stack, latencies):
    rng = random.Random()
    seed = rng.randrange(2**32)
    rng.seed(seed)
    waits = [rng.uniform(0.3, FIRST_CHUNK_SECONDS - 1.5) for _ in range(3)]
    print(f"\n(d) seed {seed}: stops {', '.join(f'{w:.2f}' for w in waits)} s after pickup")

    async def one(wait: float):
        tab = await Tab(stack).open()
        ack = await tab.ask("hiking boots")
        session_id, message_id = ack["session_id"], ack["message_id"]
        await tab.picked_up(message_id)
        await asyncio.sleep(wait)
        assert not tab.of(message_id, "chunk"), "the first chunk came before the stop"
        stopped_at = await tab.stop(session_id, message_id)
        arrived, _ = await tab.terminal(message_id, 10)
        await asyncio.sleep(1.5)  # nothing more of the message may come
        await tab.close()
        return tab, message_id, arrived - stopped_at

    async def scenario():
        return await asyncio.gather(*(one(wait) for wait in waits))

    for (tab, message_id, latency), wait in zip(asyncio.run(scenario()), waits, strict=True):
        latencies.append((f"(d) wait phase, {wait:.1f} s after pickup", latency))
        assert latency < STOP_BOUND_SECONDS, latency
        assert_stopped_terminal(tab, message_id, "")
        assert not tab.of(message_id, "chunk")
        assert_every_cursor_once(tab)
