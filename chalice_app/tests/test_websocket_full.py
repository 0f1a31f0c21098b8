#!/usr/bin/env python
"""QA phase 3 (full): a chat message all the way to the assistant's final response.

    WEBSOCKET_TEST_URI=wss://… python chalice_app/tests/test_websocket_full.py --timeout 240

Shows progress while waiting (elapsed, frames seen). With no URI it starts a
local stack on free ports. Exit 0 pass, 1 fail. Also a pytest test.
"""

import asyncio
import json
import sys
import time

import websockets

from tests.support import FrameLog, LocalStackProcess, run_phase

PROGRESS_EVERY_SECONDS = 5
QUESTION = "running shoes under 100"


async def full(uri: str, timeout: float) -> bool:
    async with websockets.connect(uri, open_timeout=min(timeout, 30)) as ws:
        frames = FrameLog()
        await ws.send(json.dumps({"action": "sendMessage", "message": QUESTION}))
        deadline = time.monotonic() + timeout
        next_progress = time.monotonic() + PROGRESS_EVERY_SECONDS
        while True:
            now = time.monotonic()
            if now >= deadline:
                print(f"timed out after {timeout:g} s; frames seen: {frames.counts()}")
                return False
            try:
                raw = await asyncio.wait_for(ws.recv(), min(deadline, next_progress) - now)
            except TimeoutError:
                if time.monotonic() >= next_progress:
                    elapsed = time.perf_counter() - frames.started
                    print(f"  ... {elapsed:.0f} s elapsed, frames seen: {frames.counts()}", flush=True)
                    next_progress += PROGRESS_EVERY_SECONDS
                continue
            frame = json.loads(raw)
            frames.add(frame)
            if frame.get("type") in ("response", "error"):
                break
        return _report(frames)


def _report(frames: FrameLog) -> bool:
    final = frames.frames[-1]
    ack = next((frame for frame in frames.frames if frame.get("type") == "ack"), None)
    if final.get("type") == "error":
        print(f"the message ended in an error: {final}")
        return False
    if ack is None or final.get("message_id") != ack.get("message_id"):
        print(f"response does not match the ack: ack={ack} final={final}")
        return False
    if not isinstance(final.get("content"), str) or not final["content"]:
        print(f"response has no content: {final}")
        return False
    for name in ("ack", "status", "chunk", "response"):
        at = frames.first(name)
        if at is not None:
            print(f"first {name:<8} at {at * 1000:9.1f} ms")
    print(f"frames: {frames.counts()}")
    print(f"response: {final['content'][:200]!r} ({len(final.get('products', []))} products)")
    return True


def run(uri: str, timeout: float) -> bool:
    print(f"Phase 3 (full) against {uri}")
    return asyncio.run(full(uri, timeout))


def test_full_phase_against_local_stack():
    with LocalStackProcess() as stack:
        assert run(stack.websocket_url, 60)


def test_full_phase_with_a_slow_assistant_sees_heartbeats(capsys):
    # A slow reply (the seed's 37-55 s LLM case, scaled down) must keep the client informed.
    env = ["--env", "ASSISTANT_DELAY_SECONDS=1.2", "--env", "HEARTBEAT_SECONDS=0.3"]
    with LocalStackProcess(extra_args=env) as stack:
        assert run(stack.websocket_url, 60)
    printed = capsys.readouterr().out
    assert "status=" in printed
    statuses = int(printed.split("status=")[1].split(",")[0])
    assert statuses >= 3, printed


if __name__ == "__main__":
    sys.exit(run_phase(run, "QA phase 3: the full reply", default_timeout=120))
