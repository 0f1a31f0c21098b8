"""Fault injection with loss accounting, on the local runtime.

Every scenario counts: acknowledged messages, terminal frames (response / error),
deliberate drops (``drop`` events in chat_processor's log, with message_id and reason)
and duplicates. It passes when every acknowledged message has exactly one terminal
frame or one logged drop, and nothing has two.
"""

import asyncio
import json
import time
import uuid
from collections import Counter, defaultdict
from typing import Dict, List

import pytest
import websockets

from tests.support import LocalStackProcess

pytestmark = pytest.mark.timeout(600)

BASE_ENV = {
    "ASSISTANT_BACKEND": "tests.faults:FaultyAssistant",
    "RATE_LIMIT_MESSAGES": "0",
    "MAX_RECEIVE_COUNT": "2",
}


def stack_args(visibility_timeout=2, pollers=6, **env):
    args = ["--quiet", "--visibility-timeout", str(visibility_timeout), "--pollers", str(pollers)]
    for name, value in {**BASE_ENV, **env}.items():
        args += ["--env", f"{name}={value}"]
    return args


class ChatClient:
    """One WebSocket client that remembers what it sent and every frame it got."""

    def __init__(self, uri: str):
        self.uri = uri
        self.acks: Dict[str, str] = {}  # client_message_id -> message_id
        self.sessions: Dict[str, str] = {}  # message_id -> session_id
        self.frames: Dict[str, List[dict]] = defaultdict(list)  # message_id -> frames
        self.closed = False

    async def open(self):
        self.ws = await websockets.connect(self.uri, max_queue=None)
        self.reader = asyncio.ensure_future(self._read())
        return self

    async def _read(self):
        try:
            async for raw in self.ws:
                frame = json.loads(raw)
                if frame.get("type") == "ack":
                    self.acks[frame["client_message_id"]] = frame["message_id"]
                    self.sessions[frame["message_id"]] = frame["session_id"]
                if frame.get("message_id"):
                    self.frames[frame["message_id"]].append(frame)
        except websockets.ConnectionClosed:
            pass

    async def send(self, text: str) -> str:
        client_id = uuid.uuid4().hex[:16]
        await self.ws.send(json.dumps({"action": "sendMessage", "message": text, "client_message_id": client_id}))
        return client_id

    async def resume(self, session_id: str, after: int = 0) -> None:
        await self.ws.send(json.dumps({"action": "resume", "session_id": session_id, "after": after}))

    async def wait_for_acks(self, count: int, timeout: float = 30):
        deadline = time.monotonic() + timeout
        while len(self.acks) < count and time.monotonic() < deadline:
            await asyncio.sleep(0.02)

    async def close(self):
        self.closed = True
        await self.ws.close()
        await self.reader

    def terminals(self, message_id: str) -> List[dict]:
        return [frame for frame in self.frames[message_id] if frame["type"] in ("response", "error")]


class Ledger:
    def __init__(self, stack: LocalStackProcess, clients: List[ChatClient]):
        self.stack, self.clients = stack, clients

    def acked(self) -> Dict[str, ChatClient]:
        return {message_id: client for client in self.clients for message_id in client.acks.values()}

    def drops(self) -> Counter:
        counted = Counter()
        for line in self.stack.log_lines("chat_processor"):
            if line["type"] == "LOG" and '"event": "drop"' in line["message"]:
                drop = json.loads(line["message"])
                # An expired message the client was told about ended in its error frame.
                if not drop.get("client_told"):
                    counted[drop.get("message_id")] += 1
        return counted

    def settle(self, timeout: float = 300) -> dict:
        """Wait until every acked message has ended, then return the counts."""
        deadline = time.monotonic() + timeout
        while True:
            report = self.count()
            if report["unfinished"] == 0 or time.monotonic() > deadline:
                return report
            time.sleep(0.25)

    def count(self) -> dict:
        drops = self.drops()
        report = Counter(acked=0, terminal=0, dropped=0, duplicates=0, unfinished=0)
        for message_id, client in self.acked().items():
            report["acked"] += 1
            ends = len(client.terminals(message_id)) + drops[message_id]
            report["terminal"] += len(client.terminals(message_id))
            report["dropped"] += drops[message_id]
            if ends == 0:
                report["unfinished"] += 1
            elif ends > 1:
                report["duplicates"] += 1
        return dict(report)


def assert_accounted(report: dict, expect_acked: int):
    assert report["acked"] == expect_acked, report
    assert report["unfinished"] == 0, report
    assert report["duplicates"] == 0, report
    assert report["terminal"] + report["dropped"] == report["acked"], report


async def open_clients(stack, count: int) -> List[ChatClient]:
    return list(await asyncio.gather(*(ChatClient(stack.websocket_url).open() for _ in range(count))))


async def queue_then_release(stack, texts: List[str], hold_seconds: float = 0):
    """One client queues ``texts`` while the poller is stopped; after ``hold_seconds`` the
    poller starts and every message is accounted for."""
    [client] = await open_clients(stack, 1)
    for text in texts:
        await client.send(text)
    await client.wait_for_acks(len(texts))
    await asyncio.sleep(hold_seconds)
    await asyncio.to_thread(stack.control_pollers, "start")
    report = await asyncio.to_thread(Ledger(stack, [client]).settle)
    await client.close()
    return client, report


def print_report(name, report):
    print(f"{name}: {report}")


# --- the scenarios -----------------------------------------------------------------


def test_many_clients_at_once_lose_nothing():
    clients_count, per_client = 50, 20
    with LocalStackProcess(extra_args=stack_args(pollers=8)) as stack:

        async def scenario():
            clients = await open_clients(stack, clients_count)
            await asyncio.gather(*(c.send(f"load {i}") for c in clients for i in range(per_client)))
            for client in clients:
                await client.wait_for_acks(per_client)
            report = await asyncio.to_thread(Ledger(stack, clients).settle)
            for client in clients:
                await client.close()
            return report

        report = asyncio.run(scenario())
        print_report("50x20", report)
        assert_accounted(report, clients_count * per_client)
        assert report["dropped"] == 0


def test_failing_assistant_retries_then_answers_or_ends_in_processing_failed():
    with LocalStackProcess(extra_args=stack_args()) as stack:

        async def scenario():
            [client] = await open_clients(stack, 1)
            once = [await client.send(f"fail-once {i}") for i in range(5)]
            always = [await client.send(f"fail-always {i}") for i in range(3)]
            await client.wait_for_acks(8)
            report = await asyncio.to_thread(Ledger(stack, [client]).settle)
            await client.close()
            return client, once, always, report

        client, once, always, report = asyncio.run(scenario())
        assert_accounted(report, 8)
        for client_id in once:
            [terminal] = client.terminals(client.acks[client_id])
            assert terminal["type"] == "response"
        for client_id in always:
            [terminal] = client.terminals(client.acks[client_id])
            assert (terminal["type"], terminal["code"]) == ("error", "processing_failed")
        deadline = time.monotonic() + 20
        while stack.queue_depths()["ChatProcessingQueue-dlq.fifo"] < 3 and time.monotonic() < deadline:
            time.sleep(0.5)
        assert stack.queue_depths() == {"ChatProcessingQueue.fifo": 0, "ChatProcessingQueue-dlq.fifo": 3}


def test_crash_mid_batch_redelivers_only_the_failed_records():
    with LocalStackProcess(extra_args=stack_args(pollers=1, SQS_BATCH_SIZE="5")) as stack:
        stack.control_pollers("stop")  # let full batches build up

        texts = [f"fail-once {i}" if i % 5 == 2 else f"fine {i}" for i in range(20)]
        client, report = asyncio.run(queue_then_release(stack, texts))
        assert_accounted(report, 20)
        starts = Counter()
        for message_id, frames in client.frames.items():
            starts[message_id] = sum(1 for f in frames if f["type"] == "status" and f.get("elapsed_ms") == 0)
        retried = {mid for mid, count in starts.items() if count > 1}
        failing = {
            mid
            for mid, frames in client.frames.items()
            if any(f["type"] == "response" and "fail-once" in f["content"] for f in frames)
        }
        assert len(failing) == 4
        assert retried == failing  # the good records of a failed batch ran exactly once
        sizes = [line for line in stack.log_lines("chat_processor") if line["type"] == "START"]
        assert len(sizes) < 20  # records really arrived in batches


def processed_or_dropped(stack) -> int:
    """Messages chat_processor has finished with: answered, or dropped."""
    events = ('"event": "answered"', '"event": "drop"')
    lines = stack.log_lines("chat_processor")
    return sum(1 for line in lines if line["type"] == "LOG" and any(event in line["message"] for event in events))


def test_clients_that_leave_resume_every_kept_reply():
    """A message whose client left, before pickup or while it was processed, is answered and
    its frames kept: a client that resumes the session gets both replies, nothing is dropped."""
    with LocalStackProcess(extra_args=stack_args()) as stack:

        async def scenario():
            clients = await open_clients(stack, 10)
            for client in clients:
                await client.send("slow=1 leaving while processing")
                await client.send("leaving while queued")
                await client.wait_for_acks(2)
            await asyncio.sleep(0.3)
            for client in clients:
                await client.close()
            deadline = time.monotonic() + 120
            while await asyncio.to_thread(processed_or_dropped, stack) < 20 and time.monotonic() < deadline:
                await asyncio.sleep(0.25)
            # Each session is resumed from 0 on a new connection: what it kept is replayed.
            resumed = await open_clients(stack, 10)
            for old, new in zip(clients, resumed, strict=True):
                for session_id in old.sessions.values():
                    await new.resume(session_id)
            report = await asyncio.to_thread(Ledger(stack, clients + resumed).settle)
            for client in resumed:
                await client.close()
            return report, clients, resumed

        report, clients, resumed = asyncio.run(scenario())
        assert_accounted(report, 20)
        assert report["dropped"] == 0, report
        for client in resumed:
            replies = [t for m in client.acks.values() for t in client.terminals(m)]
            assert len(replies) == 2 and all(t["type"] == "response" for t in replies), replies
        reports = [line for line in stack.log_lines("chat_processor") if line["type"] == "REPORT"]
        assert not any(line["error"] for line in reports)
        assert stack.queue_depths() == {"ChatProcessingQueue.fifo": 0, "ChatProcessingQueue-dlq.fifo": 0}


def test_poller_restart_mid_load_loses_nothing():
    with LocalStackProcess(extra_args=stack_args(pollers=4)) as stack:

        async def scenario():
            clients = await open_clients(stack, 10)
            for round_number in range(3):
                sends = (c.send(f"slow=0.05 round {round_number} {i}") for c in clients for i in range(5))
                await asyncio.gather(*sends)
                await asyncio.to_thread(stack.control_pollers, "stop")
                await asyncio.sleep(0.3)
                await asyncio.to_thread(stack.control_pollers, "start")
            for client in clients:
                await client.wait_for_acks(15)
            report = await asyncio.to_thread(Ledger(stack, clients).settle)
            for client in clients:
                await client.close()
            return report

        report = asyncio.run(scenario())
        assert_accounted(report, 150)
        assert report["dropped"] == 0


# Each message of the backlog is answered and kept for its resume (nobody watches: one chunk, no
# status); the new client's message waits behind it in the FIFO queue's order.
BACKLOG_REPLY_BOUND_SECONDS = 60


def answered_count(stack) -> int:
    lines = stack.log_lines("chat_processor")
    return sum(1 for line in lines if line["type"] == "LOG" and '"event": "answered"' in line["message"])


def test_a_backlog_from_closed_connections_is_answered_and_kept_and_a_new_client_still_answered():
    with LocalStackProcess(extra_args=stack_args(pollers=4, visibility_timeout=30, SQS_BATCH_SIZE="10")) as stack:
        stack.control_pollers("stop")

        async def scenario():
            gone = await open_clients(stack, 20)
            await asyncio.gather(*(c.send(f"stale {i}") for c in gone for i in range(25)))
            for client in gone:
                await client.wait_for_acks(25)
                await client.close()
            stack.control_pollers("start")
            [fresh] = await open_clients(stack, 1)
            started = time.perf_counter()
            await fresh.send("am I answered?")
            await fresh.wait_for_acks(1)
            message_id = next(iter(fresh.acks.values()))
            while not fresh.terminals(message_id) and time.perf_counter() - started < 120:
                await asyncio.sleep(0.05)
            elapsed = time.perf_counter() - started
            deadline = time.monotonic() + 120
            while await asyncio.to_thread(answered_count, stack) < 501 and time.monotonic() < deadline:
                await asyncio.sleep(0.25)
            # A client that comes back gets its kept reply: one terminal, nothing dropped.
            [back] = await open_clients(stack, 1)
            session_id = gone[0].sessions[next(iter(gone[0].acks.values()))]
            await back.resume(session_id)
            await back.wait_for_acks(1)
            report = await asyncio.to_thread(Ledger(stack, [back, fresh]).settle, 60)
            await fresh.close()
            await back.close()
            return report, elapsed, fresh.terminals(message_id)

        report, elapsed, terminals = asyncio.run(scenario())
        print(f"reply behind a 500-message backlog of closed connections: {elapsed:.2f} s")
        assert [frame["type"] for frame in terminals] == ["response"]
        assert elapsed < BACKLOG_REPLY_BOUND_SECONDS
        assert answered_count(stack) == 501
        assert_accounted(report, 2)
        assert report["dropped"] == 0


def test_messages_older_than_the_ttl_are_not_processed():
    with LocalStackProcess(extra_args=stack_args(MESSAGE_TTL_SECONDS="1")) as stack:
        stack.control_pollers("stop")

        texts = [f"too late {i}" for i in range(5)]
        client, report = asyncio.run(queue_then_release(stack, texts, hold_seconds=1.5))
        assert_accounted(report, 5)
        for message_id in client.acks.values():
            assert [f["type"] for f in client.frames[message_id]] == ["ack", "error"]
            assert client.frames[message_id][-1]["code"] == "expired"
