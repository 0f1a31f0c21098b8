"""The WebSocket handlers (connect, message, disconnect) invoked through Chalice's test client."""

import base64
import json
import time
import uuid

import boto3
import pytest

from chalicelib import protocol
from chalicelib.config import settings
from tests.conftest import REGION
from tests.unit.support import (
    DOMAIN,
    ENDPOINT,
    SOURCE_IP,
    STAGE,
    USER_AGENT,
    drain_queue,
    log_events,
    new_connection_id,
    ws_event,
)


def connection_record(connection_id):
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    return dynamodb.get_item(
        TableName=settings().connections_table, Key={"connection_id": {"S": connection_id}}, ConsistentRead=True
    ).get("Item")


def send(client, connection_id, body, **kwargs):
    return client.lambda_.invoke("message", ws_event("$default", connection_id, body, **kwargs)).payload


# --- $connect / $disconnect -------------------------------------------------------


def test_connect_stores_the_connection_with_ttl_source_ip_and_user_agent(client, mock_aws, frames):
    connection_id = new_connection_id()
    before = int(time.time())

    result = client.lambda_.invoke("connect", ws_event("$connect", connection_id, query={"session_id": "s-42_a"}))

    assert result.payload == {"statusCode": 200}
    item = connection_record(connection_id)
    assert item is not None
    assert item["connection_id"] == {"S": connection_id}
    assert item["source_ip"] == {"S": SOURCE_IP}
    assert item["user_agent"] == {"S": USER_AGENT}
    assert "session_id" not in item  # a made-up id is not attached (see test_sessions.py)
    ttl = int(item["ttl"]["N"])
    assert before + 3 * 3600 <= ttl <= int(time.time()) + 3 * 3600
    connected_at_ms = int(item["connected_at"]["N"])
    assert before * 1000 <= connected_at_ms <= time.time() * 1000
    assert frames.posted == []


def test_connect_ttl_follows_connection_ttl_seconds(client, mock_aws, set_env):
    set_env(CONNECTION_TTL_SECONDS="600")
    connection_id = new_connection_id()
    before = int(time.time())

    client.lambda_.invoke("connect", ws_event("$connect", connection_id))

    ttl = int(connection_record(connection_id)["ttl"]["N"])
    assert before + 600 <= ttl <= int(time.time()) + 600


def test_connect_ignores_a_malformed_session_id_in_the_query(client, mock_aws):
    connection_id = new_connection_id()

    client.lambda_.invoke("connect", ws_event("$connect", connection_id, query={"session_id": "bad id!"}))

    item = connection_record(connection_id)
    assert item is not None
    assert "session_id" not in item


def test_connect_truncates_a_huge_user_agent(client, mock_aws):
    connection_id = new_connection_id()

    client.lambda_.invoke("connect", ws_event("$connect", connection_id, user_agent="x" * 5000))

    assert connection_record(connection_id)["user_agent"] == {"S": "x" * 512}


def test_disconnect_removes_only_that_connection(client, mock_aws, caplog):
    leaving, staying = new_connection_id(), new_connection_id()
    client.lambda_.invoke("connect", ws_event("$connect", leaving))
    client.lambda_.invoke("connect", ws_event("$connect", staying))
    assert connection_record(leaving) is not None

    result = client.lambda_.invoke("disconnect", ws_event("$disconnect", leaving))

    assert result.payload == {"statusCode": 200}
    assert connection_record(leaving) is None
    assert connection_record(staying) is not None
    assert [e["connection_id"] for e in log_events(caplog, "disconnected")] == [leaving]


def test_disconnect_of_an_unknown_connection_succeeds(client, mock_aws):
    result = client.lambda_.invoke("disconnect", ws_event("$disconnect", new_connection_id()))

    assert result.payload == {"statusCode": 200}


# --- $default: ping ---------------------------------------------------------------


def test_ping_posts_a_pong_to_that_connection(client, mock_aws, frames):
    connection_id, other = new_connection_id(), new_connection_id()
    before_ms = int(time.time() * 1000)

    result = send(client, connection_id, {"action": "ping"})

    assert result == {"statusCode": 200}
    assert len(frames.posted) == 1
    posted = frames.posted[0]
    assert posted.connection_id == connection_id
    assert posted.endpoint == ENDPOINT
    assert posted.frame["type"] == "pong"
    assert before_ms <= posted.frame["timestamp"] <= time.time() * 1000
    assert frames.to(other) == []
    assert drain_queue(mock_aws.queue_url) == []


# --- $default: sendMessage --------------------------------------------------------


def test_send_message_acks_and_enqueues_one_envelope(client, mock_aws, frames, caplog):
    connection_id = new_connection_id()
    send(client, connection_id, {"action": "sendMessage", "message": "hello"})
    session_1 = frames.to(connection_id)[0]["session_id"]
    drain_queue(mock_aws.queue_url, delete=True)
    frames.posted.clear()
    caplog.clear()
    before_ms = int(time.time() * 1000)
    frame = {
        "action": "sendMessage",
        "message": "  do you have trail running shoes in size 44?  ",
        "session_id": session_1,
        "client_message_id": "c-1",
        # A client must not be able to route the reply anywhere else.
        "connection_id": "SomeoneElse=",
        "domain": "evil.example.com",
        "stage": "evil",
    }

    result = send(client, connection_id, frame)

    assert result == {"statusCode": 200}
    assert [p.connection_id for p in frames.posted] == [connection_id]
    ack = frames.posted[0].frame
    assert ack["type"] == "ack"
    assert ack["status"] == "queued"
    assert ack["session_id"] == session_1
    assert ack["cursor"] == 2  # the first message's ack was 1
    assert ack["client_message_id"] == "c-1"
    uuid.UUID(ack["message_id"])

    messages = drain_queue(mock_aws.queue_url)
    assert len(messages) == 1
    envelope = json.loads(messages[0]["Body"])
    assert envelope == {
        "version": 1,
        "message_id": ack["message_id"],
        "connection_id": connection_id,
        "session_id": session_1,
        "message": "do you have trail running shoes in size 44?",
        "domain": DOMAIN,
        "stage": STAGE,
        "received_at_ms": envelope["received_at_ms"],
        "client_message_id": "c-1",
        "owner": "-",
        "ack_cursor": None,
    }
    assert before_ms <= envelope["received_at_ms"] <= time.time() * 1000
    assert [e["message_id"] for e in log_events(caplog, "queued")] == [ack["message_id"]]


def test_send_message_without_session_gets_a_new_session_id(client, mock_aws, frames):
    connection_id = new_connection_id()

    send(client, connection_id, {"action": "sendMessage", "message": "hello"})

    ack = frames.to(connection_id)[0]
    assert ack["client_message_id"] is None
    assert len(ack["session_id"]) == 22 and protocol.SESSION_ID_PATTERN.fullmatch(ack["session_id"])
    assert ack["cursor"] == 1
    (message,) = drain_queue(mock_aws.queue_url)
    envelope = json.loads(message["Body"])
    assert envelope["session_id"] == ack["session_id"]
    assert envelope["client_message_id"] is None


def test_each_message_gets_its_own_message_id(client, mock_aws, frames):
    connection_id = new_connection_id()

    send(client, connection_id, {"action": "sendMessage", "message": "one"})
    send(client, connection_id, {"action": "sendMessage", "message": "two"})

    acks = frames.to(connection_id)
    assert len({ack["message_id"] for ack in acks}) == 2
    queued = sorted(json.loads(m["Body"])["message"] for m in drain_queue(mock_aws.queue_url))
    assert queued == ["one", "two"]


def test_a_message_whose_client_left_before_the_ack_is_still_queued_for_its_resume(client, mock_aws, frames, caplog):
    """The ack is kept in the session: the client that resumes gets it, and then the reply."""
    connection_id = new_connection_id()
    frames.gone.add(connection_id)

    result = send(client, connection_id, {"action": "sendMessage", "message": "hello"})

    assert result == {"statusCode": 200}
    (queued,) = [json.loads(m["Body"]) for m in drain_queue(mock_aws.queue_url)]
    assert queued["message"] == "hello"


def test_enqueue_failure_after_the_ack_ends_with_processing_failed(client, mock_aws, frames, set_env, caplog):
    set_env(CHAT_QUEUE_NAME="no-such-queue")
    connection_id = new_connection_id()

    result = send(client, connection_id, {"action": "sendMessage", "message": "hello"})

    assert result == {"statusCode": 200}
    ack, error = frames.to(connection_id)
    assert ack["type"] == "ack"
    assert error["type"] == "error"
    assert error["code"] == protocol.PROCESSING_FAILED
    assert error["message_id"] == ack["message_id"]
    # The cause, in the shopper's words in the frame, and with its type and message in the log.
    assert error["message"] == (
        "the message could not be queued (a service it depends on failed); please send it again"
    )
    (failed,) = log_events(caplog, "enqueue_failed")
    assert failed["error"].startswith("QueueDoesNotExist: ")
    assert failed["error_type"] == "QueueDoesNotExist"
    assert drain_queue(mock_aws.queue_url) == []


# --- $default: frames that cannot be acted on ------------------------------------

BAD_FRAMES = [
    pytest.param("{not json", protocol.INVALID_JSON, id="invalid-json"),
    pytest.param('{"action": "ping"', protocol.INVALID_JSON, id="truncated-json"),
    pytest.param('["action", "ping"]', protocol.INVALID_JSON, id="json-array"),
    pytest.param('"ping"', protocol.INVALID_JSON, id="json-string"),
    pytest.param("42", protocol.INVALID_JSON, id="json-number"),
    pytest.param("null", protocol.INVALID_JSON, id="json-null"),
    pytest.param("", protocol.INVALID_JSON, id="empty"),
    pytest.param("  \n\t ", protocol.INVALID_JSON, id="whitespace-only"),
    pytest.param("{}", protocol.UNKNOWN_ACTION, id="missing-action"),
    pytest.param({"message": "hi"}, protocol.UNKNOWN_ACTION, id="message-without-action"),
    pytest.param({"action": "deleteEverything"}, protocol.UNKNOWN_ACTION, id="unknown-action"),
    pytest.param({"action": "sendmessage", "message": "hi"}, protocol.UNKNOWN_ACTION, id="action-wrong-case"),
    pytest.param({"action": ["ping"]}, protocol.UNKNOWN_ACTION, id="action-not-a-string"),
    pytest.param({"action": "sendMessage"}, protocol.INVALID_MESSAGE, id="missing-message"),
    pytest.param({"action": "sendMessage", "message": None}, protocol.INVALID_MESSAGE, id="null-message"),
    pytest.param({"action": "sendMessage", "message": 12}, protocol.INVALID_MESSAGE, id="number-message"),
    pytest.param({"action": "sendMessage", "message": ""}, protocol.INVALID_MESSAGE, id="empty-message"),
    pytest.param({"action": "sendMessage", "message": " \n\t "}, protocol.INVALID_MESSAGE, id="whitespace-message"),
    pytest.param({"action": "sendMessage", "message": "a" * 4001}, protocol.INVALID_MESSAGE, id="message-too-long"),
    pytest.param(
        {"action": "sendMessage", "message": " " + "a" * 4001 + " "}, protocol.INVALID_MESSAGE, id="too-long-stripped"
    ),
    pytest.param(
        {"action": "sendMessage", "message": "hi", "session_id": "has space"}, protocol.INVALID_MESSAGE, id="session-id"
    ),
    pytest.param(
        {"action": "sendMessage", "message": "hi", "session_id": "s" * 65}, protocol.INVALID_MESSAGE, id="long-session"
    ),
    pytest.param(
        {"action": "sendMessage", "message": "hi", "session_id": ""}, protocol.INVALID_MESSAGE, id="no-session"
    ),
    pytest.param(
        {"action": "sendMessage", "message": "hi", "session_id": 7}, protocol.INVALID_MESSAGE, id="int-session"
    ),
    pytest.param(
        {"action": "sendMessage", "message": "hi", "client_message_id": ""}, protocol.INVALID_MESSAGE, id="empty-cmid"
    ),
    pytest.param(
        {"action": "sendMessage", "message": "hi", "client_message_id": "c" * 65},
        protocol.INVALID_MESSAGE,
        id="long-client-message-id",
    ),
    pytest.param(
        {"action": "sendMessage", "message": "hi", "client_message_id": 5}, protocol.INVALID_MESSAGE, id="int-cmid"
    ),
]


@pytest.mark.parametrize(("body", "code"), BAD_FRAMES)
def test_bad_frame_gets_an_error_frame_and_queues_nothing(client, mock_aws, frames, caplog, body, code):
    connection_id = new_connection_id()

    result = send(client, connection_id, body)

    assert result == {"statusCode": 200}
    assert len(frames.posted) == 1
    assert frames.posted[0].connection_id == connection_id
    error = frames.posted[0].frame
    assert error["type"] == "error"
    assert error["code"] == code
    assert isinstance(error["message"], str) and error["message"]
    assert "message_id" not in error
    assert drain_queue(mock_aws.queue_url) == []
    assert [e["code"] for e in log_events(caplog, "rejected_frame")] == [code]


def test_binary_frame_gets_invalid_json(client, mock_aws, frames):
    """A base64-encoded (binary) body is not a JSON text frame."""
    connection_id = new_connection_id()
    payload = base64.b64encode(b"\x89PNG\r\n\x1a\n\x00\xff\xfe").decode("ascii")

    send(client, connection_id, payload, is_base64=True)

    assert [(f["type"], f["code"]) for f in frames.to(connection_id)] == [("error", protocol.INVALID_JSON)]
    assert drain_queue(mock_aws.queue_url) == []


def test_connection_stays_usable_after_a_bad_frame(client, mock_aws, frames):
    connection_id = new_connection_id()

    send(client, connection_id, "{oops")
    send(client, connection_id, {"action": "ping"})

    assert frames.types(connection_id) == ["error", "pong"]


def test_message_of_exactly_the_limit_is_accepted(client, mock_aws, frames):
    connection_id = new_connection_id()
    text = "a" * 4000  # the documented limit (docs/protocol.md)

    send(client, connection_id, {"action": "sendMessage", "message": "  " + text + "  "})

    assert frames.types(connection_id) == ["ack"]
    (message,) = drain_queue(mock_aws.queue_url)
    assert json.loads(message["Body"])["message"] == text


# --- $default: nothing goes unanswered --------------------------------------------

LONE_SURROGATE = "\\ud800"  # JSON text for an unpaired UTF-16 surrogate: valid JSON, not encodable as UTF-8


@pytest.mark.parametrize(
    "field, body",
    [
        ("client_message_id", '{"action":"sendMessage","message":"hi","client_message_id":"c-' + LONE_SURROGATE + '"}'),
        ("message", '{"action":"sendMessage","message":"hi ' + LONE_SURROGATE + ' there"}'),
    ],
)
def test_a_lone_surrogate_gets_invalid_message_and_is_not_queued(client, mock_aws, frames, field, body):
    connection_id = new_connection_id()

    result = send(client, connection_id, body)

    assert result == {"statusCode": 200}
    [error] = frames.to(connection_id)
    assert (error["type"], error["code"]) == ("error", protocol.INVALID_MESSAGE)
    assert field in error["message"]
    assert drain_queue(mock_aws.queue_url) == []


def invoke_with_context(event):
    from chalice.local import LambdaContext

    from app import app

    context = LambdaContext("message", memory_size=128)
    return app.handler_map["message"](event, context), context.aws_request_id


@pytest.mark.parametrize(
    "broken_call, where",
    [("chalicelib.ratelimit.allow", "before_the_message_id"), ("chalicelib.protocol.ack", "after_the_message_id")],
)
def test_an_unexpected_exception_answers_internal_error(mock_aws, frames, caplog, monkeypatch, broken_call, where):
    def broken(*args, **kwargs):
        raise RuntimeError("simulated bug")

    monkeypatch.setattr(broken_call, broken)
    connection_id = new_connection_id()
    body = {"action": "sendMessage", "message": "hi"}

    result, request_id = invoke_with_context(ws_event("$default", connection_id, body))

    assert result["statusCode"] == 200
    [error] = frames.to(connection_id)
    assert (error["type"], error["code"]) == ("error", protocol.INTERNAL_ERROR)
    assert error["message"] and "simulated bug" not in error["message"]  # no internals leak to the client
    [logged] = log_events(caplog, "internal_error")
    assert logged["request_id"] == request_id
    assert logged["connection_id"] == connection_id
    if where == "after_the_message_id":
        uuid.UUID(error["message_id"])
        assert logged["message_id"] == error["message_id"]
    else:
        assert "message_id" not in error
    assert drain_queue(mock_aws.queue_url) == []


def test_an_unexpected_exception_on_a_ping_still_answers(mock_aws, frames, caplog, monkeypatch):
    def broken():
        raise RuntimeError("simulated bug")

    monkeypatch.setattr("chalicelib.protocol.pong", broken)
    connection_id = new_connection_id()

    invoke_with_context(ws_event("$default", connection_id, {"action": "ping"}))

    assert [(f["type"], f["code"]) for f in frames.to(connection_id)] == [("error", protocol.INTERNAL_ERROR)]
    assert len(log_events(caplog, "internal_error")) == 1
