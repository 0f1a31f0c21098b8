"""A resume storm on one real local stack: many clients drop their sockets mid-reply, come back
after a random pause and resume; nothing is lost and nothing arrives twice.

Each of ``CLIENTS`` clients has a session of its own. Per round it sends a message whose reply
streams for about ``REPLY_SECONDS`` (the ``slow`` backend: ~70 % of the delay before the first
chunk, heartbeats every ``HEARTBEAT_SECONDS`` meanwhile, then the catalog's lines as chunks),
aborts its TCP connection (no close frame) at a random moment of the reply (a coin picks the
wait before the first chunk or the streaming of the chunks, then a uniform moment in it),
reconnects after a random 0-``RECONNECT_MAX_SECONDS`` pause and sends ``resume`` with the
highest cursor up to which it has every frame. Two rounds, in the same session.

Oracle, per client, over the frames of all its successive connections:

- every acked message ends in exactly one terminal frame (a whole ``response``);
- every cursor 1..head cursor of the session (read from the session's head in DynamoDB) is
  received exactly once; a ``skipped`` frame counts as received for its cursor;
- no error frame outside a message (rate limits, internal errors);
- chat_processor logged no ``drop`` event.

The randomness is seeded; the seed is printed. ``RESUME_STORM_SEED=<int>`` replays a run,
``RESUME_STORM_CLIENTS`` and ``RESUME_STORM_RECONNECT_MAX`` change the size of the storm.
"""

import asyncio
import json
import os
import random
import statistics
import time
from collections import Counter
from typing import Any, Callable, Dict, List, Optional, Tuple

import pytest
import websockets
from websockets.exceptions import ConnectionClosed

from tests.support import LocalStackProcess

pytestmark = pytest.mark.timeout(240)

CLIENTS = int(os.environ.get("RESUME_STORM_CLIENTS", "30"))
ROUNDS = 2
REPLY_SECONDS = 3.0  # ASSISTANT_DELAY_SECONDS of the slow backend: the whole reply
FIRST_CHUNK_SECONDS = 0.7 * REPLY_SECONDS  # the slow backend's wait before the first chunk
STREAM_SECONDS = REPLY_SECONDS - FIRST_CHUNK_SECONDS  # then the catalog's ~7 lines
HEARTBEAT_SECONDS = 0.5  # status frames during the wait before the first chunk
RECONNECT_MAX_SECONDS = float(os.environ.get("RESUME_STORM_RECONNECT_MAX", "5"))
# Each client's whole run (two rounds) must end within this; the queue is shared, so late
# pickups (30 replies, 12 processor environments) count in it.
CLIENT_TIMEOUT_SECONDS = 90
GAP_WAIT_SECONDS = 3.0  # how long a gap below the last frame may stay open at the end
SESSIONS_TABLE = "shopping-assistant-sessions"

STACK_ARGS = [
    "--quiet",
    "--pollers",
    "12",
    "--concurrency",
    "12",
    "--max-environments",
    "0",
    "--env",
    "ASSISTANT_BACKEND=slow",
    "--env",
    f"ASSISTANT_DELAY_SECONDS={REPLY_SECONDS:g}",
    "--env",
    f"HEARTBEAT_SECONDS={HEARTBEAT_SECONDS:g}",
    "--env",
    "RATE_LIMIT_MESSAGES=0",
    "--env",
    "RATE_LIMIT_IP_MESSAGES=0",
]

QUESTIONS = ["running shoes under 100", "tents", "show me backpacks", "best rated headphones", "hiking boots"]


def storm_seed() -> int:
    value = os.environ.get("RESUME_STORM_SEED")
    return int(value) if value else random.SystemRandom().randrange(2**32)


class StormClient:
    """One shopper: a session, and the frames of every connection it has had, in arrival order."""

    def __init__(self, index: int, uri: str, seed: int):
        self.index, self.uri = index, uri
        self.rng = random.Random(f"{seed}/{index}")  # per client: the same draws whatever the scheduling
        self.received: List[Tuple[int, float, Dict[str, Any]]] = []  # (connection number, time, frame)
        self.connection = 0
        self.ws: Any = None
        self.reader: Optional[asyncio.Task] = None
        self.session_id: Optional[str] = None
        self.acked: List[str] = []  # message ids, in ack order
        self.events: List[str] = []  # what happened, for a failure message
        self.gaps_at_drop = 0  # drops with a frame missing below the last one seen

    async def connect(self) -> None:
        self.connection += 1
        self.ws = await websockets.connect(self.uri, max_queue=None, open_timeout=30)
        self.reader = asyncio.ensure_future(self._read(self.ws, self.connection))

    async def _read(self, ws, number: int) -> None:
        try:
            async for raw in ws:
                self.received.append((number, time.monotonic(), json.loads(raw)))
        except ConnectionClosed:
            pass

    async def drop(self) -> None:
        """Lose the socket as a network does: no close frame, the TCP connection just ends."""
        self.ws.transport.abort()
        await self.reader

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()
            await self.reader

    async def send(self, frame: Dict[str, Any]) -> None:
        await self.ws.send(json.dumps(frame))

    # --- what was received -------------------------------------------------------------

    def frames(self) -> List[Dict[str, Any]]:
        return [frame for _, _, frame in self.received]

    def cursors(self) -> List[int]:
        """Every session cursor received (``resumed`` carries the last cursor, not a frame's)."""
        return [f["cursor"] for f in self.frames() if "cursor" in f and f.get("type") != "resumed"]

    def contiguous(self) -> int:
        """The highest cursor up to which every frame was received: the ``after`` of a resume."""
        have, cursor = set(self.cursors()), 0
        while cursor + 1 in have:
            cursor += 1
        return cursor

    def terminals(self, message_id: str) -> List[Dict[str, Any]]:
        return [f for f in self.frames() if f.get("message_id") == message_id and f["type"] in ("response", "error")]

    async def until(self, predicate: Callable[[], bool], timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                raise AssertionError(f"client {self.index}: no {what} within {timeout:.0f} s; {self.events}")
            await asyncio.sleep(0.02)

    # --- one round ----------------------------------------------------------------------

    async def round(self, number: int) -> None:
        client_message_id = f"c{self.index}-r{number}"
        frame = {"action": "sendMessage", "message": self.rng.choice(QUESTIONS), "client_message_id": client_message_id}
        if self.session_id:
            frame["session_id"] = self.session_id
        await self.send(frame)

        def ack() -> Optional[Dict[str, Any]]:
            return next(
                (f for f in self.frames() if f["type"] == "ack" and f["client_message_id"] == client_message_id), None
            )

        await self.until(lambda: ack() is not None, 30, f"ack of round {number}")
        message_id, self.session_id = ack()["message_id"], ack()["session_id"]
        self.acked.append(message_id)

        def picked_up() -> bool:
            return any(f.get("message_id") == message_id and f["type"] == "status" for f in self.frames())

        await self.until(picked_up, 60, f"pickup of round {number}")
        # Half the drops fall in the wait before the first chunk (heartbeats only), half while
        # the chunks stream (a few of those after the reply has ended).
        streaming = self.rng.random() < 0.5
        if streaming:
            phase, drop_after = "streaming", self.rng.uniform(0, STREAM_SECONDS + 0.2)
        else:
            phase, drop_after = "waiting", self.rng.uniform(0, FIRST_CHUNK_SECONDS)
        pause = self.rng.uniform(0, RECONNECT_MAX_SECONDS)
        if streaming:

            def streams() -> bool:
                return any(f.get("message_id") == message_id and f["type"] == "chunk" for f in self.frames())

            await self.until(lambda: streams() or bool(self.terminals(message_id)), 60, "first chunk")
        await asyncio.sleep(drop_after)
        ended_before_drop = bool(self.terminals(message_id))
        chunks_before_drop = sum(1 for f in self.frames() if f.get("message_id") == message_id and f["type"] == "chunk")
        if self.contiguous() != max(self.cursors(), default=0):
            self.gaps_at_drop += 1
        await self.drop()
        self.events.append(
            f"r{number}: dropped {drop_after:.2f} s into the {phase} ({chunks_before_drop} chunks,"
            f" ended first: {ended_before_drop}),"
            f" had cursor {self.contiguous()}/{max(self.cursors(), default=0)}, back after {pause:.2f} s"
        )
        await asyncio.sleep(pause)
        await self.connect()
        connection = self.connection
        await self.send({"action": "resume", "session_id": self.session_id, "after": self.contiguous()})

        def resumed() -> bool:
            return any(n == connection and f["type"] == "resumed" for n, _, f in self.received)

        await self.until(lambda: resumed() and bool(self.terminals(message_id)), 60, f"end of round {number}")
        self.events.append(f"r{number}: resumed on connection {connection}")

    async def run(self) -> float:
        started = time.monotonic()
        await self.connect()
        for number in range(1, ROUNDS + 1):
            await self.round(number)
        # A gap below the last frame (a frame stored late) closes within a second or two.
        last = max(self.cursors())
        await self.until(lambda: self.contiguous() >= last, GAP_WAIT_SECONDS, "gap closed")
        return time.monotonic() - started


def head_cursor(stack: LocalStackProcess, session_id: str) -> int:
    """The session's last cursor taken, from its head (``<id>#log``)."""
    item = stack.aws_client("dynamodb").get_item(
        TableName=SESSIONS_TABLE, Key={"session_id": {"S": f"{session_id}#log"}}, ConsistentRead=True
    )["Item"]
    return int(item["cursor"]["N"])


def drop_events(stack: LocalStackProcess) -> List[Dict[str, Any]]:
    lines = stack.log_lines("chat_processor")
    return [
        json.loads(line["message"]) for line in lines if line["type"] == "LOG" and '"event": "drop"' in line["message"]
    ]


def check_client(client: StormClient, last_cursor: int) -> List[str]:
    """What is wrong with one client's frames (empty: nothing)."""
    problems = []
    frames = client.frames()
    if len(client.acked) != ROUNDS:
        problems.append(f"{len(client.acked)} acks")
    for message_id in client.acked:
        terminals = client.terminals(message_id)
        if [t["type"] for t in terminals] != ["response"] or terminals[0].get("stopped"):
            problems.append(f"message {message_id}: terminals {terminals}")
            continue
        # Each chunk once: the deltas, in seq order, are the whole reply.
        chunks = sorted(
            (f for f in frames if f["type"] == "chunk" and f["message_id"] == message_id), key=lambda f: f["seq"]
        )
        if [c["seq"] for c in chunks] != list(range(len(chunks))):
            problems.append(f"message {message_id}: chunk seqs {[c['seq'] for c in chunks]}")
        elif "".join(c["delta"] for c in chunks) != terminals[0]["content"]:
            problems.append(f"message {message_id}: chunks do not make the content")
    counted = Counter(client.cursors())
    duplicates = sorted(cursor for cursor, times in counted.items() if times > 1)
    missing = sorted(set(range(1, last_cursor + 1)) - set(counted))
    beyond = sorted(cursor for cursor in counted if not 1 <= cursor <= last_cursor)
    if duplicates or missing or beyond:
        problems.append(f"cursors 1..{last_cursor}: duplicates {duplicates}, missing {missing}, beyond {beyond}")
    stray = [f for f in frames if f["type"] == "error" and "message_id" not in f]
    if stray:
        problems.append(f"errors outside a message: {stray}")
    return [f"client {client.index} (session {client.session_id}): {p}; {client.events}" for p in problems]


def test_thirty_clients_dropping_and_resuming_twice_get_every_frame_once():
    seed = storm_seed()
    print(f"\nresume storm: seed {seed} (RESUME_STORM_SEED={seed} replays it), {CLIENTS} clients, {ROUNDS} rounds,")
    print(
        f"  replies of {REPLY_SECONDS:g} s; each drop in the wait before the first chunk or while it streams;"
        f" back after 0-{RECONNECT_MAX_SECONDS:g} s"
    )
    started = time.monotonic()
    with LocalStackProcess(extra_args=STACK_ARGS) as stack:
        ready = time.monotonic() - started

        async def storm() -> Tuple[List[StormClient], List[Any]]:
            clients = [StormClient(index, stack.websocket_url, seed) for index in range(CLIENTS)]
            runs = [asyncio.wait_for(client.run(), CLIENT_TIMEOUT_SECONDS) for client in clients]
            outcomes = await asyncio.gather(*runs, return_exceptions=True)
            await asyncio.sleep(1.0)  # a frame that would arrive twice has time to
            await asyncio.gather(*(client.close() for client in clients), return_exceptions=True)
            return clients, outcomes

        storm_started = time.monotonic()
        clients, outcomes = asyncio.run(storm())
        storm_seconds = time.monotonic() - storm_started
        failed_runs = [
            f"client {c.index}: {o!r}" for c, o in zip(clients, outcomes, strict=True) if isinstance(o, BaseException)
        ]
        problems = list(failed_runs)
        for client in clients:
            if client.session_id is None:
                continue
            problems += check_client(client, head_cursor(stack, client.session_id))
        drops = drop_events(stack)

    durations = [o for o in outcomes if isinstance(o, float)]
    frames = [f for c in clients for f in c.frames()]
    kinds = Counter(f["type"] for f in frames)
    ended_first = sum("ended first: True" in e for c in clients for e in c.events)
    before_chunks = sum("(0 chunks" in e for c in clients for e in c.events)
    print(
        f"  stack ready in {ready:.1f} s; storm {storm_seconds:.1f} s; per client"
        f" median {statistics.median(durations) if durations else float('nan'):.1f} s,"
        f" max {max(durations, default=float('nan')):.1f} s"
    )
    print(
        f"  frames {dict(kinds)}; {len({c.session_id for c in clients})} sessions;"
        f" of {CLIENTS * ROUNDS} drops {before_chunks} came before the first chunk, {ended_first} after the end;"
        f" {sum(c.gaps_at_drop for c in clients)} drops with a gap below the last cursor"
    )
    assert not problems, "\n".join(problems[:20])
    assert not drops, drops
    assert len({c.session_id for c in clients}) == CLIENTS
    assert all(len(c.acked) == ROUNDS for c in clients)
