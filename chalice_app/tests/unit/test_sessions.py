"""Sessions the server issues and owns: ids, owner checks, cursors, the replay window, resume.

The real handlers (Chalice's test client) on moto; frames captured at the Management API.
"""

import json
import threading
import time
from dataclasses import replace

import boto3
import pytest
from scripts import chat

from chalicelib import auth, chat_queue, management, outbox, protocol, sessions
from chalicelib.config import settings
from chalicelib.errors import InvalidSessionError, SessionBusyError
from chalicelib.outbox import Outbox
from chalicelib.sessions import NO_OWNER, SessionLog, log_key, replayable
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
    return SessionLog.from_settings(settings())


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

    assert [(f["type"], f["code"]) for f in frames.to(connection_id)] == [("error", "invalid_session")] * 2
    assert drain_queue(mock_aws.queue_url) == []


def test_a_new_session_is_owned_by_the_connection_that_made_it(client, mock_aws, frames):
    connection_id = new_connection_id()
    session_id = start_session(client, frames, connection_id)

    log = the_log().read(session_id)
    assert log.owner == NO_OWNER and log.connections == frozenset({connection_id})
    assert the_log().latest(session_id) == 1


# --- owners ---------------------------------------------------------------------------


def test_without_auth_whoever_holds_the_issued_id_continues_the_session(client, mock_aws, frames):
    first, second = new_connection_id(), new_connection_id()
    session_id = start_session(client, frames, first)
    connect(client, second)

    send(client, second, {"action": "sendMessage", "message": "again", "session_id": session_id})

    [ack] = frames.to(second)
    assert (ack["type"], ack["session_id"], ack["cursor"]) == ("ack", session_id, 2)
    assert the_log().read(session_id).connections == frozenset({first, second})


def test_with_auth_another_subject_cannot_read_or_write_the_session(client, mock_aws, frames, set_env):
    set_env(AUTH_TOKEN_SECRET=SECRET)
    alice, mallory = new_connection_id(), new_connection_id()
    session_id = start_session(
        client, frames, alice, "add the first one to my cart", token=auth.sign(SECRET, "alice", 600)
    )
    connect(client, mallory, token=auth.sign(SECRET, "mallory", 600))
    drain_queue(mock_aws.queue_url, delete=True)

    send(client, mallory, {"action": "sendMessage", "message": "clear my cart", "session_id": session_id})
    send(client, mallory, {"action": "resume", "session_id": session_id, "after": 0})

    assert [(f["type"], f["code"]) for f in frames.to(mallory)] == [("error", "invalid_session")] * 2
    assert drain_queue(mock_aws.queue_url) == []
    log = the_log().read(session_id)
    assert log.owner == "alice" and log.connections == frozenset({alice})
    assert the_log().latest(session_id) == 1


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
    assert the_log().read(session_id).owner == "alice"


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


def test_connect_attaches_only_a_session_the_client_owns(client, mock_aws, frames, caplog):
    owner, other = new_connection_id(), new_connection_id()
    session_id = start_session(client, frames, owner)

    connect(client, other, session_id="made-up")
    assert the_log().read(session_id).connections == frozenset({owner})
    assert log_events(caplog, "invalid_session")[0]["at"] == "connect"

    connect(client, other, session_id=session_id)
    assert the_log().read(session_id).connections == frozenset({owner, other})


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


# --- cursors ---------------------------------------------------------------------------


def test_cursors_grow_by_one_per_frame_across_messages(client, mock_aws, frames):
    connection_id = new_connection_id()
    session_id = start_session(client, frames, connection_id, "one")
    send(client, connection_id, {"action": "sendMessage", "message": "two", "session_id": session_id})
    send(client, connection_id, {"action": "sendMessage", "message": "three", "session_id": session_id})

    acks = frames.to(connection_id)
    assert [(ack["type"], ack["cursor"]) for ack in acks] == [("ack", 1), ("ack", 2), ("ack", 3)]
    assert the_log().latest(session_id) == 3


def test_concurrent_writers_never_share_a_cursor(mock_aws):
    """The gateway acking while chat_processor streams: each frame its own cursor, none lost.

    moto's item writes are made atomic first, as DynamoDB's are (localcloud.motomain)."""
    serialize_item_writes()
    log = the_log()
    session_id = sessions.issue_session_id()
    log.create(session_id, NO_OWNER, lambda cursor: json.dumps({"type": "ack", "cursor": cursor}), "C1=")
    errors = []

    def writer(name):
        snapshot = log.read(session_id)
        try:
            for index in range(10):
                text = lambda cursor, index=index: json.dumps({"who": name, "i": index, "cursor": cursor})  # noqa: E731
                snapshot, _ = log.append(snapshot, text)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(name,)) for name in ("gateway", "processor", "heartbeat")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    kept, last = log.replay(session_id, 0)
    assert last == 31 and [cursor for cursor, _ in kept] == list(range(1, 32))
    stored = [json.loads(text) for _, text in kept]
    assert [frame["cursor"] for frame in stored] == list(range(1, 32))
    for name in ("gateway", "processor", "heartbeat"):
        assert [frame["i"] for frame in stored if frame.get("who") == name] == list(range(10))


def test_an_ack_for_another_owner_is_refused_and_stores_nothing(mock_aws):
    log = the_log()
    session_id = sessions.issue_session_id()
    log.create(session_id, "alice", lambda cursor: "{}", "C1=")
    with pytest.raises(InvalidSessionError):
        log.begin_ack(session_id, "mallory", "C2=", lease="m2")
    with pytest.raises(InvalidSessionError):
        log.attach(session_id, "mallory", "C2=")
    assert log.latest(session_id) == 1 and log.read(session_id).connections == {"C1="}


def test_each_frame_is_its_own_small_item_and_the_head_stays_small(mock_aws):
    """The cost rule: one write of one small item per frame, however long the session."""
    log = the_log()
    session_id = sessions.issue_session_id()
    snapshot, _ = log.create(session_id, NO_OWNER, lambda cursor: "x" * 500, "C1=")
    for _ in range(300):
        snapshot, _ = log.append(snapshot, lambda cursor: "x" * 500)

    dynamodb = boto3.client("dynamodb", region_name=REGION)
    head = dynamodb.get_item(TableName=settings().sessions_table, Key={"session_id": {"S": log_key(session_id)}})
    assert len(json.dumps(head["Item"])) < 400
    assert dynamodb.describe_table(TableName=settings().frames_table)["Table"]["ItemCount"] == 301
    assert log.latest(session_id) == 301


# --- the ack lease: a session's messages reach the queue in acked order ---------------


def test_an_ack_waits_while_another_ack_of_the_session_holds_the_lease(mock_aws):
    serialize_item_writes()
    log = the_log()
    session_id = sessions.issue_session_id()
    log.create(session_id, NO_OWNER, lambda cursor: "{}", "C1=", lease="m1")
    taken = threading.Event()

    def second_ack():
        log.begin_ack(session_id, NO_OWNER, "C1=", lease="m2")
        taken.set()

    thread = threading.Thread(target=second_ack)
    thread.start()
    assert not taken.wait(0.3)  # m1 has not been enqueued yet
    log.end_ack(session_id, lease="m2")  # giving back a lease one does not hold changes nothing
    assert not taken.wait(0.2)
    log.end_ack(session_id, lease="m1")
    assert taken.wait(5)
    thread.join()


def test_a_lease_that_is_never_given_back_lapses(mock_aws, monkeypatch):
    log = the_log()
    session_id = sessions.issue_session_id()
    clock = [1_000_000.0]
    monkeypatch.setattr(sessions.time, "time", lambda: clock[0])
    monkeypatch.setattr(sessions.time, "sleep", lambda seconds: clock.__setitem__(0, clock[0] + seconds))
    log.create(session_id, NO_OWNER, lambda cursor: "{}", "C1=", lease="died")

    clock[0] += sessions.ACK_LEASE_SECONDS + 1
    snapshot = log.begin_ack(session_id, NO_OWNER, "C2=", lease="m2")

    assert snapshot.connections == {"C1=", "C2="}


def test_a_lease_held_past_its_wait_is_session_busy(mock_aws, monkeypatch):
    log = the_log()
    session_id = sessions.issue_session_id()
    log.create(session_id, NO_OWNER, lambda cursor: "{}", "C1=", lease="m1")
    clock = iter([0.0] + [sessions.ACK_LEASE_SECONDS + 2.0] * 100)  # the second look is past the wait
    monkeypatch.setattr(sessions.time, "monotonic", lambda: next(clock))
    with pytest.raises(SessionBusyError):
        log.begin_ack(session_id, NO_OWNER, "C1=", lease="m2")


def test_lease_waits_start_short_and_stay_short():
    waits = [sessions.lease_wait(attempt) for attempt in range(10)]
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


# --- who gets a frame: live, replayed, or caught up -----------------------------------


def writer_outbox(session_id, message_id="m-processing"):
    """An outbox as chat_processor opens one: the head read at pickup (connections fresh)."""
    log = the_log()
    api = management.for_endpoint(DOMAIN, STAGE)
    return Outbox(api, log, session_id, message_id, snapshot=log.read(session_id))


def test_a_resume_between_a_writers_read_and_its_next_frame_gets_every_frame_once(client, mock_aws, frames):
    """The writer's list of connections predates the attach and its frame postdates the
    resume's first read of the frames: the resume's second read, RESUME_CATCH_UP_SECONDS
    after attaching, brings it; frames the writer posts with a list read after the attach are
    not replayed (they came live)."""
    first, later = new_connection_id(), new_connection_id()
    session_id = start_session(client, frames, first, "one")
    box = writer_outbox(session_id)
    box.status(0)  # cursor 2, posted to `first` only
    connect(client, later)
    stale = threading.Timer(0.1, lambda: box.delta("Hi"))  # cursor 3: the writer's list is still fresh
    stale.start()
    send(client, later, {"action": "resume", "session_id": session_id, "after": 0})  # attach, read, wait, read
    stale.join()
    got = [(f["type"], f["cursor"]) for f in frames.to(later)]
    assert got == [("ack", 1), ("status", 2), ("resumed", 2), ("chunk", 3)]

    box._snapshot = replace(box._snapshot, read_at=0.0)  # as CONNECTIONS_FRESH_SECONDS later
    box.response("Hi", [])  # cursor 4, with a list read after the attach: live

    assert [f["cursor"] for f in frames.to(later) if f["type"] != "resumed"] == [1, 2, 3, 4]
    assert [f["cursor"] for f in frames.to(first)] == [1, 2, 3, 4]
    send(client, later, {"action": "resume", "session_id": session_id, "after": 2})
    assert [(f["type"], f["cursor"]) for f in frames.to(later)][-3:] == [("chunk", 3), ("response", 4), ("resumed", 4)]


def test_a_writer_reads_the_connections_again_once_they_are_older_than_the_limit(client, mock_aws, frames, monkeypatch):
    first, later = new_connection_id(), new_connection_id()
    session_id = start_session(client, frames, first, "one")
    box = writer_outbox(session_id)
    box.status(0)
    the_log().attach(session_id, NO_OWNER, later)
    box.delta("a")  # cursor 3, only to `first`: its list is still fresh
    clock = time.monotonic() + sessions.CONNECTIONS_FRESH_SECONDS + 1
    monkeypatch.setattr(outbox.time, "monotonic", lambda: clock)

    box.delta("b")  # the list is stale: read again, cursor 4 goes to both

    assert [f["cursor"] for f in frames.to(later)] == [4]
    assert [f["cursor"] for f in frames.to(first)] == [1, 2, 3, 4]


def test_is_fresh_is_the_limit_inclusive():
    assert sessions.is_fresh(10.0, 10.0 + sessions.CONNECTIONS_FRESH_SECONDS)
    assert not sessions.is_fresh(10.0, 10.01 + sessions.CONNECTIONS_FRESH_SECONDS)


def test_the_catch_up_read_comes_after_any_stale_list_and_before_a_client_gives_up_a_gap():
    assert sessions.RESUME_CATCH_UP_SECONDS > 2 * sessions.CONNECTIONS_FRESH_SECONDS
    assert sessions.RESUME_CATCH_UP_SECONDS < chat.GAP_WAIT_SECONDS


# --- the replay window -----------------------------------------------------------------


def test_replayable_leaves_out_the_frames_posted_with_a_list_read_after_the_attach():
    stored = [(1, 2000, 0, "a"), (2, 2000, 1, "b"), (3, 2000, 2, "c"), (4, 2000, 1, "d")]
    assert replayable(stored, 0, now=2000, window_seconds=900, gen=2) == [(1, "a"), (2, "b"), (4, "d")]
    assert replayable(stored, 0, now=2000, window_seconds=900, gen=1) == [(1, "a")]


def test_replayable_is_after_the_cursor_within_the_window_in_cursor_order():
    stored = [(3, 1900, 0, "c"), (1, 1000, 0, "a"), (2, 1500, 0, "b"), (5, 2000, 0, "e")]
    assert replayable(stored, 0, now=2000, window_seconds=1000) == [(1, "a"), (2, "b"), (3, "c"), (5, "e")]
    assert replayable(stored, 2, now=2000, window_seconds=1000) == [(3, "c"), (5, "e")]
    assert replayable(stored, 0, now=2000, window_seconds=100) == [(3, "c"), (5, "e")]
    assert replayable(stored, 5, now=2000, window_seconds=1000) == []


def test_frames_older_than_the_window_are_not_replayed_but_their_cursors_stay_taken(mock_aws, monkeypatch):
    log = SessionLog(settings().sessions_table, settings().frames_table, ttl_seconds=3600, window_seconds=900)
    session_id = sessions.issue_session_id()
    clock = [1_000_000.0]
    monkeypatch.setattr(sessions.time, "time", lambda: clock[0])
    snapshot, _ = log.create(session_id, NO_OWNER, lambda cursor: f"frame {cursor}", "C1=")
    snapshot, _ = log.append(snapshot, lambda cursor: f"frame {cursor}")
    clock[0] += 901  # the first two are now outside RESUME_WINDOW_SECONDS
    assert log.replay(session_id, 0) == ([], 2)  # nothing to replay; resumed says 2

    snapshot, text = log.append(log.read(session_id), lambda cursor: f"frame {cursor}")

    assert snapshot.cursor == 3 and text == "frame 3"
    assert log.replay(session_id, 0) == ([(3, "frame 3")], 3)


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
    assert [(f["type"], f["cursor"]) for f in got] == [
        ("ack", 1),
        ("ack", 2),
        ("resumed", 2),
        ("ack", 2),
        ("resumed", 2),
        ("resumed", 2),
    ]
    assert got[:2] == frames.to(connection_id)  # the very frames the first connection got
    assert drain_queue(mock_aws.queue_url, delete=True) and the_log().latest(session_id) == 2


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


def test_resume_counts_against_the_rate_limit_and_is_never_queued(client, mock_aws, frames, set_env):
    set_env(RATE_LIMIT_MESSAGES="2", RATE_LIMIT_WINDOW_SECONDS="86400")  # no window ends mid-test
    connection_id = new_connection_id()
    session_id = start_session(client, frames, connection_id)
    drain_queue(mock_aws.queue_url, delete=True)

    for _ in range(2):
        send(client, connection_id, {"action": "resume", "session_id": session_id, "after": 1})

    assert [f["type"] for f in frames.to(connection_id)] == ["ack", "resumed", "error"]
    assert frames.to(connection_id)[-1]["code"] == "rate_limited"
    assert drain_queue(mock_aws.queue_url) == []


def test_resume_parses_into_its_action():
    parsed = protocol.parse_frame(json.dumps({"action": "resume", "session_id": "abc", "after": 7}))
    assert parsed == protocol.Resume("abc", 7)
    assert protocol.parse_frame('{"action": "resume", "session_id": "abc"}') == protocol.Resume("abc", 0)
