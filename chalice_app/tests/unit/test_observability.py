"""Logs and metrics of one message: what the functions write to stdout, as Lambda collects it.

Each test reads the real lines (Powertools JSON and EMF) from the captured stdout.
"""

import json
import threading
import time

import pytest

from chalicelib import logs, metrics, protocol
from tests.unit.support import (
    drain_queue,
    make_envelope,
    new_connection_id,
    session_envelope,
    sqs_event,
    sqs_record,
    sqs_record_from_message,
    ws_event,
)
from tests.unit.test_processor import ScriptedAssistant, use_assistant  # noqa: F401 (a fixture)

POWERTOOLS_KEYS = ("level", "location", "timestamp", "service", "cold_start", "function_request_id")


@pytest.fixture(autouse=True)
def fresh_metrics():
    metrics.reset()
    yield
    metrics.reset()


def stdout_lines(capsys):
    """(log lines, EMF lines) written since the last call."""
    parsed = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    # The records here are made up: SQS refuses their receipt handles (tests/unit/test_retry.py
    # covers the visibility with real ones).
    parsed = [line for line in parsed if line.get("event") != "visibility_unchanged"]
    return [line for line in parsed if "_aws" not in line], [line for line in parsed if "_aws" in line]


def connect(client, capsys, connection_id):
    client.lambda_.invoke("connect", ws_event("$connect", connection_id))
    capsys.readouterr()


def send(client, connection_id, text="any hiking boots?", session_id=None):
    body = {"action": "sendMessage", "message": text}
    if session_id is not None:
        body["session_id"] = session_id
    client.lambda_.invoke("message", ws_event("$default", connection_id, body))


def process_queued(client, mock_aws):
    (message,) = drain_queue(mock_aws.queue_url)
    return client.lambda_.invoke("chat_processor", sqs_event(sqs_record_from_message(message, mock_aws.queue_arn)))


def metric_values(emf_line):
    """{metric name: [values]} of one EMF line, checked against its own declaration."""
    (declared,) = emf_line["_aws"]["CloudWatchMetrics"]
    return {metric["Name"]: emf_line[metric["Name"]] for metric in declared["Metrics"]}


# --- logs -------------------------------------------------------------------------------


def test_every_line_of_one_message_carries_its_correlation_ids(client, mock_aws, frames, capsys, set_env):
    set_env(ASSISTANT_BACKEND="echo")
    connection_id = new_connection_id()
    connect(client, capsys, connection_id)

    send(client, connection_id)
    gateway_lines, _ = stdout_lines(capsys)
    process_queued(client, mock_aws)
    processor_lines, _ = stdout_lines(capsys)

    ack = frames.to(connection_id)[0]
    message_id, session_id = ack["message_id"], ack["session_id"]  # the session the server issued
    assert [line["event"] for line in gateway_lines] == ["queued"]
    assert [line["event"] for line in processor_lines] == ["picked_up", "first_chunk", "answered"]
    for line in gateway_lines + processor_lines:
        ids = (line["message_id"], line["connection_id"], line["session_id"])
        assert ids == (message_id, connection_id, session_id)
        assert all(key in line for key in POWERTOOLS_KEYS), line
        assert line["message"] == line["event"]
        assert isinstance(line["timestamp_ms"], int) and abs(line["timestamp_ms"] - time.time() * 1000) < 60_000
    assert all(line["attempt"] == 1 for line in processor_lines)
    assert "attempt" not in gateway_lines[0]


def test_pickup_and_answer_lines_carry_the_timeline(client, mock_aws, frames, capsys, use_assistant):  # noqa: F811
    use_assistant(ScriptedAssistant())
    envelope = session_envelope(new_connection_id(), received_at_ms=protocol.now_ms() - 1500)

    before = protocol.now_ms()
    client.lambda_.invoke("chat_processor", sqs_event(sqs_record(envelope)))
    after = protocol.now_ms()
    picked_up, first_chunk, answered = stdout_lines(capsys)[0]

    assert before - envelope.received_at_ms <= picked_up["queue_wait_ms"] <= after - envelope.received_at_ms
    assert picked_up["queue_wait_ms"] <= first_chunk["time_to_first_chunk_ms"] <= answered["time_to_response_ms"]
    # Queue wait plus processing is the time from the ack to the response.
    assert picked_up["queue_wait_ms"] + answered["processing_time_ms"] == answered["time_to_response_ms"]
    assert answered["posts"] == len(frames.to(envelope.connection_id))


def test_ids_are_cleared_between_records(client, mock_aws, frames, capsys, use_assistant):  # noqa: F811
    use_assistant(ScriptedAssistant())
    gone = make_envelope(new_connection_id())  # a session that was never issued

    client.lambda_.invoke("chat_processor", sqs_event(sqs_record(gone), sqs_record("not an envelope")))
    lines, _ = stdout_lines(capsys)

    first_drop, second_drop = [line for line in lines if line["event"] == "drop"]
    assert (first_drop["message_id"], first_drop["reason"]) == (gone.message_id, "invalid session")
    assert second_drop["reason"].startswith("bad envelope")
    assert not {"message_id", "connection_id", "session_id", "attempt"} & set(second_drop)


def test_concurrent_invocations_keep_their_own_ids(capsys):
    """The local runtime runs functions on threads of one process: ids must not leak across."""
    barrier = threading.Barrier(2)

    def invocation(message_id):
        logs.start_invocation(None)
        logs.correlate(message_id=message_id)
        barrier.wait()
        for _ in range(20):
            logs.emit(None, "tick", seen=message_id)

    threads = [threading.Thread(target=invocation, args=(name,)) for name in ("m-a", "m-b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    lines, _ = stdout_lines(capsys)

    assert len(lines) == 40
    assert all(line["message_id"] == line["seen"] for line in lines)


def test_fields_that_clash_with_log_record_attributes_are_kept():
    record_fields = {}

    class Keep:
        def filter(self, record):
            record_fields.update(logs.fields_of(record))
            return False

    keep = Keep()
    logs.logger.addFilter(keep)
    try:
        logs.emit(None, "odd", module="catalog", name="x")
    finally:
        logs.logger.removeFilter(keep)
    assert record_fields["event"] == "odd"
    assert (record_fields["module_"], record_fields["name_"]) == ("catalog", "x")


# --- metrics --------------------------------------------------------------------------


def test_a_reply_emits_its_figures_once_with_stage_and_backend_only(client, mock_aws, frames, capsys, set_env):
    set_env(ASSISTANT_BACKEND="echo", CHUNK_FLUSH_MS="0")
    connection_id = new_connection_id()
    connect(client, capsys, connection_id)
    send(client, connection_id)
    _, (gateway_emf,) = stdout_lines(capsys)

    process_queued(client, mock_aws)
    (picked_up, first_chunk, answered), (emf,) = stdout_lines(capsys)

    assert metric_values(gateway_emf) == {"queued": [1.0]}
    posted = frames.to(connection_id)[1:]  # after the ack: what chat_processor posted
    sizes = [len(protocol.encode(frame).encode("utf-8")) for frame in posted]
    assert [frame["type"] for frame in posted] == ["status"] + ["chunk"] * 5 + ["response"]
    assert emf["message_id"] == answered["message_id"]
    assert emf["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "ShoppingAssistant"
    assert emf["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [["stage", "backend"]]
    assert (emf["stage"], emf["backend"]) == ("local", "echo")
    assert metric_values(emf) == {
        "queue_wait": [picked_up["queue_wait_ms"]],
        "time_to_first_chunk": [first_chunk["time_to_first_chunk_ms"]],
        "chunk_deltas": [5.0],
        "chunk_posts": [5.0],
        "time_to_response": [answered["time_to_response_ms"]],
        "processing_time": [answered["processing_time_ms"]],
        "answered": [1.0],
        "posts": [float(len(posted))],
        "apigw_messages": [float(len(posted))],
        "bytes_posted": [float(sum(sizes))],
    }


def test_rejected_and_rate_limited_frames_are_counted(client, mock_aws, frames, capsys, set_env):
    set_env(RATE_LIMIT_MESSAGES="1", RATE_LIMIT_WINDOW_SECONDS="86400")  # no window ends mid-test
    connection_id = new_connection_id()
    connect(client, capsys, connection_id)

    client.lambda_.invoke("message", ws_event("$default", connection_id, "{not json"))
    client.lambda_.invoke("message", ws_event("$default", connection_id, {"action": "dance"}))
    send(client, connection_id)
    send(client, connection_id)
    lines, emf = stdout_lines(capsys)

    assert [metric_values(line) for line in emf] == [
        {"invalid_json": [1.0]},
        {"unknown_action": [1.0]},
        {"queued": [1.0]},
        {"rate_limited": [1.0]},
    ]
    assert [line["event"] for line in lines] == ["rejected_frame", "rejected_frame", "queued", "rate_limited"]
    assert all(line["connection_id"] == connection_id for line in lines)


def test_drops_are_counted_by_reason(client, mock_aws, frames, capsys, use_assistant):  # noqa: F811
    use_assistant(ScriptedAssistant())
    gone = make_envelope(new_connection_id())  # a session that was never issued
    expired = session_envelope(new_connection_id(), received_at_ms=protocol.now_ms() - 301_000)

    client.lambda_.invoke(
        "chat_processor", sqs_event(sqs_record(gone), sqs_record(expired), sqs_record("{}", sqs_message_id="bad-1"))
    )
    _, emf = stdout_lines(capsys)

    assert [line.get("message_id", line.get("sqs_message_id")) for line in emf] == [
        gone.message_id,
        expired.message_id,
        "bad-1",
    ]
    assert [{name: v for name, v in metric_values(line).items() if name != "queue_wait"} for line in emf] == [
        {"drop_invalid_session": [1.0]},
        {"drop_expired": [1.0]},
        {"drop_bad_envelope": [1.0]},
    ]


@pytest.mark.parametrize(
    "receive_count, expected",
    [
        (1, {"processing_failed": [1.0]}),
        (2, {"retries": [1.0], "processing_failed": [1.0]}),
        (5, {"retries": [1.0], "processing_failed": [1.0], "dlq_arrivals": [1.0]}),  # MAX_RECEIVE_COUNT: 5
    ],
)
def test_failures_retries_and_dlq_arrivals_are_counted(
    client,
    mock_aws,
    frames,
    capsys,
    use_assistant,  # noqa: F811
    receive_count,
    expected,
):
    use_assistant(ScriptedAssistant(fail_on={"*"}))
    envelope = session_envelope(new_connection_id())

    client.lambda_.invoke("chat_processor", sqs_event(sqs_record(envelope, receive_count=receive_count)))
    lines, (emf,) = stdout_lines(capsys)

    values = metric_values(emf)
    assert values.pop("queue_wait") == [lines[0]["queue_wait_ms"]]
    assert values == expected
    assert [line["event"] for line in lines] == ["picked_up", "processing_failed"]
    assert all(line["attempt"] == receive_count for line in lines)


def test_nothing_is_written_when_no_metric_was_added(capsys):
    metrics.flush(message_id="m")
    assert capsys.readouterr().out == ""


@pytest.mark.parametrize("size, messages", [(0, 1), (1, 1), (32 * 1024, 1), (32 * 1024 + 1, 2), (128 * 1024, 4)])
def test_billed_messages_are_32_kb_units(size, messages):
    assert metrics.billed_messages(size) == messages


@pytest.mark.parametrize(
    "function_name, stage",
    [
        ("shopping-assistant-api-dev-chat_processor", "dev"),
        ("shopping-assistant-api-chalice-test-websocket_message", "chalice-test"),
        ("shopping-assistant-api-local-websocket_connect", "local"),
        ("chat_processor", "local"),  # Chalice's test client
        (None, "local"),
    ],
)
def test_stage_comes_from_the_function_name(function_name, stage):
    assert metrics.stage_of(function_name, "shopping-assistant-api") == stage
