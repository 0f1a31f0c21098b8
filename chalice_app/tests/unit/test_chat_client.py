"""The terminal client's session rules (``scripts/chat.py`` ``Session``): the same as the chat page's
``web/session.js``: resume after the last cursor, drop repeats, start anew on ``invalid_session``, pass
over ``skipped``, ``stop`` the reply in progress. The frame sequences both clients must agree on are
in ``tests/web/client_vectors.json`` (run here and by ``tests/web/session.test.js``)."""

import asyncio
import io
import json
import re
import sys
from pathlib import Path

import pytest
from scripts import chat
from scripts.chat import EXPIRED_NOTE, Client, Session

SID = "s-1"


def ack(cursor, cmid, sid=SID):
    return {"type": "ack", "message_id": "m1", "client_message_id": cmid, "session_id": sid, "cursor": cursor}


def chunk(cursor, seq, delta):
    return {"type": "chunk", "message_id": "m1", "seq": seq, "delta": delta, "session_id": SID, "cursor": cursor}


def response(cursor):
    return {"type": "response", "message_id": "m1", "content": "Hi there", "session_id": SID, "cursor": cursor}


def feed(session, frames):
    shown, notes = [], []
    for frame in frames:
        out, note = session.receive(frame)
        shown += out
        if note:
            notes.append(note)
    return shown, notes


def known_session(cursor, session_id=SID):
    """A client that has seen ``session_id`` up to ``cursor`` (as after a reconnect)."""
    session = Session()
    session.session_id, session.cursor = session_id, cursor
    return session


def message(text, cmid):
    return {"action": "sendMessage", "message": text, "client_message_id": cmid}


def test_the_ack_names_the_session_and_later_messages_continue_it():
    session = Session()
    assert session.opened() == []
    session.queue(message("one", "c1"))
    session.queue(message("two", "c2"))
    assert session.flush() == [message("one", "c1")]
    assert session.flush() == []  # the second waits for the session
    feed(session, [ack(1, "c1")])
    assert session.flush() == [{**message("two", "c2"), "session_id": SID}]
    assert (session.session_id, session.cursor) == (SID, 1)


def test_reconnect_resumes_after_the_last_cursor_and_prints_the_rest_once():
    session = Session()
    session.flush()
    feed(session, [ack(1, "c1"), chunk(2, 0, "Hi")])
    assert session.opened() == [{"action": "resume", "session_id": SID, "after": 2}]
    session.queue(message("later", "c2"))
    assert session.flush() == []  # held until the resume is answered
    shown, _ = feed(session, [chunk(2, 0, "Hi"), chunk(3, 1, " there"), response(4)])
    assert [f["cursor"] for f in shown] == [3, 4]
    feed(session, [{"type": "resumed", "session_id": SID, "cursor": 4}])
    assert session.flush() == [{**message("later", "c2"), "session_id": SID}]
    assert feed(session, [response(4)])[0] == []


def test_a_frame_ahead_of_a_gap_waits_during_the_replay():
    session = known_session(1)
    session.opened()
    shown, _ = feed(session, [response(4), chunk(2, 0, "Hi"), chunk(3, 1, " there")])
    assert [f["cursor"] for f in shown] == [2, 3, 4]
    session.opened()
    shown, _ = feed(session, [response(9), {"type": "resumed", "session_id": SID, "cursor": 9}])
    assert [f["cursor"] for f in shown] == [9] and session.cursor == 9


def test_with_a_session_messages_still_go_out_one_at_a_time_in_the_order_typed():
    """The server may ack two frames of one connection in either order and runs a session's
    turns in acked order: "add it to my cart" then "what is in my cart" must not swap."""
    session = known_session(5)
    for index, text in enumerate(("add it to my cart", "what is in my cart", "remove it")):
        session.queue(message(text, f"c{index}"))
    sent = [session.flush()]
    sent.append(session.flush())  # the first is not acked yet: nothing
    feed(session, [ack(6, "c0")])
    sent.append(session.flush())
    feed(session, [ack(7, "c1")])
    sent.append(session.flush())
    assert [[frame["message"] for frame in batch] for batch in sent] == [
        ["add it to my cart"],
        [],
        ["what is in my cart"],
        ["remove it"],
    ]


def test_an_internal_error_before_the_ack_lets_the_next_message_go():
    session = known_session(5)
    session.queue(message("first", "c0"))
    session.queue(message("second", "c1"))
    session.flush()
    failed = {"type": "error", "code": "internal_error", "message": "try again", "message_id": "m-0"}
    feed(session, [failed])
    assert [frame["message"] for frame in session.flush()] == ["second"]


def test_outside_a_replay_a_frame_after_a_gap_waits_for_the_frames_before_it():
    """Two writers of a session (an ack while the previous reply streams) can post out of order."""
    session = known_session(2)
    shown, _ = feed(session, [ack(4, "c2"), chunk(3, 0, "Hi")])
    assert [f["cursor"] for f in shown] == [3, 4] and session.held == [] and session.cursor == 4


def test_outside_a_replay_a_gap_that_stays_open_is_given_up_in_cursor_order():
    session = known_session(2)
    assert feed(session, [response(6), chunk(5, 1, "!")])[0] == []
    assert 0 < chat.GAP_WAIT_SECONDS <= 2
    assert [f["cursor"] for f in session.gap_timed_out()] == [5, 6]
    assert session.cursor == 6 and session.gap_timed_out() == []


def test_invalid_session_says_so_once_and_sends_the_messages_again_on_a_new_session():
    session = known_session(5, "gone")
    session.opened()
    feed(session, [{"type": "resumed", "session_id": "gone", "cursor": 5}])
    session.queue(message("a", "c1"))
    session.queue(message("b", "c2"))
    session.flush()
    error = {"type": "error", "code": "invalid_session", "message": "unknown session"}
    shown, notes = feed(session, [error, error])
    assert shown == [] and notes == [EXPIRED_NOTE]
    assert (session.session_id, session.cursor) == (None, 0)
    assert session.flush() == [message("a", "c1")]
    feed(session, [ack(1, "c1", "s-new")])
    assert session.flush() == [{**message("b", "c2"), "session_id": "s-new"}]


def test_a_message_never_acknowledged_goes_out_again_after_resumed_but_not_one_the_replay_acks():
    session = known_session(3)
    session.queue(message("lost?", "c5"))
    session.queue(message("arrived", "c6"))
    session.flush()
    session.opened()
    feed(session, [ack(4, "c6"), {"type": "resumed", "session_id": SID, "cursor": 4}])
    assert [f["client_message_id"] for f in session.flush()] == ["c5"]


def test_an_older_server_without_cursor_or_resume_works_as_before():
    session = Session()
    session.session_id = SID
    assert session.opened()[0]["action"] == "resume"
    shown, _ = feed(session, [{"type": "error", "code": "unknown_action", "message": "unknown action"}])
    assert shown == [] and not session.resuming
    legacy = [{"type": "chunk", "message_id": "m1", "seq": 0, "delta": "Hi"}] * 2
    assert len(feed(session, legacy)[0]) == 2
    assert session.opened() == []  # no more resumes to that server


def test_a_resume_with_no_answer_stops_holding_messages():
    session = Session()
    session.session_id = SID
    session.opened()
    session.queue(message("hi", "c1"))
    assert session.flush() == []
    session.resume_timed_out()
    assert len(session.flush()) == 1


# --- the vectors shared with the chat page's session.js (tests/web/session.test.js) ---------------

VECTORS = json.loads((Path(__file__).parents[1] / "web" / "client_vectors.json").read_text())["vectors"]


def label(frame):
    return f"{frame['type']}:{frame['cursor']}" if chat._cursor(frame) else frame["type"]


@pytest.mark.parametrize("vector", VECTORS, ids=[re.sub(r"\W+", "-", v["name"]).strip("-") for v in VECTORS])
def test_shared_vector(vector):
    session = Session()
    if vector["stored"]:
        session.session_id, session.cursor = vector["stored"]["session_id"], vector["stored"]["cursor"]
    for index, step in enumerate(vector["steps"]):
        where = f"step {index}: {step}"
        send = show = note = None
        if "open" in step:
            send = session.opened()
        elif "queue" in step:
            session.queue(step["queue"])
        elif "flush" in step:
            send = session.flush()
        elif "stop" in step:
            send = session.stop()
        elif "receive" in step:
            show, note = session.receive(step["receive"])
        elif "gap_timeout" in step:
            show = session.gap_timed_out()
        elif "retry_due" in step:
            send = session.retry_due()
        elif "reset" in step:
            send = session.reset()
        else:
            raise AssertionError(f"{where}: no action")
        if "send" in step:
            assert send == step["send"], where
        if "show" in step:
            assert [label(frame) for frame in show] == step["show"], where
        if "note" in step:
            assert note == step["note"], where
        if "cursor" in step:
            assert session.cursor == step["cursor"], where
        if "session" in step:
            assert session.session_id == step["session"], where
        if "held" in step:
            assert sorted(frame["cursor"] for frame in session.held) == step["held"], where
        if "unacked" in step:
            assert [sent["client_message_id"] for sent, _ in session.unacked] == step["unacked"], where
        if "retry" in step:
            assert session.retry == step["retry"], where
        if "failed" in step:
            assert [sent["client_message_id"] for sent in session.failed] == step["failed"], where


def test_stop_can_name_the_message_to_stop():
    session = known_session(0)
    feed(session, [{**ack(1, "c1"), "message_id": "m1"}, {**ack(2, "c2"), "message_id": "m2"}])
    assert session.stop("m2") == [{"action": "stop", "session_id": SID, "message_id": "m2"}]
    assert session.stop() == [{"action": "stop", "session_id": SID, "message_id": "m1"}]


# --- what the terminal prints -----------------------------------------------------------------------


def stopped(cursor, content):
    return {**response(cursor), "content": content, "products": [], "stopped": True}


def test_a_stopped_reply_ends_with_a_marker_after_the_text_streamed(capsys):
    state = {}
    for frame in (chunk(2, 0, "Here are"), chunk(3, 1, " some"), stopped(4, "Here are some")):
        chat.render(frame, state)
    assert capsys.readouterr().out == "assistant> Here are some [stopped]\n"


def test_the_next_messages_ack_never_lands_inside_a_reply_being_streamed(capsys):
    state = {}
    ack = {"type": "ack", "message_id": "m2", "session_id": SID, "cursor": 4, "status": "queued", "message": "more"}
    for frame in (chunk(2, 0, "Here are"), ack, chunk(3, 1, " some"), stopped(5, "Here are some")):
        chat.render(frame, state)
    assert capsys.readouterr().out == "assistant> Here are some [stopped]\n"


def test_a_reply_stopped_before_it_began_says_so(capsys):
    chat.render(stopped(2, ""), {})
    assert capsys.readouterr().out == "assistant> [stopped]\n"


def test_a_skipped_frame_prints_nothing(capsys):
    chat.render({"type": "skipped", "session_id": SID, "cursor": 4}, {})
    assert capsys.readouterr() == ("", "")


class FakeSocket:
    def __init__(self):
        self.sent = []

    async def send(self, text):
        self.sent.append(json.loads(text))

    async def close(self):
        pass


def client_with_session(cursor):
    client = Client("ws://127.0.0.1:1/api")
    client.session = known_session(cursor)
    client.ws = FakeSocket()
    return client


def test_slash_stop_sends_stop_for_the_reply_in_progress(capsys):
    async def scenario():
        client = client_with_session(0)
        client.state["pending"] = 1
        await client._apply(*client.session.receive({**ack(1, "c1"), "message_id": "m1"}))
        await client._apply(*client.session.receive(chunk(2, 0, "Here")))
        await client.stop()
        await client._apply(*client.session.receive(stopped(3, "Here")))
        return client

    client = asyncio.run(scenario())
    assert client.ws.sent == [{"action": "stop", "session_id": SID, "message_id": "m1"}]
    assert client.settled.is_set() and client.state["pending"] == 0
    assert capsys.readouterr().out == "  (queued)\nassistant> Here [stopped]\n"


def test_slash_stop_with_no_reply_in_progress_says_so_and_sends_nothing(capsys):
    async def scenario():
        client = client_with_session(3)
        await client.stop()
        return client

    client = asyncio.run(scenario())
    assert client.ws.sent == []
    out = capsys.readouterr().out
    assert out.startswith("  (") and "nothing to stop" in out and out.count("\n") == 1


def test_not_running_is_quiet_and_ends_no_message(capsys):
    async def scenario():
        client = client_with_session(0)
        client.state["pending"] = 2
        await client._apply(*client.session.receive({**ack(1, "c1"), "message_id": "m1"}))
        await client.stop()
        capsys.readouterr()
        await client._apply(*client.session.receive({"type": "error", "code": "not_running", "message": "ended"}))
        return client

    client = asyncio.run(scenario())
    assert capsys.readouterr() == ("", "")
    assert client.state["pending"] == 2


def test_the_stop_command_is_read_from_the_input(monkeypatch, capsys):
    """``/stop`` is a command, not a message: with nothing in progress it is answered, never sent."""
    sockets = []

    async def connect(self):
        self.ws = FakeSocket()
        sockets.append(self.ws)

    async def run(self):
        await asyncio.sleep(3600)

    monkeypatch.setattr(Client, "connect", connect)
    monkeypatch.setattr(Client, "run", run)
    monkeypatch.setattr(sys, "stdin", io.StringIO("/stop\n/quit\n"))
    assert asyncio.run(chat.chat("ws://127.0.0.1:1/api")) == 0
    assert sockets[0].sent == []
    out = capsys.readouterr().out
    assert "/stop" in out.splitlines()[0] and "nothing to stop" in out


def test_reconnect_notes_wait_for_the_reply_to_end_and_leave_its_text_whole(monkeypatch):
    """The notes go to stderr, the reply to stdout: on a terminal (both on one screen) a note must not
    land inside the reply's text, so it comes after the reply's line; stdout holds the text in one piece."""
    screen, stdout = io.StringIO(), io.StringIO()

    class Tee(io.StringIO):
        def write(self, text):
            stdout.write(text)
            return screen.write(text)

    monkeypatch.setattr(sys, "stdout", Tee())
    monkeypatch.setattr(sys, "stderr", screen)
    monkeypatch.setattr(chat, "MAX_BACKOFF_SECONDS", 0)

    async def scenario():
        client = client_with_session(1)
        client.state["pending"] = 1

        async def connect():
            client.ws = FakeSocket()
            await client._send_all(client.session.opened())

        client.connect = connect
        await client._apply(*client.session.receive(chunk(2, 0, "Hi the")))
        assert await client._reconnect()
        for frame in (chunk(3, 1, "re"), {"type": "resumed", "session_id": SID, "cursor": 3}, response(4)):
            await client._apply(*client.session.receive(frame))

    asyncio.run(scenario())
    assert stdout.getvalue() == "assistant> Hi there\n"
    assert screen.getvalue() == (
        "assistant> Hi there\n  (connection lost; reconnecting...)\n  (reconnected, resuming after cursor 2)\n"
    )


def test_products_the_reply_lists_are_not_printed_again_and_others_read_like_the_reply(capsys):
    shoe = {"name": "Trail Runner 2", "brand": "Acme", "price": 74.99, "rating": 4.46, "review_count": 4313}
    sock = {"name": "Wool Sock", "brand": "Knit", "price": 1234.5, "rating": 4, "review_count": 12}
    text = "1. Trail Runner 2 \u2014 $74.99 \u00b7 \u2605 4.5 (4,313 reviews)"
    chat.render({"type": "response", "content": text, "products": [shoe, sock]}, {})
    out = capsys.readouterr().out
    assert out.count("Trail Runner 2") == 1
    assert "  \u2022 Wool Sock (Knit) \u2014 $1,234.50 \u00b7 \u2605 4.0 (12 reviews)" in out


def test_a_rate_limited_message_goes_again_by_itself_after_its_wait(monkeypatch, capsys):
    monkeypatch.setattr(chat.random, "random", lambda: 0.0)

    async def scenario():
        client = client_with_session(2)
        await client.send_message("running shoes")
        assert [frame["message"] for frame in client.ws.sent] == ["running shoes"]
        limited = {"type": "error", "code": "rate_limited", "message": "wait", "retry_after_ms": 50}
        await client._apply(*client.session.receive(limited))
        client._refused()
        assert len(client.ws.sent) == 1 and client.retry_timer is not None
        await asyncio.sleep(0.2)
        assert [frame["message"] for frame in client.ws.sent] == ["running shoes", "running shoes"]
        assert client.state["pending"] == 1  # still waiting for its answer

    asyncio.run(scenario())
    assert "goes again in" in capsys.readouterr().err


def test_slash_new_stops_the_reply_in_progress_and_the_next_message_starts_a_session(capsys):
    async def scenario():
        client = client_with_session(0)
        await client._apply(*client.session.receive(ack(1, "c0")))
        await client.new_conversation()
        assert client.ws.sent == [{"action": "stop", "session_id": SID, "message_id": "m1"}]
        await client.send_message("start over")
        assert "session_id" not in client.ws.sent[-1]

    asyncio.run(scenario())


def test_a_retrying_status_says_which_attempt_and_why(capsys):
    status = {"type": "status", "message_id": "m1", "status": "retrying", "attempt": 2, "reason": "it hiccuped"}
    chat.render(status, {})
    assert capsys.readouterr().out == "  (retrying, attempt 2: it hiccuped)\n"
    chat.render(status, {"streaming": True})  # never inside a reply's text
    assert capsys.readouterr().out == ""
