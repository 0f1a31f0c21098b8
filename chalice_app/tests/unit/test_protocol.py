"""Wire protocol v1: parse_frame and the server frame builders (no I/O)."""

import json
import time

import pytest

from chalicelib import protocol
from chalicelib.protocol import Ping, ProtocolError, SendMessage, parse_frame


def test_ping():
    assert parse_frame('{"action": "ping"}') == Ping()


def test_ping_ignores_extra_fields():
    assert parse_frame('{"action": "ping", "message": 5, "nonce": [1]}') == Ping()


def test_send_message_with_all_fields():
    frame = json.dumps(
        {"action": "sendMessage", "message": "  red sneakers  ", "session_id": "Ab_9-x", "client_message_id": "m 1"}
    )

    assert parse_frame(frame) == SendMessage("red sneakers", "Ab_9-x", "m 1")


def test_send_message_optional_fields_default_to_none():
    assert parse_frame('{"action": "sendMessage", "message": "hi"}') == SendMessage("hi", None, None)


def test_send_message_explicit_nulls_are_absent_fields():
    frame = '{"action": "sendMessage", "message": "hi", "session_id": null, "client_message_id": null}'

    assert parse_frame(frame) == SendMessage("hi", None, None)


def test_unknown_fields_such_as_connection_id_are_ignored():
    frame = '{"action": "sendMessage", "message": "hi", "connection_id": "Other=", "domain": "x", "stage": "y"}'

    parsed = parse_frame(frame)

    assert parsed == SendMessage("hi", None, None)
    assert not hasattr(parsed, "connection_id")


def test_bytes_frames_are_decoded_as_utf8():
    body = json.dumps({"action": "sendMessage", "message": "größe 42 👟"}, ensure_ascii=False).encode("utf-8")

    assert parse_frame(body) == SendMessage("größe 42 👟")


def test_message_length_limit_counts_characters_after_stripping():
    exact = "é" * protocol.MAX_MESSAGE_CHARS
    assert parse_frame(json.dumps({"action": "sendMessage", "message": f"\n {exact} \t"})).message == exact

    with pytest.raises(ProtocolError) as raised:
        parse_frame(json.dumps({"action": "sendMessage", "message": exact + "é"}))
    assert raised.value.code == protocol.INVALID_MESSAGE
    assert str(protocol.MAX_MESSAGE_CHARS) in raised.value.message
    assert str(protocol.MAX_MESSAGE_CHARS + 1) in raised.value.message


@pytest.mark.parametrize(
    "session_id", ["a", "A" * 64, "abc-DEF_123", "0123456789abcdef0123456789abcdef"], ids=["1", "64", "mixed", "hex"]
)
def test_valid_session_ids(session_id):
    assert parse_frame(json.dumps({"action": "sendMessage", "message": "x", "session_id": session_id})).session_id == (
        session_id
    )


def test_client_message_id_of_64_characters_is_accepted():
    cmid = "c" * protocol.MAX_ID_CHARS

    assert parse_frame(json.dumps({"action": "sendMessage", "message": "x", "client_message_id": cmid})) == (
        SendMessage("x", None, cmid)
    )


INVALID = [
    # (body, code, words the message must contain)
    pytest.param(None, protocol.INVALID_JSON, "empty", id="none"),
    pytest.param("", protocol.INVALID_JSON, "empty", id="empty"),
    pytest.param(b"", protocol.INVALID_JSON, "empty", id="empty-bytes"),
    pytest.param(" \r\n", protocol.INVALID_JSON, "empty", id="whitespace"),
    pytest.param("{'action': 'ping'}", protocol.INVALID_JSON, "not valid JSON", id="single-quotes"),
    pytest.param("action=ping", protocol.INVALID_JSON, "not valid JSON", id="form-encoded"),
    pytest.param("[" * 100_000, protocol.INVALID_JSON, "not valid JSON", id="deeply-nested"),
    pytest.param("[]", protocol.INVALID_JSON, "JSON list", id="list"),
    pytest.param("true", protocol.INVALID_JSON, "JSON bool", id="bool"),
    pytest.param("3.5", protocol.INVALID_JSON, "JSON float", id="float"),
    pytest.param('"ping"', protocol.INVALID_JSON, "JSON str", id="string"),
    pytest.param("null", protocol.INVALID_JSON, "JSON NoneType", id="null"),
    pytest.param(b"\xff\xfe\x00{", protocol.INVALID_JSON, "not UTF-8", id="not-utf8"),
    pytest.param(b"\x89PNG\r\n\x1a\n", protocol.INVALID_JSON, "not UTF-8", id="binary"),
    pytest.param("{}", protocol.UNKNOWN_ACTION, 'missing "action"', id="no-action"),
    pytest.param('{"action": null}', protocol.UNKNOWN_ACTION, 'missing "action"', id="null-action"),
    pytest.param('{"action": "Ping"}', protocol.UNKNOWN_ACTION, "'Ping'", id="wrong-case"),
    pytest.param('{"action": "subscribe"}', protocol.UNKNOWN_ACTION, "'subscribe'", id="unknown"),
    pytest.param('{"action": 1}', protocol.UNKNOWN_ACTION, "'1'", id="number-action"),
    pytest.param('{"action": "sendMessage"}', protocol.INVALID_MESSAGE, '"message" is required', id="no-message"),
    pytest.param('{"action": "sendMessage", "message": ["hi"]}', protocol.INVALID_MESSAGE, "string", id="list-message"),
    pytest.param('{"action": "sendMessage", "message": ""}', protocol.INVALID_MESSAGE, "empty", id="empty-message"),
    pytest.param('{"action": "sendMessage", "message": " \\n\\t"}', protocol.INVALID_MESSAGE, "empty", id="blank"),
    pytest.param(
        json.dumps({"action": "sendMessage", "message": "x" * 4001}), protocol.INVALID_MESSAGE, "4001", id="too-long"
    ),
    pytest.param(
        '{"action": "sendMessage", "message": "x", "session_id": "a/b"}',
        protocol.INVALID_MESSAGE,
        "session_id",
        id="sid",
    ),
    pytest.param(
        json.dumps({"action": "sendMessage", "message": "x", "session_id": "s" * 65}),
        protocol.INVALID_MESSAGE,
        "session_id",
        id="sid-65",
    ),
    pytest.param(
        '{"action": "sendMessage", "message": "x", "session_id": "abc\\n"}',
        protocol.INVALID_MESSAGE,
        "session_id",
        id="sid-trailing-newline",
    ),
    pytest.param(
        '{"action": "sendMessage", "message": "x", "session_id": 12}',
        protocol.INVALID_MESSAGE,
        "session_id",
        id="sid-int",
    ),
    pytest.param(
        '{"action": "sendMessage", "message": "x", "client_message_id": ""}',
        protocol.INVALID_MESSAGE,
        "client_message_id",
        id="cmid-empty",
    ),
    pytest.param(
        json.dumps({"action": "sendMessage", "message": "x", "client_message_id": "c" * 65}),
        protocol.INVALID_MESSAGE,
        "client_message_id",
        id="cmid-65",
    ),
    pytest.param(
        '{"action": "sendMessage", "message": "x", "client_message_id": {"id": 1}}',
        protocol.INVALID_MESSAGE,
        "client_message_id",
        id="cmid-object",
    ),
]


@pytest.mark.parametrize(("body", "code", "explanation"), INVALID)
def test_invalid_frames_raise_protocol_error(body, code, explanation):
    with pytest.raises(ProtocolError) as raised:
        parse_frame(body)

    assert raised.value.code == code
    assert explanation in raised.value.message
    assert protocol.error(raised.value.code, raised.value.message) == {
        "type": "error",
        "code": code,
        "message": raised.value.message,
    }


def test_unknown_action_is_truncated_in_the_error():
    with pytest.raises(ProtocolError) as raised:
        parse_frame(json.dumps({"action": "x" * 1000}))

    assert len(raised.value.message) < 120
    assert '"ping", "sendMessage"' in raised.value.message


# --- server frames ----------------------------------------------------------


def test_encode_is_compact_utf8_json():
    assert protocol.encode({"type": "chunk", "delta": "größe"}) == '{"type":"chunk","delta":"größe"}'


def test_pong_carries_the_current_time():
    before = int(time.time() * 1000)

    frame = protocol.pong()

    assert frame["type"] == "pong"
    assert before <= frame["timestamp"] <= time.time() * 1000


def test_ack_status_chunk_response_frames():
    assert protocol.ack("m1", "s1", None, "hello") == {
        "type": "ack",
        "message_id": "m1",
        "client_message_id": None,
        "session_id": "s1",
        "status": "queued",
        "message": "hello",
    }
    assert protocol.status("m1", 250) == {
        "type": "status",
        "message_id": "m1",
        "status": "processing",
        "elapsed_ms": 250,
    }
    assert protocol.chunk("m1", 3, " shoes") == {"type": "chunk", "message_id": "m1", "seq": 3, "delta": " shoes"}
    assert protocol.response("m1", "s1", "done", [{"sku": "A1"}]) == {
        "type": "response",
        "message_id": "m1",
        "session_id": "s1",
        "content": "done",
        "products": [{"sku": "A1"}],
    }


def test_error_frame_includes_message_id_only_when_given():
    assert protocol.error(protocol.EXPIRED, "too old", "m1") == {
        "type": "error",
        "code": "expired",
        "message": "too old",
        "message_id": "m1",
    }
    assert "message_id" not in protocol.error(protocol.INVALID_JSON, "bad")
