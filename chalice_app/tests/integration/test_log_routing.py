"""The local runtime puts each function's Powertools and EMF lines in that function's log file."""

import asyncio
import json
import time

import websockets

from localcloud.process import LocalStackProcess


def app_lines(stack, function):
    return [json.loads(line["message"]) for line in stack.log_lines(function) if line["type"] == "LOG"]


def test_each_function_logs_its_own_lines_with_the_message_ids():
    with LocalStackProcess(extra_args=["--quiet"]) as stack:

        async def chat():
            async with websockets.connect(stack.websocket_url) as ws:
                await ws.send(json.dumps({"action": "sendMessage", "message": "hiking boots"}))
                frames = []
                while not frames or frames[-1]["type"] not in ("response", "error"):
                    frames.append(json.loads(await asyncio.wait_for(ws.recv(), 20)))
                return frames

        frames = asyncio.run(chat())
        message_id = frames[0]["message_id"]
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not any("_aws" in line for line in app_lines(stack, "chat_processor")):
            time.sleep(0.2)
        gateway, processor = app_lines(stack, "websocket_message"), app_lines(stack, "chat_processor")
        console = stack.console()

    assert frames[-1]["type"] == "response"
    assert [line["event"] for line in gateway if "event" in line] == ["queued"]
    assert [line["event"] for line in processor if "event" in line] == ["picked_up", "first_chunk", "answered"]
    tagged = [(line, "websocket_message") for line in gateway] + [(line, "chat_processor") for line in processor]
    for line, function in tagged:
        assert line["message_id"] == message_id
        if "_aws" not in line:  # a Powertools line: the ids and the Lambda context of its own function
            assert line["function_name"].endswith("-" + function)
            assert (line["connection_id"], line["session_id"]) == (gateway[0]["connection_id"], frames[0]["session_id"])
    (emf,) = [line for line in processor if "_aws" in line]
    assert emf["answered"] == [1.0] and emf["stage"] == "local"
    assert '"event"' not in console and '"_aws"' not in console  # nothing printed to the runtime's console
