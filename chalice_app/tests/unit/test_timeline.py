"""infra/timeline.py: log lines of every shape the functions write, read into per-message timelines."""

import json

from infra.timeline import (
    build,
    format_ms,
    format_timeline,
    function_of,
    invocations,
    metrics,
    parse_line,
    parse_timestamp,
)

MID = "9e39cf13-2ffa-4e01-9dea-39997de8006e"
CID = "j3ZJxhRwnsZPaqo="
T0 = 1796119485000


def local(ts, kind="LOG", level="INFO", **app):
    """A line of the local runtime's files (localcloud/logfiles.py), the app's JSON in "message"."""
    if kind == "LOG":
        return json.dumps({"timestamp": ts, "level": level, "type": kind, "message": json.dumps(app)})
    return json.dumps({"timestamp": ts, "level": level, "type": kind, "message": app.pop("text"), **app})


def today_run():
    """What one answered message leaves in the local logs today (a real run's lines)."""
    return [
        parse_line("websocket_message", local(T0 - 86, "START", text="RequestId: a01f Version: $LATEST")),
        parse_line("websocket_message", local(T0, event="queued", message_id=MID, connection_id=CID)),
        parse_line(
            "websocket_message",
            local(T0, "REPORT", text="RequestId: a01f Duration: 86.21 ms", duration_ms=86.21, error=False),
        ),
        parse_line("chat_processor", local(T0 + 1, "START", text="RequestId: 4faf Version: $LATEST")),
        parse_line("chat_processor", local(T0 + 5606, event="answered", message_id=MID, elapsed_ms=1599)),
        parse_line(
            "chat_processor",
            local(T0 + 5611, "REPORT", text="RequestId: 4faf Duration: 5609.26 ms", duration_ms=5609.26, error=False),
        ),
    ]


def test_todays_lines_give_queue_wait_and_processing():
    timeline = build(today_run())[MID]
    assert timeline.connection_id == CID
    assert timeline.marks == {"acked": T0, "queued": T0, "picked_up": T0 + 5606 - 1599, "response": T0 + 5606}
    assert timeline.phases() == {"queue_wait": 4007, "processing": 1599, "delivery": None, "total": 5606}
    assert timeline.outcome == "answered"


def test_the_new_events_refine_the_timeline():
    """picked_up (with queue_wait_ms from the envelope's received_at_ms) and first_chunk, when logged."""
    lines = today_run() + [
        parse_line(
            "chat_processor", local(T0 + 4000, event="picked_up", message_id=MID, queue_wait_ms=4010, attempt=1)
        ),
        parse_line("chat_processor", local(T0 + 4500, event="first_chunk", message_id=MID, session_id="s1")),
    ]
    timeline = build(lines)[MID]
    assert timeline.marks["acked"] == T0 - 10
    assert timeline.marks["picked_up"] == T0 + 4000
    assert timeline.phases() == {"queue_wait": 4010, "processing": 500, "delivery": 1106, "total": 5616}
    assert timeline.session_id == "s1" and timeline.attempt == 1
    text = format_timeline(timeline)
    assert (
        text[2] == "  acked +0 ms -> queued -> picked up +4.0 s (queue wait) -> first chunk +4.5 s -> response +5.6 s"
    )
    assert text[3] == "  queue wait 4.0 s, processing 500 ms, delivery 1.1 s (total 5.6 s)"


def test_powertools_lines_with_an_iso_timestamp():
    line = {
        "level": "INFO",
        "location": "emit:21",
        "message": "queued",
        "timestamp": "2026-12-01 10:00:00,123+0000",
        "service": "shopping-assistant",
        "function_request_id": "4faf",
        "event": "queued",
        "message_id": MID,
        "session_id": "s1",
    }
    entry = parse_line("websocket_message", json.dumps(line))
    assert entry.event == "queued" and entry.message_id == MID and entry.request_id == "4faf"
    assert entry.timestamp_ms == parse_timestamp("2026-12-01T10:00:00.123Z") == 1796119200123


def test_cloudwatch_platform_and_runtime_lines():
    report = parse_line(
        "chat_processor", "REPORT RequestId: 4faf-11\tDuration: 37210.55 ms\tBilled Duration: 37211 ms", T0
    )
    assert (report.kind, report.request_id, report.duration_ms, report.timestamp_ms) == (
        "REPORT",
        "4faf-11",
        37210.55,
        T0,
    )
    body = json.dumps({"event": "processing_failed", "message_id": MID, "attempt": 2, "error": "Boom()"})
    failed = parse_line("chat_processor", f"[ERROR]\t2026-12-01T10:00:00.500Z\t4faf-11\t{body}\n", T0)
    assert failed.error and failed.event == "processing_failed" and failed.timestamp_ms == 1796119200500
    timeline = build([failed])[MID]
    assert timeline.attempt == 2 and timeline.outcome == "failed"
    assert timeline.errors == ["chat_processor: processing_failed (attempt 2): Boom()"]
    assert [i.duration_ms for i in invocations([report, failed])] == [37210.55]


def test_drops_and_unparsable_lines():
    lines = [
        parse_line(
            "chat_processor", local(T0, event="drop", message_id=MID, reason="connection gone", level="WARNING")
        ),
        parse_line("chat_processor", "not json at all", T0),
        parse_line("chat_processor", '{"half": ', T0),
    ]
    timelines = build(lines)
    assert list(timelines) == [MID]
    assert timelines[MID].drops == ["connection gone"] and timelines[MID].outcome == "dropped"
    assert "dropped" in format_timeline(timelines[MID])[1]


def test_local_failed_invocations_are_errors():
    line = local(T0, "REPORT", text="RequestId: 1 Duration: 3.00 ms", duration_ms=3.0, error=True)
    assert invocations([parse_line("websocket_message", line)])[0].error


def test_names_and_formats():
    assert function_of("/aws/lambda/shopping-assistant-api-dev-chat_processor") == "chat_processor"
    assert function_of("/x/aws-lambda-shopping-assistant-api-local-websocket_message.jsonl") == "websocket_message"
    assert (format_ms(412), format_ms(1900), format_ms(37200), format_ms(None)) == ("412 ms", "1.9 s", "37.2 s", "?")
    assert parse_timestamp(1796119200.5) == 1796119200500 and parse_timestamp("yesterday") is None


def test_embedded_metric_format_lines_are_read():
    emf = {
        "_aws": {"Timestamp": T0, "CloudWatchMetrics": [{"Namespace": "ShoppingAssistant", "Dimensions": [["stage"]],
                 "Metrics": [{"Name": "QueueWait", "Unit": "Milliseconds"}, {"Name": "Posts", "Unit": "Count"}]}]},
        "stage": "local", "QueueWait": 412, "Posts": [3, 4],
    }  # fmt: skip
    found = metrics([parse_line("chat_processor", json.dumps(emf))])
    assert [(m.name, m.unit, m.value, m.timestamp_ms) for m in found] == [
        ("QueueWait", "Milliseconds", 412.0, T0), ("Posts", "Count", 3.0, T0), ("Posts", "Count", 4.0, T0)
    ]  # fmt: skip


def test_powertools_lines_inside_the_local_files():
    """The local runtime writes the Powertools line it captured as the "message" string."""
    inner = {
        "level": "INFO", "location": "_handle_record:81", "message": "picked_up",
        "timestamp": "2026-12-01T10:26:21.262+00:00", "service": "shopping-assistant-api", "cold_start": False,
        "function_request_id": "821fe57c", "message_id": MID, "connection_id": CID, "session_id": "s1",
        "attempt": 1, "event": "picked_up", "queue_wait_ms": 64, "timestamp_ms": 1796120781261,
    }  # fmt: skip
    line = {"timestamp": 1796120781262, "level": "INFO", "type": "LOG", "message": json.dumps(inner), "logger": "x"}
    entry = parse_line("chat_processor", json.dumps(line))
    assert (entry.event, entry.timestamp_ms, entry.request_id, entry.kind) == (
        "picked_up",
        1796120781261,
        "821fe57c",
        "LOG",
    )
    timeline = build([entry])[MID]
    assert timeline.marks == {"acked": 1796120781261 - 64, "picked_up": 1796120781261}
    assert (timeline.session_id, timeline.attempt, timeline.outcome) == ("s1", 1, "in progress")


def test_a_retried_message_counts_from_its_first_pickup_and_lists_the_failure():
    lines = [
        parse_line("websocket_message", local(T0, event="queued", message_id=MID)),
        parse_line("chat_processor", local(T0 + 100, event="picked_up", message_id=MID, queue_wait_ms=105, attempt=1)),
        parse_line("chat_processor", local(T0 + 200, "LOG", "ERROR", event="processing_failed", message_id=MID,
                                           attempt=1, error="TimeoutError()")),
        parse_line("chat_processor", local(T0 + 30_200, event="picked_up", message_id=MID, queue_wait_ms=30_205,
                                           attempt=2)),
        parse_line("chat_processor", local(T0 + 31_200, event="answered", message_id=MID, elapsed_ms=990)),
    ]  # fmt: skip
    timeline = build(lines)[MID]
    assert timeline.marks["acked"] == T0 - 5 and timeline.marks["picked_up"] == T0 + 30_200
    assert timeline.phases()["queue_wait"] == 30_205  # the visibility timeout after attempt 1 is queue wait
    assert timeline.attempt == 2 and timeline.outcome == "answered"
    text = format_timeline(timeline)
    assert "  attempt 2, answered" in text
    assert "  error: chat_processor: processing_failed (attempt 1): TimeoutError()" in text
