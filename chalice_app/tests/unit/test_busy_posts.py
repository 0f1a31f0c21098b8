"""Posting never blocks: a client that does not read makes @connections answer 429
(LimitExceededException, as API Gateway does when a connection's outgoing buffer is full);
the sender moves on at once, the frame stays in the frame log, and the client gets it by
resuming. The gateway's side (answering 429, closing an unreadable connection):
tests/integration/test_gateway_backpressure.py."""

import http.server
import threading
import time

import pytest

from chalicelib import management
from chalicelib.errors import ConnectionBusyError
from tests.unit.support import log_events, new_connection_id
from tests.unit.test_sessions import connect, send, start_session, the_log, typed


class _Busy(http.server.BaseHTTPRequestHandler):
    """Answers every request as API Gateway answers a post to a connection whose buffer is full."""

    requests = 0

    def do_POST(self):  # noqa: N802 (http.server's name)
        type(self).requests += 1
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        body = b'{"message":"LimitExceededException"}'
        self.send_response(429)
        self.send_header("x-amzn-ErrorType", "LimitExceededException")
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def busy_endpoint():
    _Busy.requests = 0
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Busy)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/api"
    finally:
        server.shutdown()
        server.server_close()


def test_a_429_is_told_at_once_and_never_retried(busy_endpoint):
    """botocore's standard retry backs off on LimitExceededException (3 attempts, seconds)."""
    api = management.ManagementApi(busy_endpoint)
    started = time.perf_counter()
    with pytest.raises(ConnectionBusyError):
        api.post("Abc123=", '{"type":"pong"}')
    assert _Busy.requests == 1
    assert api.deliver("Abc123=", '{"type":"pong"}') == management.BUSY
    assert api.try_post("Abc123=", '{"type":"pong"}') is False
    assert _Busy.requests == 3
    assert time.perf_counter() - started < 1.0


def test_a_frame_a_busy_connection_missed_is_kept_and_the_others_get_it(client, mock_aws, frames):
    reader, stuck = new_connection_id(), new_connection_id()
    session_id = start_session(client, frames, stuck, "one")
    connect(client, reader)
    send(client, reader, {"action": "resume", "session_id": session_id, "after": 0})
    frames.busy.add(stuck)

    send(client, reader, {"action": "sendMessage", "message": "two", "session_id": session_id})

    assert typed(frames.to(reader)) == [("ack", 1), ("resumed", 1), ("ack", 2)]
    assert typed(frames.to(stuck)) == [("ack", 1)]  # not sent; detached until it resumes
    assert the_log().read(session_id).connections == frozenset({reader})
    frames.busy.clear()  # it reads again and resumes on the same connection: the frame was kept
    send(client, stuck, {"action": "resume", "session_id": session_id, "after": 1})
    assert typed(frames.to(stuck)) == [("ack", 1), ("ack", 2), ("resumed", 2)]


def test_a_replay_to_a_busy_connection_stops_without_resumed_and_can_be_asked_again(client, mock_aws, frames, caplog):
    owner, later = new_connection_id(), new_connection_id()
    session_id = start_session(client, frames, owner, "one")
    send(client, owner, {"action": "sendMessage", "message": "two", "session_id": session_id})
    connect(client, later)
    frames.busy.add(later)

    send(client, later, {"action": "resume", "session_id": session_id, "after": 0})

    assert frames.to(later) == []
    [stopped] = log_events(caplog, "replay_busy")
    assert (stopped["connection_id"], stopped["posted"]) == (later, 0)
    frames.busy.clear()
    send(client, later, {"action": "resume", "session_id": session_id, "after": 0})
    assert typed(frames.to(later)) == [("ack", 1), ("ack", 2), ("resumed", 2)]
