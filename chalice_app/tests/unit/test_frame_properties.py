"""Property-based tests over the frame parser: whatever arrives, the answer is either a
valid action or a valid error frame, never an exception; invalid input is never queued."""

import json
import uuid

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chalicelib import protocol
from chalicelib.errors import ProtocolError
from tests.unit.support import drain_queue, new_connection_id, ws_event

ERROR_CODES = {protocol.INVALID_JSON, protocol.UNKNOWN_ACTION, protocol.INVALID_MESSAGE}
# The limits docs/protocol.md promises, stated here (not read from protocol) so a wrong limit fails.
DOCUMENTED_MAX_MESSAGE_CHARS = 4000
DOCUMENTED_MAX_ID_CHARS = 64

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=50),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=12,
)
# Text that may hold lone UTF-16 surrogates: valid in JSON ("\\ud800"), with no UTF-8 form.
surrogates = st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF, exclude_categories=())
text_with_surrogates = st.lists(st.characters() | surrogates, max_size=70).map("".join)
frame_like = st.fixed_dictionaries(
    {},
    optional={
        "action": st.sampled_from(["ping", "sendMessage", "SENDMESSAGE", "", "other"]) | json_values,
        "message": st.text(max_size=4100) | text_with_surrogates | json_values,
        "session_id": st.from_regex(r"[A-Za-z0-9_-]{0,70}", fullmatch=True) | json_values,
        "client_message_id": st.text(max_size=70) | text_with_surrogates | json_values,
    },
)
any_body = st.binary(max_size=300) | st.text(max_size=300) | json_values.map(json.dumps) | frame_like.map(json.dumps)


def assert_valid_outcome(body):
    try:
        action = protocol.parse_frame(body)
    except ProtocolError as exc:
        frame = protocol.error(exc.code, exc.message)
        assert frame["type"] == "error" and frame["code"] in ERROR_CODES
        assert isinstance(frame["message"], str) and frame["message"]
        json.dumps(frame)  # always serialisable
        return None
    assert isinstance(action, (protocol.Ping, protocol.SendMessage))
    if isinstance(action, protocol.SendMessage):
        assert 1 <= len(action.message) <= DOCUMENTED_MAX_MESSAGE_CHARS
        assert action.message == action.message.strip()
        action.message.encode("utf-8")  # it can be queued and echoed
        if action.client_message_id is not None:
            action.client_message_id.encode("utf-8")
        assert action.session_id is None or protocol.SESSION_ID_PATTERN.fullmatch(action.session_id)
        assert action.client_message_id is None or 1 <= len(action.client_message_id) <= DOCUMENTED_MAX_ID_CHARS
    return action


@given(any_body)
@settings(max_examples=400, deadline=None)
def test_any_input_gives_an_action_or_an_error_frame(body):
    assert_valid_outcome(body)


@given(
    st.sampled_from(["message", "client_message_id"]),
    st.tuples(st.text(max_size=20), surrogates, st.text(max_size=20)).map("".join),
)
@settings(max_examples=100, deadline=None)
def test_a_lone_surrogate_anywhere_is_invalid_message(field, text):
    body = json.dumps({"action": "sendMessage", "message": "hello", field: text})  # "\\udXXX" in the JSON
    try:
        protocol.parse_frame(body)
    except ProtocolError as exc:
        assert exc.code == protocol.INVALID_MESSAGE
    else:
        raise AssertionError(f"{field}={text!r} was accepted")


@given(st.integers(1, DOCUMENTED_MAX_MESSAGE_CHARS), st.sampled_from(["a", "é", "😀"]))
@settings(max_examples=80, deadline=None)
def test_every_message_up_to_the_documented_limit_is_accepted(length, char):
    """Characters, not bytes nor UTF-16 units: 4,000 emoji are as welcome as 4,000 letters."""
    text = char * length
    action = protocol.parse_frame(json.dumps({"action": "sendMessage", "message": text}))
    assert action.message == text


@given(st.integers(DOCUMENTED_MAX_MESSAGE_CHARS + 1, DOCUMENTED_MAX_MESSAGE_CHARS + 200))
@settings(max_examples=40, deadline=None)
def test_every_message_over_the_documented_limit_is_refused(length):
    try:
        protocol.parse_frame(json.dumps({"action": "sendMessage", "message": "m" * length}))
    except ProtocolError as exc:
        assert exc.code == protocol.INVALID_MESSAGE
        assert str(DOCUMENTED_MAX_MESSAGE_CHARS) in exc.message
    else:
        raise AssertionError(f"a message of {length} characters was accepted")


def fresh_session_id(frame: dict) -> dict:
    """The tables outlive one example (hypothesis reuses the fixtures), so a session id drawn twice
    would name a session another connection made: owned by someone else, rightly refused. Each
    example's id is made its own (still within the protocol's 70 characters) so the rule under
    test stays "a valid message is queued"."""
    session_id = frame.get("session_id")
    if isinstance(session_id, str) and 1 <= len(session_id) <= 62:
        return {**frame, "session_id": uuid.uuid4().hex[:8] + session_id}
    return frame


@given(frame_like)
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_the_handler_queues_exactly_the_valid_messages(client, mock_aws, frames, set_env, frame):
    set_env(RATE_LIMIT_MESSAGES="0")
    body = json.dumps(fresh_session_id(frame))
    action = assert_valid_outcome(body)
    connection_id = new_connection_id()
    result = client.lambda_.invoke("message", ws_event("$default", connection_id, body)).payload
    assert result["statusCode"] == 200
    queued = drain_queue(mock_aws.queue_url)
    posted = frames.to(connection_id)
    assert len(posted) == 1
    if isinstance(action, protocol.SendMessage):
        assert len(queued) == 1 and posted[0]["type"] == "ack"
        assert json.loads(queued[0]["Body"])["message"] == action.message
    else:
        assert queued == []
        assert posted[0]["type"] == ("pong" if isinstance(action, protocol.Ping) else "error")
