#!/usr/bin/env python
"""QA phase 1 (basic): connect, then ping/pong.

    WEBSOCKET_TEST_URI=wss://abc.execute-api.us-east-1.amazonaws.com/api \\
        python chalice_app/tests/test_websocket_basic.py [--timeout 10]

With no URI it starts a local stack on free ports. Exit 0 pass, 1 fail. Also a pytest test.
"""

import asyncio
import json
import statistics
import sys
import time

import websockets

from tests.support import LocalStackProcess, run_phase

PINGS = 5


async def basic(uri: str, timeout: float) -> bool:
    started = time.perf_counter()
    async with websockets.connect(uri, open_timeout=timeout) as ws:
        connect_ms = (time.perf_counter() - started) * 1000
        print(f"connected in {connect_ms:.1f} ms")
        rtts = []
        for _ in range(PINGS):
            sent = time.perf_counter()
            await ws.send(json.dumps({"action": "ping"}))
            frame = json.loads(await asyncio.wait_for(ws.recv(), timeout))
            if frame.get("type") != "pong" or not isinstance(frame.get("timestamp"), int):
                print(f"expected a pong, got {frame}")
                return False
            rtts.append((time.perf_counter() - sent) * 1000)
        print("ping/pong ms: " + ", ".join(f"{rtt:.1f}" for rtt in rtts) + f" (median {statistics.median(rtts):.1f})")
    return True


def run(uri: str, timeout: float) -> bool:
    print(f"Phase 1 (basic) against {uri}")
    return asyncio.run(basic(uri, timeout))


def test_basic_phase_against_local_stack():
    with LocalStackProcess() as stack:
        assert run(stack.websocket_url, 15)


if __name__ == "__main__":
    sys.exit(run_phase(run, "QA phase 1: connect and ping/pong", default_timeout=10))
