"""Sessions the server issues and owns: ids, owner checks, cursors, who gets each frame
(live or replayed), the replay window, resume and stop.

The real handlers (Chalice's test client) on moto; frames captured at the Management API.
The frame log itself (``framelog.FrameLog``) is driven directly where a race must be staged.
"""

import json
import random
import threading
import time
import types

import boto3
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from chalicelib import auth, chat_queue, framelog, framestore, management, protocol, sessions
from chalicelib.config import settings
from chalicelib.errors import InvalidSessionError, SessionBusyError
from chalicelib.framelog import (
    NO_OWNER,
    QUEUED,
    REDELIVERED,
    RUNNING,
    STOPPED,
    STOPPING,
    FrameLog,
    Head,
    lease_wait,
    log_key,
    missing_cursors,
    owner_of,
)
from chalicelib.outbox import Outbox
from localcloud.motomain import serialize_item_writes
from tests.conftest import REGION
from tests.unit.support import DOMAIN, STAGE, drain_queue, log_events, new_connection_id, ws_event

SECRET = "unit-test-secret-that-is-long-enough"


def connect(client, connection_id, **query):
    return client.lambda_.invoke("connect", ws_event("$connect", connection_id, query=query or None)).payload


def send(client, connection_id, body):
    return client.lambda_.invoke("message", ws_event("$default", connection_id, body)).payload


def start_session(client, frames, connection_id, message="hello", **query):
    """Connect and send a first message; the server-issued session id from the ack."""
    connect(client, connection_id, **query)
    send(client, connection_id, {"action": "sendMessage", "message": message})
    ack = frames.to(connection_id)[-1]
    assert ack["type"] == "ack", ack
    return ack["session_id"]


def the_log():
    return FrameLog.from_settings(settings())


def new_session(log, connection_id="C1=", message_id="m1", owner=NO_OWNER):
    """A session made as the gateway makes one: its ack stored at cursor 1, the ack lease given
    back, ``message_id`` queued, ``connection_id`` attached (at 0)."""
    session_id = sessions.issue_session_id()
    log.create(session_id, owner, connection_id, message_id)
    ack = protocol.with_cursor(protocol.ack(message_id, session_id, None, "hello"), session_id, 1)
    assert log.store(session_id, 1, protocol.encode(ack)) is None
    log.end_ack(session_id, message_id)
    return session_id


def skip_text(session_id):
    """What a resume stores at a cursor its writer never stored (as the gateway's)."""
    return lambda cursor: protocol.encode(protocol.skipped(session_id, cursor))


def writer_outbox(session_id, message_id="m-processing"):
    """An outbox as chat_processor opens one for a message of the session."""
    return Outbox(management.for_endpoint(DOMAIN, STAGE), the_log(), session_id, message_id)


def wall_clock(monkeypatch, start=1_000_000.0):
    """``time.time()`` reads ``clock[0]`` (wherever the frame log reads it); the monotonic clock is real."""
    clock = [start]
    monkeypatch.setattr(time, "time", lambda: clock[0])
    return clock


def typed(frames):
    return [(frame["type"], frame.get("cursor")) for frame in frames]


# --- issuing ids ------------------------------------------------------------------------


def test_issued_ids_carry_128_random_bits_in_the_session_id_alphabet():
    issued = {sessions.issue_session_id() for _ in range(2000)}
    assert len(issued) == 2000
    for session_id in issued:
        assert len(session_id) == 22  # 16 bytes, base64url without padding
        assert protocol.SESSION_ID_PATTERN.fullmatch(session_id)


def test_a_made_up_session_id_gets_invalid_session_and_nothing_is_queued(client, mock_aws, frames, caplog):
    connection_id = new_connection_id()
    connect(client, connection_id)

    send(client, connection_id, {"action": "sendMessage", "message": "my cart", "session_id": "s1"})

    [frame] = frames.to(connection_id)
    assert (frame["type"], frame["code"]) == ("error", "invalid_session")
    assert "message_id" not in frame and "cursor" not in frame
    assert drain_queue(mock_aws.queue_url) == []
    assert the_log().read("s1") is None  # nothing was created under the made-up id


def test_an_id_shaped_like_an_issued_one_is_still_refused(client, mock_aws, frames):
    connection_id = new_connection_id()
    connect(client, connection_id)
    forged = sessions.issue_session_id()  # right shape, never issued

    send(client, connection_id, {"action": "sendMessage", "message": "hi", "session_id": forged})
    send(client, connection_id, {"action": "resume", "session_id": forged, "after": 0})
    send(client, connection_id, {"action": "stop", "session_id": forged, "message_id": "m1"})

    assert [(f["type"], f["code"]) for f in frames.to(connection_id)] == [("error", "invalid_session")] * 3
    assert drain_queue(mock_aws.queue_url) == []
    assert the_log().read(forged) is None


def test_a_new_session_is_owned_by_the_connection_that_made_it(client, mock_aws, frames):
    connection_id = new_connection_id()
    session_id = start_session(client, frames, connection_id)
    [ack] = frames.to(connection_id)

    head = the_log().read(session_id)
    assert head.owner == NO_OWNER and head.connections == frozenset({connection_id})
    assert head.cursor == 1 and head.attached == {connection_id: 0}  # attached before its ack: it got it live
    assert head.messages == {ack["message_id"]: QUEUED}


def test_owner_of_is_the_subject_or_whoever_holds_the_id():
    assert owner_of("alice") == "s:alice"
    assert owner_of(None) == owner_of("") == NO_OWNER
    assert log_key("abc") == "abc#log"


@given(st.from_regex(auth.SUBJECT_PATTERN, fullmatch=True), st.from_regex(auth.SUBJECT_PATTERN, fullmatch=True))
@example("-", "alice")
def test_no_subject_shares_an_owner_with_no_subject_or_another_subject(subject, other):
    """A subject of ``-`` used to be the owner of every session made without auth or with an API key."""
    assert owner_of(subject) != owner_of(None)
    assert (owner_of(subject) == owner_of(other)) == (subject == other)


# --- owners ---------------------------------------------------------------------------


def test_without_auth_whoever_holds_the_issued_id_continues_the_session(client, mock_aws, frames):
    first, second = new_connection_id(), new_connection_id()
    session_id = start_session(client, frames, first)
    connect(client, second)

    send(client, second, {"action": "sendMessage", "message": "again", "session_id": session_id})

    [ack] = frames.to(second)
    assert (ack["type"], ack["session_id"], ack["cursor"]) == ("ack", session_id, 2)
    assert frames.to(first)[-1] == ack  # both are attached: the second ack reached the first too
    head = the_log().read(session_id)
    assert head.connections == frozenset({first, second}) and head.attached[second] == 1


def test_with_auth_another_subject_cannot_read_write_or_stop_the_session(client, mock_aws, frames, set_env):
    set_env(AUTH_TOKEN_SECRET=SECRET)
    alice, mallory = new_connection_id(), new_connection_id()
    session_id = start_session(
        client, frames, alice, "add the first one to my cart", token=auth.sign(SECRET, "alice", 600)
    )
    message_id = frames.to(alice)[0]["message_id"]
    connect(client, mallory, token=auth.sign(SECRET, "mallory", 600))
    drain_queue(mock_aws.queue_url, delete=True)

    send(client, mallory, {"action": "sendMessage", "message": "clear my cart", "session_id": session_id})
    send(client, mallory, {"action": "resume", "session_id": session_id, "after": 0})
    send(client, mallory, {"action": "stop", "session_id": session_id, "message_id": message_id})

    assert [(f["type"], f["code"]) for f in frames.to(mallory)] == [("error", "invalid_session")] * 3
    assert drain_queue(mock_aws.queue_url) == []
    head = the_log().read(session_id)
    assert head.owner == owner_of("alice") and head.connections == frozenset({alice})
    assert head.cursor == 1 and head.messages == {message_id: QUEUED}  # not stopped


def test_with_auth_the_same_subject_on_a_new_connection_continues(client, mock_aws, frames, set_env):
    set_env(AUTH_TOKEN_SECRET=SECRET)
    first, second = new_connection_id(), new_connection_id()
    session_id = start_session(client, frames, first, token=auth.sign(SECRET, "alice", 600))
    connect(client, second, token=auth.sign(SECRET, "alice", 600))

    send(client, second, {"action": "resume", "session_id": session_id, "after": 0})

    replayed = frames.to(second)
    assert [f["type"] for f in replayed] == ["ack", "resumed"]
    assert replayed[-1] == {"type": "resumed", "session_id": session_id, "cursor": 1}


def test_the_owner_check_holds_with_the_rate_limits_off(client, mock_aws, frames, set_env):
    """No counter update returns the subject then: the connection record is read instead."""
    set_env(AUTH_TOKEN_SECRET=SECRET, RATE_LIMIT_MESSAGES="0", RATE_LIMIT_SUBJECT_MESSAGES="0")
    alice, mallory = new_connection_id(), new_connection_id()
    session_id = start_session(client, frames, alice, token=auth.sign(SECRET, "alice", 600))
    connect(client, mallory, token=auth.sign(SECRET, "mallory", 600))

    send(client, mallory, {"action": "resume", "session_id": session_id, "after": 0})

    assert [(f["type"], f.get("code")) for f in frames.to(mallory)] == [("error", "invalid_session")]
    assert the_log().read(session_id).owner == owner_of("alice")


def test_a_subject_of_dash_cannot_use_a_session_of_an_api_key_connection(client, mock_aws, frames, set_env):
    set_env(AUTH_TOKEN_SECRET=SECRET, AUTH_API_KEYS="integration-key")
    integration, dash = new_connection_id(), new_connection_id()
    session_id = start_session(client, frames, integration, token="integration-key")
    message_id = frames.to(integration)[0]["message_id"]
    connect(client, dash, token=auth.sign(SECRET, "-", 600))
    drain_queue(mock_aws.queue_url, delete=True)

    send(client, dash, {"action": "resume", "session_id": session_id, "after": 0})
    send(client, dash, {"action": "sendMessage", "message": "mine now", "session_id": session_id})
    send(client, dash, {"action": "stop", "session_id": session_id, "message_id": message_id})

    assert [(f["type"], f.get("code")) for f in frames.to(dash)] == [("error", "invalid_session")] * 3
    assert drain_queue(mock_aws.queue_url) == []
    assert the_log().read(session_id).connections == frozenset({integration})


def test_an_expired_session_is_invalid(client, mock_aws, frames):
    connection_id = new_connection_id()
    session_id = start_session(client, frames, connection_id)
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    dynamodb.update_item(
        TableName=settings().sessions_table,
        Key={"session_id": {"S": log_key(session_id)}},
        UpdateExpression="SET #ttl = :past",
        ExpressionAttributeNames={"#ttl": "ttl"},
        ExpressionAttributeValues={":past": {"N": str(int(time.time()) - 1)}},
    )
    drain_queue(mock_aws.queue_url, delete=True)

    send(client, connection_id, {"action": "sendMessage", "message": "still there?", "session_id": session_id})
    send(client, connection_id, {"action": "resume", "session_id": session_id, "after": 0})

    assert [(f["type"], f.get("code")) for f in frames.to(connection_id)[1:]] == [("error", "invalid_session")] * 2
    assert drain_queue(mock_aws.queue_url) == []
    assert the_log().read(session_id) is None


def test_connect_attaches_only_a_session_the_client_owns(client, mock_aws, frames, caplog):
    owner, other = new_connection_id(), new_connection_id()
    session_id = start_session(client, frames, owner)

    connect(client, other, session_id="made-up")
    assert the_log().read(session_id).connections == frozenset({owner})
    assert log_events(caplog, "invalid_session")[0]["at"] == "connect"

    connect(client, other, session_id=session_id)
    head = the_log().read(session_id)
    assert head.connections == frozenset({owner, other}) and head.attached[other] == 1


def test_disconnect_detaches_the_connection(client, mock_aws, frames):
    first, second, third = new_connection_id(), new_connection_id(), new_connection_id()
    session_id = start_session(client, frames, first)
    connect(client, second, session_id=session_id)  # attached at $connect
    connect(client, third)
    send(client, third, {"action": "resume", "session_id": session_id, "after": 1})  # attached by resume

    client.lambda_.invoke("disconnect", ws_event("$disconnect", second))
    client.lambda_.invoke("disconnect", ws_event("$disconnect", third))
    assert the_log().read(session_id).connections == frozenset({first})

    client.lambda_.invoke("disconnect", ws_event("$disconnect", first))  # attached by its sendMessage
    assert the_log().read(session_id).connections == frozenset()
    writer_outbox(session_id).status(0)  # a frame of the session now reaches no one
    assert [len(frames.to(c)) for c in (first, second, third)] == [1, 0, 1]


# --- cursors ---------------------------------------------------------------------------


def test_cursors_grow_by_one_per_frame_across_messages(client, mock_aws, frames):
    connection_id = new_connection_id()
    session_id = start_session(client, frames, connection_id, "one")
    send(client, connection_id, {"action": "sendMessage", "message": "two", "session_id": session_id})
    send(client, connection_id, {"action": "sendMessage", "message": "three", "session_id": session_id})

    acks = frames.to(connection_id)
    assert [(ack["type"], ack["cursor"]) for ack in acks] == [("ack", 1), ("ack", 2), ("ack", 3)]
    assert the_log().read(session_id).cursor == 3


def test_concurrent_writers_never_share_a_cursor(mock_aws):
    """The gateway acking while chat_processor streams: each frame its own cursor, none lost.

    moto's item writes are made atomic first, as DynamoDB's are (localcloud.motomain)."""
    serialize_item_writes()
    log = the_log()
    session_id = new_session(log)
    errors, skipped = [], []

    def writer(name):
        try:
            for index in range(10):
                head = log.take_cursor(session_id, name)
                text = json.dumps({"who": name, "i": index, "cursor": head.cursor})
                skipped.append(log.store(session_id, head.cursor, text))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(name,)) for name in ("gateway", "processor", "heartbeat")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == [] and skipped == [None] * 30
    assert the_log().read(session_id).cursor == 31
    kept = log.replay(session_id, 0, 31, skip_text(session_id))
    assert [cursor for cursor, _ in kept] == list(range(1, 32))
    stored = [json.loads(text) for _, text in kept]
    assert [frame["cursor"] for frame in stored] == list(range(1, 32))
    for name in ("gateway", "processor", "heartbeat"):
        assert [frame["i"] for frame in stored if frame.get("who") == name] == list(range(10))


def test_an_ack_for_another_owner_is_refused_and_changes_nothing(mock_aws):
    log = the_log()
    session_id = new_session(log, "C1=", owner="alice")
    with pytest.raises(InvalidSessionError):
        log.begin_ack(session_id, "mallory", "C2=", "m2")
    with pytest.raises(InvalidSessionError):
        log.attach(session_id, "mallory", "C2=")
    head = log.read(session_id)
    assert head.cursor == 1 and head.connections == {"C1="} and head.messages == {"m1": QUEUED}


def test_each_frame_is_its_own_small_item_and_the_head_stays_small(mock_aws):
    """The cost rule: one write of one small item per frame, however long the session."""
    log = the_log()
    session_id = new_session(log)
    for _ in range(300):
        head = log.take_cursor(session_id, "m1")
        log.store(session_id, head.cursor, "x" * 500)

    dynamodb = boto3.client("dynamodb", region_name=REGION)
    item = dynamodb.get_item(TableName=settings().sessions_table, Key={"session_id": {"S": log_key(session_id)}})
    assert len(json.dumps(item["Item"])) < 400
    assert dynamodb.describe_table(TableName=settings().frames_table)["Table"]["ItemCount"] == 301
    assert log.read(session_id).cursor == 301


# --- the ack lease: a session's messages reach the queue in acked order ---------------


def test_an_ack_waits_while_another_ack_of_the_session_holds_the_lease(mock_aws):
    serialize_item_writes()
    log = the_log()
    session_id = sessions.issue_session_id()
    log.create(session_id, NO_OWNER, "C1=", "m1")  # holds the lease until m1 is enqueued
    taken = threading.Event()

    def second_ack():
        log.begin_ack(session_id, NO_OWNER, "C1=", "m2")
        taken.set()

    thread = threading.Thread(target=second_ack)
    thread.start()
    assert not taken.wait(0.3)  # m1 has not been enqueued yet
    log.end_ack(session_id, lease="m2")  # giving back a lease one does not hold changes nothing
    assert not taken.wait(0.2)
    log.end_ack(session_id, lease="m1")
    assert taken.wait(5)
    thread.join()
    assert log.read(session_id).cursor == 2


def test_a_lease_that_is_never_given_back_lapses(mock_aws, monkeypatch):
    log = the_log()
    clock = wall_clock(monkeypatch)
    session_id = sessions.issue_session_id()
    log.create(session_id, NO_OWNER, "C1=", "died")

    clock[0] += framelog.ACK_LEASE_SECONDS + 1
    head = log.begin_ack(session_id, NO_OWNER, "C2=", "m2")

    assert head.connections == {"C1=", "C2="} and head.cursor == 2


def test_a_lease_held_past_its_wait_is_session_busy(mock_aws, monkeypatch):
    log = the_log()
    session_id = sessions.issue_session_id()
    log.create(session_id, NO_OWNER, "C1=", "m1")
    clock = iter([0.0])  # the second look is past the wait
    fake = types.SimpleNamespace(
        time=time.time, sleep=lambda seconds: None, monotonic=lambda: next(clock, framelog.ACK_LEASE_SECONDS + 2.0)
    )
    monkeypatch.setattr(framelog, "time", fake)
    with pytest.raises(SessionBusyError):
        log.begin_ack(session_id, NO_OWNER, "C1=", "m2")
    assert log.read(session_id).cursor == 1


def test_lease_waits_start_short_and_stay_short():
    waits = [lease_wait(attempt) for attempt in range(10)]
    assert waits[0] == 0.005 and waits == sorted(waits) and max(waits) == 0.05


def test_two_messages_sent_at_once_reach_the_queue_in_acked_order(client, mock_aws, frames, monkeypatch):
    """Two $default invocations for one session at the same instant: the one acked first is
    slow to enqueue; the other must not overtake it (FIFO then runs them in acked order)."""
    serialize_item_writes()
    connection_id = new_connection_id()
    session_id = start_session(client, frames, connection_id, "zero")
    drain_queue(mock_aws.queue_url, delete=True)
    real_enqueue, calls = chat_queue.enqueue, []

    def enqueue(envelope):
        calls.append(envelope.message)
        if len(calls) == 1:
            time.sleep(0.5)  # the first to get here is slow to reach SQS
        real_enqueue(envelope)

    monkeypatch.setattr(chat_queue, "enqueue", enqueue)
    threads = [
        threading.Thread(
            target=send,
            args=(client, connection_id, {"action": "sendMessage", "message": text, "session_id": session_id}),
        )
        for text in ("one", "two")
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    acks = sorted(
        (f for f in frames.to(connection_id) if f["type"] == "ack" and f["cursor"] > 1), key=lambda f: f["cursor"]
    )
    queued = [json.loads(m["Body"])["message_id"] for m in drain_queue(mock_aws.queue_url, delete=True)]
    assert len(acks) == 2 and queued == [ack["message_id"] for ack in acks]


# --- who gets a frame: the attach cursor splits live from replayed ---------------------


def test_an_attach_records_the_heads_cursor_at_that_instant_and_a_second_attach_keeps_it(mock_aws):
    log = the_log()
    session_id = new_session(log, "C1=")
    assert log.read(session_id).attached == {"C1=": 0}
    log.take_cursor(session_id, "m1")
    log.take_cursor(session_id, "m1")  # cursor 3

    head = log.attach(session_id, NO_OWNER, "C2=")
    assert head.cursor == 3 and head.attached == {"C1=": 0, "C2=": 3}

    taken = log.take_cursor(session_id, "m1")  # cursor 4: taken after the attach, its list has C2=
    assert taken.cursor == 4 and taken.connections == {"C1=", "C2="}
    again = log.attach(session_id, NO_OWNER, "C2=")
    assert again.cursor == 4 and again.attached["C2="] == 3  # the first attach's, not 4
    assert log.read(session_id).attached == {"C1=": 0, "C2=": 3}

    acked = log.begin_ack(session_id, NO_OWNER, "C3=", "m2")  # an ack attaches before taking its own cursor
    assert acked.cursor == 5 and acked.attached["C3="] == 4
    log.detach(session_id, ["C2="])
    assert log.attach(session_id, NO_OWNER, "C2=").attached["C2="] == 5  # detached, then attached anew


def test_frames_taken_after_an_attach_come_live_and_earlier_ones_are_replayed_never_twice(client, mock_aws, frames):
    first, later, resumer = new_connection_id(), new_connection_id(), new_connection_id()
    session_id = start_session(client, frames, first, "one")  # the ack: cursor 1
    box = writer_outbox(session_id, frames.to(first)[0]["message_id"])
    box.status(0)  # cursor 2: taken before anyone else attached

    connect(client, later, session_id=session_id)  # attached at 2
    connect(client, resumer)
    send(client, resumer, {"action": "resume", "session_id": session_id, "after": 0})  # attached at 2
    head = the_log().read(session_id)
    assert head.attached[later] == head.attached[resumer] == 2
    assert frames.to(later) == []  # nothing at or below its attach cursor is posted to it
    assert typed(frames.to(resumer)) == [("ack", 1), ("status", 2), ("resumed", 2)]  # ... it is replayed

    box.delta("Hi")  # cursor 3: taken after the attaches, live to every connection
    assert typed(frames.to(later)) == [("chunk", 3)]
    assert typed(frames.to(resumer))[-1] == ("chunk", 3)

    send(client, later, {"action": "resume", "session_id": session_id, "after": 0})
    assert typed(frames.to(later)) == [("chunk", 3), ("ack", 1), ("status", 2), ("resumed", 2)]  # no chunk again
    box.response("Hi", [])  # cursor 4, live
    send(client, later, {"action": "resume", "session_id": session_id, "after": 4})
    send(client, resumer, {"action": "resume", "session_id": session_id, "after": 2})

    for connection_id in (first, later, resumer):
        got = [f for f in frames.to(connection_id) if f["type"] != "resumed"]
        assert sorted(f["cursor"] for f in got) == [1, 2, 3, 4], connection_id  # each frame exactly once
        assert [f for f in got if f["cursor"] == 4] == [frames.to(first)[-1]]
    assert typed(frames.to(later))[-1] == ("resumed", 4)
    assert typed(frames.to(resumer))[-1] == ("resumed", 2)  # its attach cursor: 3 and 4 came live


def test_a_frame_taken_just_before_an_attach_but_stored_after_is_replayed_once(client, mock_aws, frames, monkeypatch):
    """The writer's list predates the attach, its store comes after the resume read the frames:
    the resume waits for that cursor and replays it; the next frame comes live."""
    first, later = new_connection_id(), new_connection_id()
    session_id = start_session(client, frames, first, "one")
    connect(client, later)
    box = writer_outbox(session_id)
    take, resume = box.frames.take_cursor, []

    def take_then_resume(*args, **kwargs):
        head = take(*args, **kwargs)  # cursor 2; its list: `first` only
        if not resume:
            body = {"action": "resume", "session_id": session_id, "after": 0}
            resume.append(threading.Thread(target=send, args=(client, later, body)))
            resume[0].start()
            time.sleep(0.3)  # slow to store: the resume attaches at 2 and waits for it
        return head

    monkeypatch.setattr(box.frames, "take_cursor", take_then_resume)
    box.status(0)
    resume[0].join()
    assert typed(frames.to(later)) == [("ack", 1), ("status", 2), ("resumed", 2)]
    assert frames.to(later)[1] == frames.to(first)[1]  # the writer's frame, not a skip

    box.delta("Hi")
    assert typed(frames.to(later))[-1] == ("chunk", 3) and typed(frames.to(first))[-1] == ("chunk", 3)


# --- frames taken but not (yet) stored ---------------------------------------------------


def test_missing_cursors_are_the_unstored_ones_in_after_upto():
    assert missing_cursors(0, 5, [1, 2, 4]) == [3, 5]
    assert missing_cursors(2, 5, []) == [3, 4, 5]
    assert missing_cursors(2, 5, [1, 3, 4, 5, 6]) == []
    assert missing_cursors(5, 5, []) == [] and missing_cursors(6, 5, []) == []
    assert missing_cursors(0, 0, []) == []


def test_missing_cursors_below_the_newest_frame_older_than_the_window_are_not_waited_for():
    assert missing_cursors(0, 8, [3, 5, 7], old=[3, 5]) == [6, 8]  # 1, 2, 4: the TTL may have taken them
    assert missing_cursors(6, 8, [3, 5, 7], old=[3, 5]) == [8]  # after is above every old frame
    assert missing_cursors(0, 5, [5], old=[5]) == []


@given(
    after=st.integers(0, 30),
    upto=st.integers(0, 30),
    stored=st.sets(st.integers(1, 40)),
    old=st.sets(st.integers(1, 40)),
)
def test_missing_cursors_property(after, upto, stored, old):
    stored = stored | old  # an old frame is one that was read
    missing = missing_cursors(after, upto, stored, old)
    assert missing == sorted(set(missing))
    floor = max([after, *old])
    for cursor in range(0, 42):
        assert (cursor in missing) == (floor < cursor <= upto and cursor not in stored), cursor


def test_replay_waits_for_a_cursor_taken_but_not_yet_stored(mock_aws):
    serialize_item_writes()
    log = the_log()
    session_id = new_session(log)
    assert log.take_cursor(session_id, "m1").cursor == 2  # its writer is slow to store it
    stores = []
    late = threading.Timer(0.2, lambda: stores.append(log.store(session_id, 2, "the late frame")))
    started = time.monotonic()
    late.start()

    kept = log.replay(session_id, 0, 2, skip_text(session_id))

    waited = time.monotonic() - started
    late.join()
    assert [(cursor, text) for cursor, text in kept[1:]] == [(2, "the late frame")] and kept[0][0] == 1
    assert stores == [None]  # the writer's store went in: nothing was skipped
    assert 0.2 <= waited < framelog.STORE_WAIT_SECONDS


def test_replay_skips_a_cursor_never_stored_and_the_late_writer_learns_the_skip(mock_aws, monkeypatch):
    monkeypatch.setattr(framelog, "STORE_WAIT_SECONDS", 0.1)
    log = the_log()
    session_id = new_session(log)
    log.take_cursor(session_id, "m1")  # cursor 2: its writer stalls
    log.store(session_id, log.take_cursor(session_id, "m1").cursor, "frame 3")
    skip = protocol.encode(protocol.skipped(session_id, 2))

    kept = log.replay(session_id, 0, 3, skip_text(session_id))

    assert [cursor for cursor, _ in kept] == [1, 2, 3]
    assert json.loads(kept[1][1]) == {"type": "skipped", "session_id": session_id, "cursor": 2}
    assert kept[2] == (3, "frame 3")
    assert log.store(session_id, 2, "the late frame") == skip  # its writer learns it was skipped
    assert log.store(session_id, 3, "frame 3") is None  # storing what is there already is fine
    assert log.replay(session_id, 1, 3, skip_text(session_id)) == [(2, skip), (3, "frame 3")]  # the skip stays


def test_an_outbox_whose_cursor_was_skipped_posts_the_skip_and_sends_at_a_new_cursor(mock_aws, frames, monkeypatch):
    monkeypatch.setattr(framelog, "STORE_WAIT_SECONDS", 0.05)
    log = the_log()
    session_id = new_session(log, "C1=")
    log.attach(session_id, NO_OWNER, "C2=")
    box = Outbox(management.for_endpoint(DOMAIN, STAGE), log, session_id, "m1")
    take, skipped = log.take_cursor, []

    def take_then_stall(*args, **kwargs):
        head = take(*args, **kwargs)
        if not skipped:  # the writer stalls past a resume's wait: the resume skips its cursor
            skipped.append(log.replay(session_id, head.cursor - 1, head.cursor, skip_text(session_id)))
        return head

    monkeypatch.setattr(log, "take_cursor", take_then_stall)
    assert box.status(0) == 2

    skip = {"type": "skipped", "session_id": session_id, "cursor": 2}
    status = {**protocol.status("m1", 0), "session_id": session_id, "cursor": 3}
    assert [json.loads(text) for _, text in skipped[0]] == [skip]
    assert frames.to("C1=") == frames.to("C2=") == [skip, status]
    assert box.cursor == 3
    assert [json.loads(text) for _, text in log.replay(session_id, 1, 3, skip_text(session_id))] == [skip, status]


def test_a_resume_skips_a_cursor_whose_writer_died_before_storing_it(client, mock_aws, frames, monkeypatch):
    monkeypatch.setattr(framelog, "STORE_WAIT_SECONDS", 0.1)
    first, later = new_connection_id(), new_connection_id()
    session_id = start_session(client, frames, first)
    the_log().take_cursor(session_id, "m-died")  # cursor 2, never stored
    connect(client, later)

    send(client, later, {"action": "resume", "session_id": session_id, "after": 0})

    assert frames.to(later) == [
        frames.to(first)[0],
        {"type": "skipped", "session_id": session_id, "cursor": 2},
        {"type": "resumed", "session_id": session_id, "cursor": 2},
    ]


# --- the replay window -----------------------------------------------------------------


def test_replay_is_after_the_cursor_within_the_window_in_cursor_order(mock_aws, monkeypatch):
    clock = wall_clock(monkeypatch)
    start = clock[0]
    config = settings()
    log = FrameLog(config.sessions_table, config.frames_table, ttl_seconds=3600, window_seconds=1000)
    session_id = sessions.issue_session_id()
    log.create(session_id, NO_OWNER, "C1=", "m1")
    log.store(session_id, 1, "a")
    for later, text in ((500, "b"), (900, "c"), (1000, "e")):
        clock[0] = start + later
        log.store(session_id, log.take_cursor(session_id, "m1").cursor, text)
    skip = skip_text(session_id)

    assert log.replay(session_id, 0, 4, skip) == [(1, "a"), (2, "b"), (3, "c"), (4, "e")]
    assert log.replay(session_id, 2, 4, skip) == [(3, "c"), (4, "e")]
    assert log.replay(session_id, 0, 3, skip) == [(1, "a"), (2, "b"), (3, "c")]
    assert log.replay(session_id, 4, 4, skip) == []
    narrow = FrameLog(config.sessions_table, config.frames_table, ttl_seconds=3600, window_seconds=100)
    assert narrow.replay(session_id, 0, 4, skip) == [(3, "c"), (4, "e")]


def test_frames_older_than_the_window_are_not_replayed_but_their_cursors_stay_taken(mock_aws, monkeypatch):
    clock = wall_clock(monkeypatch)
    config = settings()
    log = FrameLog(config.sessions_table, config.frames_table, ttl_seconds=3600, window_seconds=900)
    session_id = sessions.issue_session_id()
    log.create(session_id, NO_OWNER, "C1=", "m1")
    log.store(session_id, 1, "frame 1")
    log.store(session_id, log.take_cursor(session_id, "m1").cursor, "frame 2")
    clock[0] += 901  # the first two are now outside RESUME_WINDOW_SECONDS
    assert log.replay(session_id, 0, 2, skip_text(session_id)) == []  # nothing to replay, nothing skipped

    head = log.take_cursor(session_id, "m1")
    log.store(session_id, head.cursor, "frame 3")

    assert head.cursor == 3
    assert log.replay(session_id, 0, 3, skip_text(session_id)) == [(3, "frame 3")]


def test_a_frame_gone_below_an_old_frame_is_neither_waited_for_nor_skipped(mock_aws, monkeypatch):
    """DynamoDB's TTL deletes old frames, never a writer's store: below a kept frame older than the
    window, a missing cursor is one the TTL took."""
    clock = wall_clock(monkeypatch)
    config = settings()
    log = FrameLog(config.sessions_table, config.frames_table, ttl_seconds=3600, window_seconds=900)
    session_id = new_session(log)  # frame 1
    log.store(session_id, log.take_cursor(session_id, "m1").cursor, "frame 2")
    clock[0] += 901
    log.store(session_id, log.take_cursor(session_id, "m1").cursor, "frame 3")
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    frame_1 = {"session_id": {"S": session_id}, "cursor": {"N": "1"}}
    dynamodb.delete_item(TableName=config.frames_table, Key=frame_1)
    started = time.monotonic()

    assert log.replay(session_id, 0, 3, skip_text(session_id)) == [(3, "frame 3")]

    assert time.monotonic() - started < framelog.STORE_WAIT_SECONDS  # not waited for
    assert "Item" not in dynamodb.get_item(TableName=config.frames_table, Key=frame_1)  # not skipped


def test_the_resume_window_is_configurable():
    from chalicelib.config import load

    assert load({}).resume_window_seconds == 900
    assert load({"RESUME_WINDOW_SECONDS": "1800"}).resume_window_seconds == 1800


# --- resume ----------------------------------------------------------------------------


def test_resume_replays_every_kept_frame_after_the_cursor_then_resumed(client, mock_aws, frames):
    connection_id, later = new_connection_id(), new_connection_id()
    session_id = start_session(client, frames, connection_id, "one")
    send(client, connection_id, {"action": "sendMessage", "message": "two", "session_id": session_id})
    connect(client, later)

    send(client, later, {"action": "resume", "session_id": session_id, "after": 0})
    send(client, later, {"action": "resume", "session_id": session_id, "after": 1})
    send(client, later, {"action": "resume", "session_id": session_id, "after": 2})

    got = frames.to(later)
    assert typed(got) == [
        ("ack", 1),
        ("ack", 2),
        ("resumed", 2),
        ("ack", 2),
        ("resumed", 2),
        ("resumed", 2),
    ]
    assert got[:2] == frames.to(connection_id)  # the very frames the first connection got
    assert drain_queue(mock_aws.queue_url, delete=True) and the_log().read(session_id).cursor == 2


@pytest.mark.parametrize(
    "body",
    [
        {"action": "resume"},
        {"action": "resume", "session_id": "bad id!"},
        {"action": "resume", "session_id": "abc", "after": -1},
        {"action": "resume", "session_id": "abc", "after": "3"},
        {"action": "resume", "session_id": "abc", "after": True},
    ],
)
def test_a_malformed_resume_gets_invalid_message(client, mock_aws, frames, body):
    connection_id = new_connection_id()
    send(client, connection_id, body)
    [frame] = frames.to(connection_id)
    assert (frame["type"], frame["code"]) == ("error", "invalid_message")


def test_resume_has_its_own_budget_and_is_never_queued(client, mock_aws, frames, set_env):
    """Resumes used to count as messages: a connection out of messages could not resume."""
    set_env(RATE_LIMIT_MESSAGES="1", RESUME_RATE_LIMIT="2", RATE_LIMIT_WINDOW_SECONDS="86400")
    connection_id = new_connection_id()
    session_id = start_session(client, frames, connection_id)  # the one message of the window
    drain_queue(mock_aws.queue_url, delete=True)

    for _ in range(3):
        send(client, connection_id, {"action": "resume", "session_id": session_id, "after": 1})
    send(client, connection_id, {"action": "sendMessage", "message": "again", "session_id": session_id})

    sent = frames.to(connection_id)
    assert [f["type"] for f in sent] == ["ack", "resumed", "resumed", "error", "error"]
    assert "at most 2 resumes per 86400 s per connection" in sent[3]["message"]
    assert "at most 1 messages per 86400 s" in sent[4]["message"]
    assert drain_queue(mock_aws.queue_url) == []


def test_a_reconnect_storm_behind_one_address_resumes_with_the_defaults(client, mock_aws, frames):
    """50 shoppers behind one address lose Wi-Fi together: each resumes on a new connection."""
    owners = [new_connection_id() for _ in range(50)]
    sessions = [start_session(client, frames, owner) for owner in owners]
    resumed = []
    for session_id in sessions:
        connection_id = new_connection_id()
        connect(client, connection_id)
        send(client, connection_id, {"action": "resume", "session_id": session_id, "after": 0})
        resumed.append([f["type"] for f in frames.to(connection_id)])
    assert resumed == [["ack", "resumed"]] * 50


def test_resume_parses_into_its_action():
    parsed = protocol.parse_frame(json.dumps({"action": "resume", "session_id": "abc", "after": 7}))
    assert parsed == protocol.Resume("abc", 7)
    assert protocol.parse_frame('{"action": "resume", "session_id": "abc"}') == protocol.Resume("abc", 0)


# --- stop ------------------------------------------------------------------------------


def test_a_stop_of_a_queued_message_takes_its_cursor_and_its_pickup_ends_it(mock_aws):
    log = the_log()
    session_id = new_session(log)

    outcome, head = log.stop(session_id, NO_OWNER, "m1")

    assert outcome == "queued" and isinstance(head, Head)
    assert head.cursor == 2 and head.messages == {"m1": STOPPED}  # the stopped response's cursor
    assert log.read(session_id).cursor == 2
    assert log.stop(session_id, NO_OWNER, "m1") == ("not_running", None)  # stopped already
    head, state = log.start(session_id, "m1", NO_OWNER)  # the pickup never runs it
    assert state == STOPPED and head.messages == {"m1": STOPPED}
    log.forget_stopped(session_id, "m1")  # once the pickup recorded the end
    assert log.read(session_id).messages == {}  # the tombstone is gone
    assert log.read(session_id).cursor == 2


def test_a_stop_of_a_running_message_is_asked_of_its_worker(mock_aws, frames):
    log = the_log()
    session_id = new_session(log)
    head, state = log.start(session_id, "m1", NO_OWNER)
    assert state == RUNNING and head.messages == {"m1": RUNNING} and head.cursor == 2  # its status's
    box = Outbox(management.for_endpoint(DOMAIN, STAGE), log, session_id, "m1")
    box.reserve(head)
    box.status(0)
    assert not box.stop_asked and not log.stop_asked(session_id, "m1")
    assert log.start(session_id, "m1", NO_OWNER)[1] == REDELIVERED  # picked up again: no cursor taken

    assert log.stop(session_id, NO_OWNER, "m1") == ("running", None)

    assert log.stop_asked(session_id, "m1")
    assert log.read(session_id).cursor == 2  # no cursor taken: the worker sends the terminal frame
    assert log.take_cursor(session_id, "m1").messages["m1"] == STOPPING
    box.status(100)
    assert box.stop_asked  # learnt from its own frame's write
    assert log.stop(session_id, NO_OWNER, "m1") == ("stopping", None)
    assert log.start(session_id, "m1", NO_OWNER)[1] == STOPPING  # a redelivery ends it stopped
    box.stopped()
    assert log.read(session_id).messages == {}
    assert log.stop(session_id, NO_OWNER, "m1") == ("not_running", None)


def test_a_stop_of_an_ended_or_unknown_message_is_not_running(mock_aws):
    log = the_log()
    session_id = new_session(log)
    log.start(session_id, "m1", NO_OWNER)  # cursor 2: its status
    log.take_cursor(session_id, "m1", terminal=True)  # its response

    assert log.stop(session_id, NO_OWNER, "m1") == ("not_running", None)
    assert log.stop(session_id, NO_OWNER, "never-sent") == ("not_running", None)
    assert log.read(session_id).cursor == 3 and log.read(session_id).messages == {}


def test_a_stop_by_another_owner_is_an_invalid_session(mock_aws):
    log = the_log()
    session_id = new_session(log, owner="alice")
    with pytest.raises(InvalidSessionError):
        log.stop(session_id, "mallory", "m1")
    log.start(session_id, "m1", "alice")
    with pytest.raises(InvalidSessionError):
        log.stop(session_id, "mallory", "m1")
    with pytest.raises(InvalidSessionError):
        log.stop(sessions.issue_session_id(), "alice", "m1")  # no such session
    head = log.read(session_id)
    assert head.messages == {"m1": RUNNING} and head.cursor == 2 and not log.stop_asked(session_id, "m1")


def test_the_gateway_answers_a_stop_of_an_unknown_message_with_not_running(client, mock_aws, frames):
    connection_id = new_connection_id()
    session_id = start_session(client, frames, connection_id)
    drain_queue(mock_aws.queue_url, delete=True)

    send(client, connection_id, {"action": "stop", "session_id": session_id, "message_id": "no-such-message"})

    frame = frames.to(connection_id)[-1]
    assert (frame["type"], frame["code"]) == ("error", "not_running")
    assert "message_id" not in frame and "cursor" not in frame
    assert the_log().read(session_id).cursor == 1 and drain_queue(mock_aws.queue_url) == []


def test_the_gateway_stops_a_queued_message_with_one_response_to_every_attached_connection(client, mock_aws, frames):
    first, second, outsider = new_connection_id(), new_connection_id(), new_connection_id()
    session_id = start_session(client, frames, first)
    message_id = frames.to(first)[0]["message_id"]
    connect(client, second, session_id=session_id)
    connect(client, outsider)
    drain_queue(mock_aws.queue_url, delete=True)

    send(client, second, {"action": "stop", "session_id": session_id, "message_id": message_id})

    stopped = {
        "type": "response",
        "message_id": message_id,
        "session_id": session_id,
        "content": "",
        "products": [],
        "stopped": True,
        "cursor": 2,
    }
    assert frames.to(first)[1:] == [stopped]
    assert frames.to(second) == [stopped]
    assert frames.to(outsider) == []
    assert drain_queue(mock_aws.queue_url) == []  # a stop is never queued
    assert the_log().start(session_id, message_id, NO_OWNER)[1] == STOPPED


def test_a_message_stopped_while_queued_and_delivered_twice_ends_once(client, mock_aws, frames):
    """SQS is at-least-once: both copies of a message stopped while queued post nothing more."""
    from tests.unit.support import sqs_event, sqs_record_from_message

    connection_id = new_connection_id()
    session_id = start_session(client, frames, connection_id, "running shoes")
    message_id = frames.to(connection_id)[0]["message_id"]
    [message] = drain_queue(mock_aws.queue_url, delete=True)
    send(client, connection_id, {"action": "stop", "session_id": session_id, "message_id": message_id})
    record = sqs_record_from_message(message, mock_aws.queue_arn)
    client.lambda_.invoke("chat_processor", sqs_event(record))
    client.lambda_.invoke("chat_processor", sqs_event(dict(record)))
    terminal = [f for f in frames.to(connection_id) if f["type"] in ("response", "error")]
    assert len(terminal) == 1 and terminal[0].get("stopped") is True
    assert [f["type"] for f in frames.to(connection_id)] == ["ack", "response"]


def test_a_stop_between_the_ack_and_a_failed_enqueue_leaves_one_terminal_frame(client, mock_aws, frames, monkeypatch):
    connection_id = new_connection_id()
    session_id = start_session(client, frames, connection_id, "one")

    def enqueue(envelope):  # the shopper stops it while SQS is failing
        send(client, connection_id, {"action": "stop", "session_id": session_id, "message_id": envelope.message_id})
        raise RuntimeError("SQS unavailable")

    monkeypatch.setattr(chat_queue, "enqueue", enqueue)
    send(client, connection_id, {"action": "sendMessage", "message": "two", "session_id": session_id})
    mid = frames.to(connection_id)[1]["message_id"]
    ends = [f for f in frames.to(connection_id) if f.get("message_id") == mid and f["type"] in ("response", "error")]
    assert len(ends) == 1 and ends[0].get("stopped") is True


def test_a_stop_from_a_tab_that_never_resumed_gets_the_stopped_terminal_too(client, mock_aws, frames):
    first, second = new_connection_id(), new_connection_id()
    session_id = start_session(client, frames, first, "running shoes")
    message_id = frames.to(first)[0]["message_id"]
    connect(client, second)

    send(client, second, {"action": "stop", "session_id": session_id, "message_id": message_id})

    for connection_id in (first, second):
        ends = [f for f in frames.to(connection_id) if f["type"] == "response"]
        assert [(f["message_id"], f["stopped"], f["content"]) for f in ends] == [(message_id, True, "")]


@pytest.mark.parametrize("seed", range(6))
def test_a_replay_read_a_page_at_a_time_is_the_whole_replay_and_reads_only_what_is_used(mock_aws, monkeypatch, seed):
    """Pages of any size, with gaps (cursors never stored) anywhere: the pages joined are exactly
    the replay, and a consumer that stops after the first frame caused one Query."""
    monkeypatch.setattr(framelog, "STORE_WAIT_SECONDS", 0.05)
    rng = random.Random(seed)
    log = the_log()
    session_id = new_session(log)
    total = rng.randint(2, 260)
    gaps = set(rng.sample(range(2, total + 1), k=rng.randint(0, min(5, total - 1))))
    for _ in range(total - 1):
        cursor = log.take_cursor(session_id, "m1").cursor
        if cursor not in gaps:
            log.store(session_id, cursor, f"frame {cursor}")
    after, page_items = rng.randint(0, total - 1), rng.randint(1, 120)

    pages = list(log.frames.replay_pages(session_id, after, total, skip_text(session_id), 0.05, page_items))
    whole = log.replay(session_id, after, total, skip_text(session_id))

    assert [frame for page in pages for frame in page] == whole
    assert [cursor for cursor, _ in whole] == list(range(after + 1, total + 1))
    assert all(json.loads(text)["type"] == "skipped" for cursor, text in whole if cursor in gaps)
    assert all(len(page) >= 1 for page in pages)
    queries, dynamodb = [], log.frames.client

    class Counting:
        def __getattr__(self, name):
            return getattr(dynamodb, name)

        def query(self, **request):
            queries.append(request)
            return dynamodb.query(**request)

    log.frames._client = Counting
    next(log.replay_lazily(session_id, after, total, skip_text(session_id)))
    assert len(queries) == 1 and queries[0]["Limit"] == framestore.REPLAY_PAGE_ITEMS
