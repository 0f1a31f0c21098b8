"""The local gateway is fair between connections: a flood of frames on one connection
waits behind itself, never in front of another connection's frames."""

import asyncio
import json
import time

import pytest
import websockets

from tests.support import LocalStackProcess

pytestmark = pytest.mark.timeout(300)

FLOOD = 10_000
PROBES = 30


def test_a_ping_flood_on_one_connection_does_not_delay_another_clients_ping():
    with LocalStackProcess(extra_args=["--quiet"]) as stack:

        async def scenario():
            flooder = await websockets.connect(stack.websocket_url, max_queue=None)
            other = await websockets.connect(stack.websocket_url)
            answers = []  # frames the flooder got back: pongs, or rate_limited errors

            async def flood():
                for _ in range(FLOOD):
                    await flooder.send('{"action":"ping"}')

            async def read_flood():
                async for raw in flooder:
                    answers.append(json.loads(raw)["type"])

            sending = asyncio.ensure_future(flood())
            reading = asyncio.ensure_future(read_flood())
            while not answers:  # the flood is being served
                await asyncio.sleep(0.01)
            latencies = []
            for _ in range(PROBES):
                started = time.perf_counter()
                await other.send('{"action":"ping"}')
                frame = json.loads(await asyncio.wait_for(other.recv(), 60))
                latencies.append(time.perf_counter() - started)
                assert frame["type"] in ("pong", "error"), frame
                await asyncio.sleep(0.1)
            answered_during_probes = len(answers)
            sending.cancel()
            await flooder.close()
            await other.close()
            reading.cancel()
            return latencies, answered_during_probes

        latencies, answered = asyncio.run(scenario())
        print(
            f"other client's pong latency under a {FLOOD}-ping flood: max {max(latencies) * 1000:.0f} ms, "
            f"median {sorted(latencies)[len(latencies) // 2] * 1000:.0f} ms; flood answers meanwhile: {answered}"
        )
        # The first probe may meet a cold start (the flood holds the function's warm
        # environments, so the other client's ping can need a new one, as on Lambda);
        # queueing behind the flood is what this guards against, and it took 11-14 s.
        assert latencies[0] < 5.0, latencies
        assert max(latencies[1:]) < 1.0, latencies
        assert answered > PROBES  # the flooding client is still served
