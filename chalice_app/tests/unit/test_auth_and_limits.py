"""Hardening: token auth on $connect, the per-connection rate limit, and replies that
can only ever go to the connection that sent the message."""

import json

import pytest

from chalicelib import auth, protocol, ratelimit
from tests.unit.support import drain_queue, new_connection_id, ws_event

SECRET = "unit-test-secret-not-a-credential"


# --- tokens ---------------------------------------------------------------------


def test_signed_token_round_trip_and_expiry():
    token = auth.sign(SECRET, "shopper-1", ttl_seconds=60, now=1_000)
    assert auth.check(token, (), SECRET, now=1_030).allowed
    assert auth.check(token, (), SECRET, now=1_030).subject == "shopper-1"
    expired = auth.check(token, (), SECRET, now=1_061)
    assert (expired.status, expired.reason) == (403, "expired token")


@pytest.mark.parametrize(
    "tamper",
    [
        lambda t: t.replace("shopper-1", "shopper-2"),  # another subject
        lambda t: t.replace(".1060.", ".9999.", 1),  # a later expiry
        lambda t: t[:-2] + ("AA" if not t.endswith("AA") else "BB"),  # another signature
        lambda t: "v2" + t[2:],
        lambda t: "garbage",
    ],
)
def test_tampered_tokens_are_refused(tamper):
    token = auth.sign(SECRET, "shopper-1", ttl_seconds=60, now=1_000)
    assert auth.check(tamper(token), (), SECRET, now=1_001).status == 403


def test_token_from_another_secret_is_refused():
    token = auth.sign("another-secret", "shopper-1", ttl_seconds=60)
    assert auth.check(token, (), SECRET).status == 403


def test_static_api_keys():
    assert auth.check("key-one", ("key-one", "key-two"), None).allowed
    assert auth.check("key-three", ("key-one",), None).status == 403
    assert auth.check(None, ("key-one",), None).status == 401


def test_no_auth_configured_accepts_everyone():
    assert auth.check(None, (), None).allowed


# --- $connect with auth configured ---------------------------------------------------


@pytest.mark.parametrize(
    "query, status",
    [(None, 401), ({"token": "nope"}, 403), ({"token": "good"}, 200)],
)
def test_connect_requires_a_token_when_configured(client, mock_aws, set_env, query, status):
    set_env(AUTH_TOKEN_SECRET=SECRET)
    if query and query["token"] == "good":
        query = {"token": auth.sign(SECRET, "shopper-1", 60)}
    connection_id = new_connection_id()
    result = client.lambda_.invoke("connect", ws_event("$connect", connection_id, query=query)).payload
    assert result["statusCode"] == status


# --- rate limit ----------------------------------------------------------------------


def test_rate_limit_counts_per_connection_and_window(mock_aws, set_env):
    set_env(RATE_LIMIT_MESSAGES="3", RATE_LIMIT_WINDOW_SECONDS="10")
    first, second = new_connection_id(), new_connection_id()
    assert [ratelimit.allow(first, now=100) for _ in range(4)] == [True, True, True, False]
    assert ratelimit.allow(second, now=101)  # another connection has its own budget
    assert ratelimit.allow(first, now=110)  # a new window


def test_rate_limit_zero_disables_it(mock_aws, set_env):
    set_env(RATE_LIMIT_MESSAGES="0")
    connection_id = new_connection_id()
    assert all(ratelimit.allow(connection_id, now=100) for _ in range(20))


def test_rate_limited_messages_get_an_error_and_are_not_queued(client, mock_aws, frames, set_env):
    set_env(RATE_LIMIT_MESSAGES="2", RATE_LIMIT_WINDOW_SECONDS="60")
    connection_id = new_connection_id()
    client.lambda_.invoke("connect", ws_event("$connect", connection_id))
    for index in range(4):
        body = {"action": "sendMessage", "message": f"message {index}"}
        client.lambda_.invoke("message", ws_event("$default", connection_id, body))
    # pings are cheap and never limited
    client.lambda_.invoke("message", ws_event("$default", connection_id, {"action": "ping"}))
    assert frames.types(connection_id) == ["ack", "ack", "error", "error", "pong"]
    errors = [frame for frame in frames.to(connection_id) if frame["type"] == "error"]
    assert {frame["code"] for frame in errors} == {protocol.RATE_LIMITED}
    assert len(drain_queue(mock_aws.queue_url)) == 2


# --- replies go only to the sender ------------------------------------------------------


def test_a_frame_cannot_choose_where_the_reply_goes(client, mock_aws, frames):
    sender, victim = new_connection_id(), new_connection_id()
    body = {
        "action": "sendMessage",
        "message": "hello",
        "connection_id": victim,
        "connectionId": victim,
        "domain": "evil.example.com",
        "stage": "evil",
    }
    client.lambda_.invoke("message", ws_event("$default", sender, body))
    [queued] = drain_queue(mock_aws.queue_url)
    envelope = json.loads(queued["Body"])
    assert envelope["connection_id"] == sender
    assert "evil" not in (envelope["domain"], envelope["stage"])
    assert frames.to(victim) == []
