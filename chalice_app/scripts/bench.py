#!/usr/bin/env python
"""Benchmark the chat path against a bare-WebSocket baseline measured in the same run.

    python chalice_app/scripts/bench.py [--quick] [--json out.json] [--uri ws://…] [--phases connect,ping]

The ``session`` phase sends 200 messages in one session (what a long conversation costs: its
first 20 against its last 20).

Starts local stacks on free ports (echo, then catalog assistant) unless ``--uri`` is
given, and a bare ``websockets`` ping/pong server on loopback as the baseline.
Prints a table (value and ratio to the baseline where one applies) and, with
``--json``, writes every figure. Memory is the whole stack's: the RSS of the stack's
process and all its descendants (the moto server and every execution environment),
at its peak while 50 connections are busy and with 2,000 idle connections held; the
table also shows how many execution environments were running then, and after the
stack's idle reaping (``--idle-environment``). Results go in docs/performance.md.

The ``storm`` phase holds 2,000 connections, closes them all at once and connects new
clients meanwhile (against the same connects just before). The ``slow`` phase builds one
session of about 400 KB, has three clients that never read resume it 12 times each (the
replays fill their buffers: the gateway answers the posts 429, as API Gateway does) and measures
another client's pings and a fresh connect meanwhile (against its pings just before).

The ``stop`` phase starts a stack with the slow backend (its delay fixed at
``STOP_DELAY_SECONDS``) and stops each reply while it runs: half during the wait for its
first token, half right after its first chunk; it measures from the ``stop`` frame to the
``response`` with ``stopped: true``.

On the local stacks every AWS call the functions make is counted where it is made (a
botocore hook in each execution environment, ``BENCH_COUNT_AWS_CALLS``, see
``localcloud/lambdaservice/bootstrap.py``), summed over each phase and printed per
message (per ping, per connection) by ``service.Operation``. The SQS event source's own
``ReceiveMessage``/``DeleteMessageBatch`` (the stack's poller, Lambda's on AWS) are not
counted.
"""

import argparse
import asyncio
import base64
import collections
import contextlib
import glob
import json
import os
import platform
import random
import shutil
import socket
import statistics
import sys
import tempfile
import time
from typing import Dict, Iterator, List, Optional, Tuple

import websockets

from localcloud.motoserver import free_port
from localcloud.process import LocalStackProcess

TERMINAL = ("response", "error")


def percentiles(samples: List[float]) -> Dict[str, float]:
    ordered = sorted(samples)
    if not ordered:
        return {}

    def at(q: float) -> float:
        return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]

    return {"n": len(ordered), "p50": at(0.5), "p95": at(0.95), "p99": at(0.99), "mean": statistics.fmean(ordered)}


# --- measurements (all against a WebSocket URI) ------------------------------------


# Connects made (and not counted) before the connect samples, then a pause: the stack's first
# $connect/$disconnect runs are cold (a new environment per concurrent $disconnect, as Lambda
# scales, each costing ~300 ms of CPU on this machine's 2 cores); the samples are the warm path.
WARMUP_CONNECTS = 20
WARMUP_SETTLE_SECONDS = 2.0


async def connect_times(uri: str, count: int, warmup: int = WARMUP_CONNECTS) -> List[float]:
    """ms from the upgrade request until the socket is open; each sample closes the previous socket."""
    for _ in range(warmup):
        async with websockets.connect(uri):
            pass
    if warmup:
        await asyncio.sleep(WARMUP_SETTLE_SECONDS)
    samples = []
    for _ in range(count):
        started = time.perf_counter()
        async with websockets.connect(uri):
            samples.append((time.perf_counter() - started) * 1000)
    return samples


async def ping_rtts(uri: str, count: int, frame: str = '{"action":"ping"}') -> List[float]:
    async with websockets.connect(uri) as ws:
        samples = []
        for _ in range(count):
            started = time.perf_counter()
            await ws.send(frame)
            await ws.recv()
            samples.append((time.perf_counter() - started) * 1000)
    return samples[min(5, len(samples) // 10) :]  # the first few warm the path


async def message_latencies(uri: str, count: int, text: str, one_session: bool = False) -> Dict[str, List[float]]:
    """Sequential messages on one connection: ms to ack, first status, final frame. Each message
    starts a new session, or (``one_session``) all continue the session the first ack names."""
    marks: Dict[str, List[float]] = {"ack": [], "status": [], "reply": []}
    session_id = None
    async with websockets.connect(uri) as ws:
        for index in range(count):
            started = time.perf_counter()
            frame = {"action": "sendMessage", "message": f"{text} {index}"}
            await ws.send(json.dumps({**frame, "session_id": session_id} if session_id else frame))
            seen = set()
            while True:
                frame = json.loads(await asyncio.wait_for(ws.recv(), 120))
                elapsed = (time.perf_counter() - started) * 1000
                kind = frame.get("type")
                if one_session and kind == "ack":
                    session_id = frame.get("session_id")
                if kind in ("ack", "status") and kind not in seen:
                    seen.add(kind)
                    marks[kind].append(elapsed)
                if kind == "error":  # a refused message is no latency sample: say what the stack answered
                    raise RuntimeError(f"message {index} was answered with an error: {frame}")
                if kind in TERMINAL:
                    marks["reply"].append(elapsed)
                    break
    return marks


# The stop phase's backend: the slow one at a fixed delay, so the first token comes after 70 % of it.
STOP_DELAY_SECONDS = 4.0
# A stop during the wait for the first token is sent this long (drawn evenly) after the first status.
STOP_WAIT_RANGE_SECONDS = (0.0, 1.0)


async def stop_latencies(uri: str, count: int, text: str, seed: int = 7) -> Dict[str, List[float]]:
    """Sequential messages on one connection (a new session each), each stopped while it runs:
    even ones during the wait for the first token, odd ones as soon as their first chunk arrives.
    ms from sending the stop to the ``response`` with ``stopped: true``."""
    marks: Dict[str, List[float]] = {"waiting": [], "streaming": []}
    draw = random.Random(seed)
    async with websockets.connect(uri) as ws:

        async def next_frame() -> Dict[str, object]:
            return json.loads(await asyncio.wait_for(ws.recv(), 120))

        for index in range(count):
            kind = "streaming" if index % 2 else "waiting"
            await ws.send(json.dumps({"action": "sendMessage", "message": f"{text} {index}"}))
            ack = await next_frame()
            if ack.get("type") != "ack":
                raise RuntimeError(f"message {index} was not acked: {ack}")
            wanted = "chunk" if kind == "streaming" else "status"
            while (frame := await next_frame()).get("type") != wanted:
                if frame.get("type") in TERMINAL:
                    raise RuntimeError(f"message {index} ended before its {wanted}: {frame}")
            if kind == "waiting":
                await asyncio.sleep(draw.uniform(*STOP_WAIT_RANGE_SECONDS))
            stop = {"action": "stop", "session_id": ack["session_id"], "message_id": ack["message_id"]}
            started = time.perf_counter()
            await ws.send(json.dumps(stop))
            while (frame := await next_frame()).get("type") not in TERMINAL:
                pass
            if not frame.get("stopped"):
                raise RuntimeError(f"message {index} ({kind}) was not stopped: {frame}")
            marks[kind].append((time.perf_counter() - started) * 1000)
    return marks


async def throughput(uri: str, clients: int, per_client: int, pid: Optional[int] = None) -> Dict[str, float]:
    """All clients send at once; counts every acked message's terminal frame (and the peak stack RSS)."""

    async def one_client(ws) -> Dict[str, int]:
        for index in range(per_client):
            await ws.send(json.dumps({"action": "sendMessage", "message": f"load {index}"}))
        acks = terminals = 0
        while terminals < per_client:
            frame = json.loads(await asyncio.wait_for(ws.recv(), 300))
            acks += frame.get("type") == "ack"
            terminals += frame.get("type") in TERMINAL
        return {"acks": acks, "terminals": terminals}

    sockets = [await websockets.connect(uri, max_queue=None) for _ in range(clients)]
    peak = {"rss_mb": 0.0, "processes": 0}
    done = asyncio.Event()

    async def sample():
        while not done.is_set():
            rss, processes = stack_memory(pid)
            if rss > peak["rss_mb"]:
                peak.update(rss_mb=rss, processes=processes)
            await asyncio.sleep(0.25)

    sampler = asyncio.ensure_future(sample())
    started = time.perf_counter()
    results = await asyncio.gather(*(one_client(ws) for ws in sockets))
    elapsed = time.perf_counter() - started
    done.set()
    await sampler
    for ws in sockets:
        await ws.close()
    total = clients * per_client
    terminals = sum(result["terminals"] for result in results)
    return {
        "clients": clients,
        "messages": total,
        "seconds": elapsed,
        "messages_per_second": terminals / elapsed,
        "lost": total - terminals,
        "peak_stack_rss_mb": peak["rss_mb"] if pid else float("nan"),
        "peak_processes": peak["processes"],
    }


async def idle_connections(uri: str, count: int, pid: Optional[int], reap_seconds: float) -> Dict[str, float]:
    before, _ = stack_memory(pid)
    sockets = []
    for _ in range(count):
        sockets.append(await websockets.connect(uri, ping_interval=None))
    await asyncio.sleep(1)
    held = sum(1 for ws in sockets if ws.state.name == "OPEN")
    after, processes = stack_memory(pid)
    reaped, reaped_processes = after, processes
    if pid and reap_seconds:
        await asyncio.sleep(reap_seconds)  # the connections stay open, the environments go idle
        reaped, reaped_processes = stack_memory(pid)
    for ws in sockets:
        await ws.close()
    return {
        "connections": held,
        "stack_rss_mb_before": before,
        "stack_rss_mb_after": after,
        "processes": processes,
        "stack_rss_mb_after_reaping": reaped,
        "processes_after_reaping": reaped_processes,
    }


async def disconnect_storm(uri: str, count: int, samples: int = 5) -> Dict[str, object]:
    """ms to connect a new client while ``count`` connections close at once, against the same
    connect with nothing else going on, measured just before (the baseline of this phase)."""

    async def connect_ms() -> float:
        started = time.perf_counter()
        async with websockets.connect(uri, open_timeout=120):
            return (time.perf_counter() - started) * 1000

    quiet = [await connect_ms() for _ in range(samples)]
    sockets = [await websockets.connect(uri, ping_interval=None, open_timeout=120) for _ in range(count)]
    await asyncio.sleep(1)
    closing = asyncio.ensure_future(asyncio.gather(*(ws.close() for ws in sockets)))
    await asyncio.sleep(0.2)  # the closes are in: their $disconnects are waiting to run
    during = [await connect_ms() for _ in range(samples)]
    await closing
    return {"closing": count, "quiet_ms": percentiles(quiet), "during_ms": percentiles(during)}


# The slow-readers phase: one session of this many echo replies of a 4,000-character message
# (about 8 KB of frames each: ~400 KB), replayed by resume to three clients that do not read.
SLOW_SESSION_MESSAGES = 50
SLOW_READERS = 3
# Resumes each slow reader sends, one every 0.5 s: 12 x 400 KB is more than a loopback socket's
# buffers hold (tcp_wmem's 4 MB; one 400 KB replay fits in them and stalls nothing locally).
SLOW_RESUMES = 12
SLOW_RESUME_SECONDS = float(os.environ.get("BENCH_SLOW_RESUME_SECONDS", "0.5"))
SLOW_PING_SECONDS = 15.0


async def slow_readers(uri: str, messages: int = SLOW_SESSION_MESSAGES) -> Dict[str, object]:
    """Another client's ping round trips (and a fresh connect) while three clients that stopped
    reading are replayed a large session, against the same pings just before."""
    session_id = await _large_session(uri, messages)
    async with websockets.connect(uri) as pinger:
        quiet = await _pings(pinger, SLOW_PING_SECONDS / 3)
        resume = json.dumps({"action": "resume", "session_id": session_id, "after": 0})
        readers = [await _not_reading(uri) for _ in range(SLOW_READERS)]
        asking = asyncio.gather(*(_send_every(reader, resume, SLOW_RESUMES, SLOW_RESUME_SECONDS) for reader in readers))
        started = time.perf_counter()
        async with websockets.connect(uri, open_timeout=60):
            connect_ms = (time.perf_counter() - started) * 1000
        during = await _pings(pinger, SLOW_PING_SECONDS)
        await asking
    for reader in readers:
        reader.close()
    return {
        "session_kb": messages * 8,
        "quiet_ping_ms": percentiles(quiet["rtts"]),
        "ping_ms": percentiles(during["rtts"]),
        "unanswered": during["unanswered"],
        "connect_ms": connect_ms,
    }


async def _not_reading(uri: str) -> socket.socket:
    """A client made by hand: a 4 KB receive buffer, upgraded, then never reading."""
    host, port = uri.split("//", 1)[1].split("/", 1)[0].rsplit(":", 1)
    path = "/" + uri.split("//", 1)[1].split("/", 1)[1]
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setblocking(False)
    loop = asyncio.get_running_loop()
    await loop.sock_connect(sock, (host, int(port)))
    key = base64.b64encode(os.urandom(16)).decode()
    request = (f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n")  # fmt: skip
    await loop.sock_sendall(sock, request.encode())
    head = b""
    while b"\r\n\r\n" not in head:
        head += await loop.sock_recv(sock, 1)  # byte by byte: nothing after the response is taken
    return sock


async def _send_every(sock: socket.socket, text: str, times: int, seconds: float) -> None:
    """Send ``text`` as a masked text frame ``times`` times, ``seconds`` apart."""
    payload, mask = text.encode(), os.urandom(4)
    masked = bytes(byte ^ mask[index % 4] for index, byte in enumerate(payload))
    assert len(payload) < 126, "a short frame: one length byte"
    for _ in range(times):
        await asyncio.get_running_loop().sock_sendall(sock, bytes([0x81, 0x80 | len(payload)]) + mask + masked)
        await asyncio.sleep(seconds)


async def _large_session(uri: str, messages: int) -> str:
    text = "x" * 3990  # one word: the echo reply comes in one chunk, then the response
    session_id = None
    async with websockets.connect(uri, max_size=None) as ws:
        for _ in range(messages):
            frame = {"action": "sendMessage", "message": text}
            await ws.send(json.dumps({**frame, "session_id": session_id} if session_id else frame))
            while True:
                reply = json.loads(await asyncio.wait_for(ws.recv(), 120))
                session_id = session_id or reply.get("session_id")
                if reply.get("type") in TERMINAL:
                    break
    return session_id


async def _pings(ws, seconds: float, late: float = 5.0) -> Dict[str, object]:
    """One ping at a time, each waited for (so no pong is taken for another's); how many took over ``late``."""
    rtts = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        started = time.perf_counter()
        await ws.send('{"action":"ping"}')
        await asyncio.wait_for(ws.recv(), 120)
        rtts.append((time.perf_counter() - started) * 1000)
        await asyncio.sleep(0.05)
    return {"rtts": rtts, "unanswered": sum(rtt > late * 1000 for rtt in rtts)}


def stack_memory(pid: Optional[int]) -> Tuple[float, int]:
    """``(RSS MB, process count)`` of ``pid`` and all its descendants (Linux /proc)."""
    if not pid:
        return float("nan"), 0
    children: Dict[int, List[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    parent = int(stat.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(parent, []).append(int(entry))
    total_kb, count, todo = 0, 0, [pid]
    while todo:
        current = todo.pop()
        try:
            with open(f"/proc/{current}/status") as status:
                total_kb += next((int(line.split()[1]) for line in status if line.startswith("VmRSS:")), 0)
            count += 1
        except OSError:
            continue
        todo += children.get(current, [])
    return total_kb / 1024, count


def backlog_drain(stack: LocalStackProcess, count: int) -> Dict[str, float]:
    """Messages from clients that left: how fast chat_processor clears them."""
    stack.control_pollers("stop")

    async def fill():
        ws = await websockets.connect(stack.websocket_url, max_queue=None)
        for index in range(count):
            await ws.send(json.dumps({"action": "sendMessage", "message": f"stale {index}"}))
        acks = 0
        while acks < count:
            acks += json.loads(await ws.recv()).get("type") == "ack"
        await ws.close()

    asyncio.run(fill())
    started = time.perf_counter()
    stack.control_pollers("start")
    while stack.queue_depths()["ChatProcessingQueue.fifo"] > 0:
        time.sleep(0.05)
    elapsed = time.perf_counter() - started
    return {"messages": count, "seconds": elapsed, "messages_per_second": count / elapsed}


# --- AWS calls, counted in the execution environments -----------------------------------


COUNT_CALLS_VARIABLE = "BENCH_COUNT_AWS_CALLS"  # read by localcloud/lambdaservice/bootstrap.py


class CallCounts:
    """The per-invocation lines the environments append to ``<directory>/<function>-<pid>.jsonl``."""

    def __init__(self, directory: str):
        self.directory = directory

    def read(self) -> Dict[str, collections.Counter]:
        """function -> Counter of ``service.Operation``, summed over every invocation so far."""
        totals: Dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
        for path in glob.glob(os.path.join(self.directory, "*.jsonl")):
            with open(path, encoding="utf-8") as handle:
                *complete, _partial = handle.read().split("\n")
            for line in complete:
                if line:
                    entry = json.loads(line)
                    totals[entry["function"]].update(entry["calls"])
        return dict(totals)

    def settled(self, quiet: float = 2.0, timeout: float = 120.0) -> Dict[str, collections.Counter]:
        """The totals once no invocation has added to them for ``quiet`` seconds (a phase's last
        ``$disconnect`` runs come after its sockets close)."""
        deadline = time.monotonic() + timeout
        last, since = self.read(), time.monotonic()
        while time.monotonic() - since < quiet and time.monotonic() < deadline:
            time.sleep(0.25)
            now = self.read()
            if now != last:
                last, since = now, time.monotonic()
        return last


@contextlib.contextmanager
def counting(calls: Optional[CallCounts], figures: Dict[str, object], phase: str, units: int, unit: str) -> Iterator:
    """Record in ``figures["aws_calls"][phase]`` the calls the phase made, per ``unit`` (``units`` of them)."""
    if calls is None:
        yield
        return
    before = calls.settled()
    yield
    after = calls.settled()
    by_function = {}
    for function in sorted(after):
        made = after[function] - before.get(function, collections.Counter())
        if made:
            by_function[function] = {operation: made[operation] / units for operation in sorted(made)}
    by_operation: collections.Counter = collections.Counter()
    for made in by_function.values():
        by_operation.update(made)
    figures.setdefault("aws_calls", {})[phase] = {
        "unit": unit,
        "units": units,
        "by_operation": dict(sorted(by_operation.items())),
        "by_function": by_function,
    }


@contextlib.contextmanager
def counted_stack(backend: str, extra: Tuple[str, ...] = ()) -> Iterator[Tuple[LocalStackProcess, CallCounts]]:
    """A local stack whose execution environments count their AWS calls into a scratch directory."""
    directory = tempfile.mkdtemp(prefix="bench-aws-calls-")
    try:
        args = stack_args(backend) + ["--env", f"{COUNT_CALLS_VARIABLE}={directory}", *extra]
        with LocalStackProcess(extra_args=args) as stack:
            yield stack, CallCounts(directory)
    finally:
        shutil.rmtree(directory, ignore_errors=True)


# --- the baseline: a bare websockets ping/pong server --------------------------------


async def baseline(sizes: Dict[str, int]) -> Dict[str, object]:
    async def handler(ws):
        async for _ in ws:
            await ws.send(json.dumps({"type": "pong", "timestamp": int(time.time() * 1000)}))

    port = free_port()
    async with websockets.serve(handler, "127.0.0.1", port):
        uri = f"ws://127.0.0.1:{port}"
        return {
            "connect_ms": percentiles(await connect_times(uri, sizes["connects"])),
            "ping_ms": percentiles(await ping_rtts(uri, sizes["pings"])),
        }


# --- running it all ------------------------------------------------------------------


# Warm environments idle this long are stopped by the stack (Lambda's own delay is minutes).
BENCH_IDLE_ENVIRONMENT_SECONDS = 10


def stack_args(backend: str) -> List[str]:
    return [
        "--quiet",
        # 120 s rather than 6 x 120 s: a message a poller holds when the backlog phase stops the
        # pollers comes back within the run (the drain waits for the queue to be empty).
        "--visibility-timeout",
        "120",
        "--idle-environment",
        str(BENCH_IDLE_ENVIRONMENT_SECONDS),
        "--pollers",
        "8",
        "--env",
        f"ASSISTANT_BACKEND={backend}",
        "--env",
        "RATE_LIMIT_MESSAGES=0",
        "--env",
        "PING_RATE_LIMIT=0",
        "--env",
        "RESUME_RATE_LIMIT=0",
    ]


# What --phases may select; the default runs them all, in this order.
PHASES = (
    "connect",
    "ping",
    "messages",
    "session",
    "throughput",
    "backlog",
    "slow",
    "idle",
    "storm",
    "catalog",
    "stop",
)
# The session phase: how the first and the last messages of one long session compare.
SESSION_EDGE = 20


def measure_stack(
    uri: str,
    sizes: Dict[str, int],
    stack: Optional[LocalStackProcess],
    phases: Tuple[str, ...] = PHASES,
    calls: Optional[CallCounts] = None,
) -> Dict[str, object]:
    figures: Dict[str, object] = {}
    if "connect" in phases:
        with counting(calls, figures, "connect", WARMUP_CONNECTS + sizes["connects"], "connection"):
            figures["connect_ms"] = percentiles(asyncio.run(connect_times(uri, sizes["connects"])))
    if "ping" in phases:
        with counting(calls, figures, "ping", sizes["pings"], "ping"):
            figures["ping_ms"] = percentiles(asyncio.run(ping_rtts(uri, sizes["pings"])))
    if "messages" in phases:
        with counting(calls, figures, "messages", sizes["messages"], "message"):
            marks = asyncio.run(message_latencies(uri, sizes["messages"], "bench"))
        figures["ack_ms"] = percentiles(marks["ack"])
        figures["first_status_ms"] = percentiles(marks["status"])
        figures["reply_echo_ms"] = percentiles(marks["reply"])
    if "session" in phases:
        with counting(calls, figures, "session", sizes["session"], "message"):
            marks = asyncio.run(message_latencies(uri, sizes["session"], "bench", one_session=True))
        edge = min(SESSION_EDGE, max(1, sizes["session"] // 4))
        for kind in ("ack", "reply"):
            figures[f"session_{kind}_ms"] = {
                "first": percentiles(marks[kind][:edge]),
                "last": percentiles(marks[kind][-edge:]),
                "messages": sizes["session"],
            }
    pid = stack.process.pid if stack else None
    if "throughput" in phases:
        with counting(calls, figures, "throughput", sizes["clients"] * sizes["per_client"], "message"):
            figures["throughput"] = asyncio.run(throughput(uri, sizes["clients"], sizes["per_client"], pid))
    if stack and "backlog" in phases:
        with counting(calls, figures, "backlog", sizes["backlog"], "message"):
            figures["backlog"] = backlog_drain(stack, sizes["backlog"])
    if "slow" in phases:
        figures["slow_readers"] = asyncio.run(slow_readers(uri, sizes["slow_session"]))
    if "idle" in phases:
        # Last: closing thousands of connections leaves thousands of $disconnect runs behind.
        reap = BENCH_IDLE_ENVIRONMENT_SECONDS * 1.5 if stack else 0
        with counting(calls, figures, "idle", sizes["idle"], "connection"):
            figures["idle"] = asyncio.run(idle_connections(uri, sizes["idle"], pid, reap))
    if "storm" in phases:
        figures["storm"] = asyncio.run(disconnect_storm(uri, sizes["storm"]))
    return figures


def measure_catalog(sizes: Dict[str, int]) -> Dict[str, object]:
    figures: Dict[str, object] = {}
    with counted_stack("catalog") as (stack, calls), counting(calls, figures, "catalog", sizes["messages"], "message"):
        marks = asyncio.run(message_latencies(stack.websocket_url, sizes["messages"], "running shoes under 100"))
    figures["reply_catalog_ms"] = percentiles(marks["reply"])
    return figures


def measure_stop(sizes: Dict[str, int]) -> Dict[str, object]:
    figures: Dict[str, object] = {}
    slow = ("--env", f"ASSISTANT_DELAY_SECONDS={STOP_DELAY_SECONDS:g}")
    with counted_stack("slow", slow) as (stack, calls), counting(calls, figures, "stop", sizes["stops"], "stop"):
        marks = asyncio.run(stop_latencies(stack.websocket_url, sizes["stops"], "running shoes under 100"))
    figures["stop_ms"] = {kind: percentiles(samples) for kind, samples in marks.items()}
    figures["stop_ms"]["all"] = percentiles(marks["waiting"] + marks["streaming"])
    return figures


def print_table(report: Dict[str, object]) -> None:
    """The measured rows only (``--phases`` may have left some out)."""
    base = report["baseline"]
    rows = []
    if "connect_ms" in report:
        rows.append(("connect p50 (ms)", report["connect_ms"].get("p50"), base["connect_ms"]["p50"]))
        rows.append(("connect p95 (ms)", report["connect_ms"].get("p95"), base["connect_ms"]["p95"]))
    if "ping_ms" in report:
        rows.append(("ping/pong p50 (ms)", report["ping_ms"].get("p50"), base["ping_ms"]["p50"]))
        rows.append(("ping/pong p99 (ms)", report["ping_ms"].get("p99"), base["ping_ms"]["p99"]))
    if "ack_ms" in report:
        rows.append(("ack p50 (ms)", report["ack_ms"].get("p50"), base["ping_ms"]["p50"]))
        rows.append(("first status p50 (ms)", report["first_status_ms"].get("p50"), None))
        rows.append(("full reply, echo p50/p95/p99 (ms)", _triple(report["reply_echo_ms"]), None))
    for kind in ("ack", "reply"):
        if f"session_{kind}_ms" in report:
            figures = report[f"session_{kind}_ms"]
            first, last = figures["first"]["p50"], figures["last"]["p50"]
            name = f"one session of {figures['messages']} msgs: {kind} p50 first/last {figures['first']['n']} (ms)"
            rows.append((name, f"{first:.1f}/{last:.1f}", None))
    if "reply_catalog_ms" in report:
        rows.append(("full reply, catalog p50/p95/p99 (ms)", _triple(report["reply_catalog_ms"]), None))
    if "throughput" in report:
        flow = report["throughput"]
        rows.append((f"end-to-end msgs/s ({flow['messages']} msgs, {flow['clients']} clients)",
                     flow["messages_per_second"], None))  # fmt: skip
        rows.append(("lost messages", flow["lost"], None))
        rows.append((f"stack RSS MB, {flow['clients']} busy (processes)",
                     f"{flow['peak_stack_rss_mb']:.0f} ({flow['peak_processes']})", None))  # fmt: skip
    if "idle" in report:
        idle = report["idle"]
        held = f"{idle['connections']} / {idle['stack_rss_mb_after']:.0f} ({idle['processes']})"
        rows.append(("idle connections held / stack RSS MB (processes)", held, None))
        reaped = f"{idle['stack_rss_mb_after_reaping']:.0f} ({idle['processes_after_reaping']})"
        rows.append(("  after idle environments are reaped", reaped, None))
    rows += _pressure_rows(report)
    if "stop_ms" in report:
        stops = report["stop_ms"]
        rows.append((f"stop -> stopped p50/p99 (ms), {stops['all'].get('n', 0)} stops", _pair(stops["all"]), None))
        rows.append(("  while waiting for the first token", _pair(stops["waiting"]), None))
        rows.append(("  right after the first chunk", _pair(stops["streaming"]), None))
    print(f"\n{'measure':<52}{'value':>18}{'baseline':>12}{'ratio':>9}")
    for name, value, reference in rows:
        shown = value if isinstance(value, str) else f"{value:.2f}"
        ratio = f"{value / reference:.1f}x" if reference and not isinstance(value, str) else ""
        ref = f"{reference:.2f}" if reference else ""
        print(f"{name:<52}{shown:>18}{ref:>12}{ratio:>9}")
    if report.get("aws_calls"):
        print_calls(report["aws_calls"])


def print_calls(calls: Dict[str, Dict[str, object]]) -> None:
    """AWS calls per message (per ping, per connection) of each counted phase, by ``service.Operation``."""
    phases = list(calls)
    operations = sorted({operation for figures in calls.values() for operation in figures["by_operation"]})
    width = max([len(name) for name in operations] + [28])
    print("\nAWS calls per unit of each phase, counted in the execution environments")
    print(f"{'service.Operation':<{width}}" + "".join(f"{phase:>12}" for phase in phases))
    print(f"{'(per)':<{width}}" + "".join(f"{calls[phase]['unit'].split()[-1]:>12}" for phase in phases))
    for operation in operations + ["total"]:
        cells = []
        for phase in phases:
            made = calls[phase]["by_operation"]
            value = sum(made.values()) if operation == "total" else made.get(operation, 0)
            cells.append(f"{value:>12.2f}" if value else f"{'-':>12}")
        print(f"{operation:<{width}}" + "".join(cells))


def _pressure_rows(report: Dict[str, object]) -> List[Tuple[str, object, Optional[float]]]:
    """The backlog, storm and slow-readers rows (the last two against their own quiet measure)."""
    rows: List[Tuple[str, object, Optional[float]]] = []
    if "backlog" in report:
        rows.append(("backlog drain (msgs/s)", report["backlog"]["messages_per_second"], None))
    if "storm" in report:
        storm = report["storm"]
        rows.append((f"connect while {storm['closing']} close, p50/max (ms)",
                     _pair_max(storm["during_ms"]), storm["quiet_ms"]["p50"]))  # fmt: skip
    if "slow_readers" in report:
        slow = report["slow_readers"]
        name = f"ping, {SLOW_READERS} not reading {SLOW_RESUMES} x {slow['session_kb']} KB, p50/p99 (ms)"
        rows.append((name, _pair(slow["ping_ms"]), slow["quiet_ping_ms"].get("p99")))
        rows.append(("  pings over 5 s / fresh connect (ms)",
                     f"{slow['unanswered']} / {slow['connect_ms']:.0f}", None))  # fmt: skip
    return rows


def _pair_max(figures: Dict[str, float]) -> str:
    return f"{figures['p50']:.1f}/{max(figures['p99'], figures['p95']):.1f}" if figures else "-"


def _triple(figures: Dict[str, float]) -> str:
    return f"{figures['p50']:.1f}/{figures['p95']:.1f}/{figures['p99']:.1f}"


def _pair(figures: Dict[str, float]) -> str:
    return f"{figures['p50']:.1f}/{figures['p99']:.1f}" if figures else "-"


def _phases(text: str) -> Tuple[str, ...]:
    chosen = tuple(name.strip() for name in text.split(",") if name.strip())
    unknown = [name for name in chosen if name not in PHASES]
    if unknown or not chosen:
        raise argparse.ArgumentTypeError(f"unknown phase(s) {unknown}; choose from {','.join(PHASES)}")
    return chosen


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--uri", help="measure this stack instead of starting local ones (no backlog/RSS figures)")
    parser.add_argument("--quick", action="store_true", help="small sample sizes (a smoke run)")
    parser.add_argument("--json", help="also write the figures to this file")
    parser.add_argument("--phases", type=_phases, default=PHASES,
                        help=f"comma-separated, from {','.join(PHASES)} (default all)")  # fmt: skip
    parser.add_argument("--connects", type=int, help="connect samples (default 50)")
    parser.add_argument("--pings", type=int, help="ping samples (default 300)")
    args = parser.parse_args(argv)
    sizes = dict(
        connects=50, pings=300, messages=100, session=200, clients=50, per_client=10, idle=2000, backlog=500, stops=40,
        storm=2000, slow_session=SLOW_SESSION_MESSAGES,
    )  # fmt: skip
    if args.quick:
        sizes = dict(connects=5, pings=20, messages=5, session=8, clients=2, per_client=3, idle=20, backlog=10, stops=4,
                     storm=20, slow_session=5)  # fmt: skip
    sizes.update({name: getattr(args, name) for name in ("connects", "pings") if getattr(args, name)})
    report: Dict[str, object] = {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
        "sizes": sizes,
        "baseline": asyncio.run(baseline(sizes)),
    }
    if args.uri:
        report.update(measure_stack(args.uri, sizes, None, args.phases))
    else:
        if set(args.phases) - {"catalog", "stop"}:
            with counted_stack("echo") as (stack, calls):
                report.update(measure_stack(stack.websocket_url, sizes, stack, args.phases, calls))
        for phase, measure in (("catalog", measure_catalog), ("stop", measure_stop)):
            if phase in args.phases:
                figures = measure(sizes)
                report.setdefault("aws_calls", {}).update(figures.pop("aws_calls", {}))
                report.update(figures)
    print_table(report)
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(report, handle, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
