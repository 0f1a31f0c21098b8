"""localcloud/console.py and infra/logsource.LocalLogs: the console's state from log files as they grow."""

import json

from infra.queues import Depth
from localcloud.console import MESSAGES_SHOWN, Console
from localcloud.events import ConnectionInfo
from localcloud.gateway import LiveConnection

FILE = "aws-lambda-shopping-assistant-api-local-{}.jsonl"


def append(directory, function, text):
    with open(directory / FILE.format(function), "a") as handle:
        handle.write(text)


def app_line(ts, **event):
    return json.dumps({"timestamp": ts, "level": "INFO", "type": "LOG", "message": json.dumps(event)}) + "\n"


def report(ts, ms, error=False):
    line = {"timestamp": ts, "level": "INFO", "type": "REPORT", "message": f"RequestId: r{ts} Duration: {ms} ms"}
    return json.dumps({**line, "duration_ms": ms, "error": error}) + "\n"


def console_for(tmp_path, connections=None, depths=None):
    return Console(str(tmp_path), lambda: connections or {}, lambda: depths or [])


def test_lines_are_read_once_and_a_half_written_line_waits(tmp_path):
    console = console_for(tmp_path)
    append(tmp_path, "websocket_message", app_line(1000, event="queued", message_id="m1", connection_id="c1"))
    half = app_line(1500, event="answered", message_id="m1", elapsed_ms=300)
    append(tmp_path, "chat_processor", half[:20])
    state = console.state()
    assert [m["message_id"] for m in state["messages"]] == ["m1"]
    assert state["messages"][0]["outcome"] == "in progress"
    append(tmp_path, "chat_processor", half[20:] + report(1510, 320.5))
    state = console.state()
    [message] = state["messages"]
    assert message["outcome"] == "answered" and message["phases"]["processing"] == 300
    assert state["functions"] == {
        "chat_processor": {"invocations": 1, "errors": 0, "average_ms": 320.5, "max_ms": 320.5}
    }
    assert console.state()["functions"]["chat_processor"]["invocations"] == 1  # not counted twice


def test_last_50_messages_newest_first_failed_invocations_and_live_state(tmp_path):
    info = ConnectionInfo("c1", "api", "127.0.0.1:8000", "api", "127.0.0.1", "ua", connected_at_ms=5, last_active_ms=9)
    live = LiveConnection(info, ws=None, in_flight={"m60": None})  # the socket is not read
    depth = Depth("ChatProcessingQueue", "url", visible=2, in_flight=1, delayed=0)
    console = console_for(tmp_path, {"c1": live}, [depth])
    for number in range(60):
        append(tmp_path, "websocket_message", app_line(1000 + number, event="queued", message_id=f"m{number}"))
    append(tmp_path, "websocket_message", report(2000, 3.0, error=True))
    state = console.state()
    assert len(state["messages"]) == MESSAGES_SHOWN
    assert state["messages"][0]["message_id"] == "m59" and state["messages"][-1]["message_id"] == "m10"
    assert state["invocations"][0]["error"] and state["functions"]["websocket_message"]["errors"] == 1
    assert state["connections"] == [
        {"connection_id": "c1", "connected_at_ms": 5, "last_active_ms": 9, "source_ip": "127.0.0.1",
         "user_agent": "ua", "in_flight": 1}
    ]  # fmt: skip
    assert state["queues"] == {"depths": [depth.to_dict()], "error": None}


def test_an_unreachable_queue_is_reported_not_hidden(tmp_path):
    def gone():
        raise ConnectionRefusedError("moto is gone")

    console = Console(str(tmp_path), dict, gone)
    assert console.state()["queues"] == {"depths": [], "error": "ConnectionRefusedError('moto is gone')"}
