#!/usr/bin/env python
"""QA phase 2 (flow): send a chat message, time the ack, and check it reached SQS.

"Reached SQS" is shown by chat_processor picking it up: the ``status: processing``
frame it posts (it only sees messages that came through ChatProcessingQueue).

    WEBSOCKET_TEST_URI=wss://… python chalice_app/tests/test_websocket_flow.py [--timeout 30]

With no URI it starts a local stack on free ports. Exit 0 pass, 1 fail. Also a pytest test.
"""

import asyncio
import json
import sys
import uuid

import websockets

from tests.support import FrameLog, LocalStackProcess, run_phase


async def flow(uri: str, timeout: float) -> bool:
    async with websockets.connect(uri, open_timeout=timeout) as ws:
        client_id = uuid.uuid4().hex[:12]
        frames = FrameLog()
        frame = {"action": "sendMessage", "message": "Phase 2 flow check", "client_message_id": client_id}
        await ws.send(json.dumps(frame))
        ack = None
        while frames.first("status") is None:
            frame = json.loads(await asyncio.wait_for(ws.recv(), timeout))
            frames.add(frame)
            if frame.get("type") == "ack":
                ack = frame
            elif frame.get("type") == "error":
                print(f"error frame: {frame}")
                return False
        if ack is None or ack.get("status") != "queued" or ack.get("client_message_id") != client_id:
            print(f"expected an ack for {client_id} before processing, got {frames.frames}")
            return False
        status = next(frame for frame in frames.frames if frame.get("type") == "status")
        if status.get("message_id") != ack["message_id"]:
            print(f"status is for another message: {status}")
            return False
        print(f"ack in {frames.first('ack') * 1000:.1f} ms (message_id {ack['message_id']})")
        print(f"picked up from SQS by chat_processor in {frames.first('status') * 1000:.1f} ms")
    return True


def run(uri: str, timeout: float) -> bool:
    print(f"Phase 2 (flow) against {uri}")
    return asyncio.run(flow(uri, timeout))


def test_flow_phase_against_local_stack():
    with LocalStackProcess() as stack:
        assert run(stack.websocket_url, 30)
        processor_log = stack.log_lines("chat_processor")
        assert any(line["type"] == "START" for line in processor_log), "chat_processor never ran"


if __name__ == "__main__":
    sys.exit(run_phase(run, "QA phase 2: ack and queued", default_timeout=30))
