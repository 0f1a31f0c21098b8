"""Hardening: token auth on $connect, the rate limits (per connection, token subject,
source IP; pings), and replies that can only ever go to the connection that sent the
message. The limits under concurrent requests: test_rate_limit_concurrency.py."""

import json
import random

import boto3
import pytest

from chalicelib import auth, protocol, ratelimit
from chalicelib.config import settings
from tests.conftest import REGION
from tests.unit.support import SOURCE_IP, drain_queue, new_connection_id, ws_event

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


@pytest.mark.parametrize("subject", ["john.doe@example.com", "a.b.c", ".", "x" * 63 + "."])
def test_subjects_with_dots_round_trip(subject):
    token = auth.sign(SECRET, subject, ttl_seconds=60, now=1_000)
    verdict = auth.check(token, (), SECRET, now=1_030)
    assert (verdict.status, verdict.subject) == (200, subject)
    signed, signature = token.rsplit(".", 1)
    assert auth.check(f"{signed}z.{signature}", (), SECRET, now=1_030).status == 403  # another subject


def test_a_v1_token_minted_before_the_dot_fix_stays_valid():
    # Made with the previous sign(): "v1.<expiry>.<subject>.<base64url HMAC-SHA256 of the first three>".
    old_token = "v1.1060.shopper-1.rGzLGelqT2jf1AOb5-4iQq28TBNgU7OqvsvmMWZ2QXc"
    assert auth.check(old_token, (), SECRET, now=1_030).subject == "shopper-1"


@pytest.mark.parametrize(
    "token",
    [
        "v1.1060.shopper-1.rGzLGelqT2jf1AOb5-4iQq28TBNgU7OqvsvmMWZ2QX\u00e9",  # non-ASCII signature
        "v1.1060.shöpper-1.rGzLGelqT2jf1AOb5-4iQq28TBNgU7OqvsvmMWZ2QXc",  # non-ASCII subject
        "v1.１０６０.shopper-1.rGzLGelqT2jf1AOb5-4iQq28TBNgU7OqvsvmMWZ2QXc",  # fullwidth digits
        "v1.1060.shopper-1.",
        "v1..shopper-1.sig",
        "v1.1060..sig",
        "\udcff",
    ],
)
def test_malformed_signed_tokens_are_refused_with_403_not_an_exception(token):
    assert auth.check(token, (), SECRET, now=1_030).status == 403


@pytest.mark.parametrize("token", ["kéy-one", "key-one\u00e9", "\udcff", "ключ"])
def test_non_ascii_api_key_attempts_are_refused_with_403(token):
    assert auth.check(token, ("key-one",), None).status == 403
    assert auth.check(token, ("key-one",), SECRET).status == 403


def test_non_ascii_token_on_connect_is_403_not_500(client, mock_aws, set_env):
    set_env(AUTH_API_KEYS="key-one", AUTH_TOKEN_SECRET=SECRET)
    for token in ("kéy-one", "v1.1060.shopper-1.sïg"):
        event = ws_event("$connect", new_connection_id(), query={"token": token})
        assert client.lambda_.invoke("connect", event).payload["statusCode"] == 403


def test_sign_refuses_a_ttl_over_the_maximum():
    assert auth.check(auth.sign(SECRET, "s", ttl_seconds=3600, now=0, max_ttl_seconds=3600), (), SECRET, now=1).allowed
    with pytest.raises(ValueError, match="3601"):
        auth.sign(SECRET, "s", ttl_seconds=3601, now=0, max_ttl_seconds=3600)
    with pytest.raises(ValueError):
        auth.sign(SECRET, "s", ttl_seconds=0, now=0)


def test_check_refuses_a_token_that_expires_further_away_than_the_maximum():
    far = auth.sign(SECRET, "s", ttl_seconds=10 * 86400, now=0, max_ttl_seconds=10 * 86400)
    refused = auth.check(far, (), SECRET, now=0, max_ttl_seconds=86400)
    assert (refused.status, refused.reason) == (403, "token lifetime over the maximum")
    # The same token once it is within the maximum of its expiry.
    assert auth.check(far, (), SECRET, now=9 * 86400, max_ttl_seconds=86400).allowed


def test_the_default_maximum_lifetime_is_a_day():
    assert auth.DEFAULT_MAX_TTL_SECONDS == 86400
    assert auth.check(auth.sign(SECRET, "s", ttl_seconds=86400, now=0), (), SECRET, now=0).allowed
    with pytest.raises(ValueError):
        auth.sign(SECRET, "s", ttl_seconds=86401, now=0)
    assert (
        auth.check(auth.sign(SECRET, "s", 2 * 86400, now=0, max_ttl_seconds=2 * 86400), (), SECRET, now=0).status == 403
    )


def test_connect_applies_auth_max_ttl_seconds(client, mock_aws, set_env):
    set_env(AUTH_TOKEN_SECRET=SECRET, AUTH_MAX_TTL_SECONDS="600")
    for ttl, status in ((600, 200), (3600, 403)):
        token = auth.sign(SECRET, "shopper-1", ttl_seconds=ttl, max_ttl_seconds=3600)
        event = ws_event("$connect", new_connection_id(), query={"token": token})
        assert client.lambda_.invoke("connect", event).payload["statusCode"] == status


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


def allowed(verdicts):
    return [verdict.allowed for verdict in verdicts]


def test_rate_limit_counts_per_connection_and_window(mock_aws, set_env):
    set_env(RATE_LIMIT_MESSAGES="3", RATE_LIMIT_WINDOW_SECONDS="10", RATE_LIMIT_IP_MESSAGES="0")
    first, second = new_connection_id(), new_connection_id()
    assert allowed(ratelimit.allow(first, now=100) for _ in range(4)) == [True, True, True, False]
    assert ratelimit.allow(first, now=101).scope == "connection"
    assert ratelimit.allow(second, now=101).allowed  # another connection has its own budget
    assert ratelimit.allow(first, now=110).allowed  # a new window


@pytest.mark.parametrize("scope", ["connection", "ping", "resume"])
@pytest.mark.parametrize("window,offset", [(10, 0.0), (10, 3.25), (10, 9.999), (60, 59.5), (1, 0.5)])
def test_a_refusal_says_when_the_same_frame_is_counted_afresh(mock_aws, set_env, scope, window, offset):
    set_env(
        RATE_LIMIT_MESSAGES="1", PING_RATE_LIMIT="1", RESUME_RATE_LIMIT="1", RATE_LIMIT_WINDOW_SECONDS=str(window)
    )
    check = {
        "connection": lambda c, now: ratelimit.allow(c, now=now),
        "ping": lambda c, now: ratelimit.allow_ping(c, now=now),
        "resume": lambda c, now: ratelimit.allow_resume(c, "s1", now=now),
    }[scope]
    connection_id, start = new_connection_id(), 1_000_000 * window
    assert check(connection_id, start + offset).allowed
    refused = check(connection_id, start + offset)
    assert not refused.allowed and refused.scope == scope
    after = refused.retry_after_ms / 1000
    assert 0 < after <= window and abs(start + offset + after - (start + window)) < 0.002
    assert check(connection_id, start + offset + after).allowed  # sent then, it goes through


def test_rate_limit_zero_disables_it(mock_aws, set_env):
    set_env(RATE_LIMIT_MESSAGES="0")
    connection_id = new_connection_id()
    assert all(allowed(ratelimit.allow(connection_id, SOURCE_IP, now=100) for _ in range(100)))


def test_the_documented_defaults():
    from chalicelib.config import load

    config = load({})
    assert (config.rate_limit_messages, config.rate_limit_window_seconds) == (5, 10)
    assert config.rate_limit_subject_messages == 5
    assert config.rate_limit_ip_messages == 0  # off: a NAT puts many shoppers behind one address
    assert config.ping_rate_limit == 20
    assert config.resume_rate_limit == 10
    assert config.auth_max_ttl_seconds == 86400
    derived = load({"RATE_LIMIT_MESSAGES": "7"})
    assert (derived.rate_limit_subject_messages, derived.rate_limit_ip_messages) == (7, 0)


def test_fifty_shoppers_behind_one_address_at_a_human_pace_are_never_refused_by_default(mock_aws):
    """A message each every 10 s (with jitter), ten each, all from one address: the per-IP
    default (20 per 10 s) refused most of them."""
    rng = random.Random(20)
    shoppers = [new_connection_id() for _ in range(50)]
    refused = []
    for round_number in range(10):
        for connection_id in rng.sample(shoppers, len(shoppers)):
            moment = 1_000 + 10 * round_number + rng.uniform(0, 9.9)
            verdict = ratelimit.allow(connection_id, SOURCE_IP, now=moment)
            if not verdict.allowed:
                refused.append(verdict.scope)
    assert refused == []


def test_rate_limit_per_source_ip_spans_connections(mock_aws, set_env):
    set_env(RATE_LIMIT_MESSAGES="5", RATE_LIMIT_IP_MESSAGES="8")
    verdicts = [ratelimit.allow(new_connection_id(), SOURCE_IP, now=100) for _ in range(10)]
    assert allowed(verdicts) == [True] * 8 + [False] * 2
    assert {verdict.scope for verdict in verdicts[8:]} == {"ip"}
    assert ratelimit.allow(new_connection_id(), "198.51.100.1", now=100).allowed  # another address
    assert ratelimit.allow(new_connection_id(), SOURCE_IP, now=110).allowed  # a new window


def test_rate_limit_per_ip_zero_turns_it_off(mock_aws, set_env):
    set_env(RATE_LIMIT_MESSAGES="5", RATE_LIMIT_IP_MESSAGES="0")
    assert all(allowed(ratelimit.allow(new_connection_id(), SOURCE_IP, now=100) for _ in range(30)))


def connect(client, connection_id, token=None, source_ip=SOURCE_IP):
    query = {"token": token} if token else None
    event = ws_event("$connect", connection_id, query=query, source_ip=source_ip)
    assert client.lambda_.invoke("connect", event).payload == {"statusCode": 200}


def send_message(client, connection_id, text="hello", source_ip=SOURCE_IP):
    event = ws_event("$default", connection_id, {"action": "sendMessage", "message": text}, source_ip=source_ip)
    return client.lambda_.invoke("message", event).payload


def test_reconnecting_does_not_reset_the_per_subject_limit(client, mock_aws, frames, set_env):
    set_env(
        AUTH_TOKEN_SECRET=SECRET, RATE_LIMIT_MESSAGES="5", RATE_LIMIT_IP_MESSAGES="0", RATE_LIMIT_WINDOW_SECONDS="86400"
    )
    token = auth.sign(SECRET, "john.doe@example.com", ttl_seconds=600)
    sent = []
    for index in range(8):  # a new connection per message, each from another address
        connection_id = new_connection_id()
        connect(client, connection_id, token, source_ip=f"198.51.100.{index}")
        send_message(client, connection_id, source_ip=f"198.51.100.{index}")
        sent.extend(frames.to(connection_id))
    assert [frame["type"] for frame in sent] == ["ack"] * 5 + ["error"] * 3
    assert {frame["code"] for frame in sent[5:]} == {protocol.RATE_LIMITED}
    assert "per user" in sent[5]["message"]
    assert len(drain_queue(mock_aws.queue_url)) == 5
    # Another subject is not affected.
    other = new_connection_id()
    connect(client, other, auth.sign(SECRET, "jane", ttl_seconds=600))
    send_message(client, other)
    assert frames.types(other) == ["ack"]


def test_reconnecting_from_one_address_meets_the_per_ip_limit(client, mock_aws, frames, set_env):
    """Without auth, 30 messages over 30 fresh connections used to be all accepted (with the limit on)."""
    set_env(RATE_LIMIT_WINDOW_SECONDS="86400", RATE_LIMIT_IP_MESSAGES="20")
    types = []
    for _ in range(30):
        connection_id = new_connection_id()
        connect(client, connection_id)
        send_message(client, connection_id)
        types.extend(frames.types(connection_id))
    assert types == ["ack"] * 20 + ["error"] * 10  # 4 x RATE_LIMIT_MESSAGES (5)
    assert len(drain_queue(mock_aws.queue_url)) == 20


def test_api_key_connections_have_no_per_subject_limit(client, mock_aws, frames, set_env):
    set_env(AUTH_API_KEYS="integration-key", RATE_LIMIT_IP_MESSAGES="0", RATE_LIMIT_WINDOW_SECONDS="86400")
    for _ in range(8):
        connection_id = new_connection_id()
        connect(client, connection_id, "integration-key")
        send_message(client, connection_id)
        assert frames.types(connection_id) == ["ack"]


def test_the_subject_is_stored_on_the_connection_record(client, mock_aws, set_env):
    set_env(AUTH_TOKEN_SECRET=SECRET)
    connection_id = new_connection_id()
    connect(client, connection_id, auth.sign(SECRET, "john.doe@example.com", ttl_seconds=600))
    item = boto3.client("dynamodb", region_name=REGION).get_item(
        TableName=settings().connections_table, Key={"connection_id": {"S": connection_id}}
    )["Item"]
    assert item["subject"] == {"S": "john.doe@example.com"}


def test_rate_limited_messages_get_an_error_and_are_not_queued(client, mock_aws, frames, set_env):
    set_env(RATE_LIMIT_MESSAGES="2", RATE_LIMIT_WINDOW_SECONDS="86400")
    connection_id = new_connection_id()
    client.lambda_.invoke("connect", ws_event("$connect", connection_id))
    for index in range(4):
        send_message(client, connection_id, f"message {index}")
    client.lambda_.invoke("message", ws_event("$default", connection_id, {"action": "ping"}))
    assert frames.types(connection_id) == ["ack", "ack", "error", "error", "pong"]
    errors = [frame for frame in frames.to(connection_id) if frame["type"] == "error"]
    assert {frame["code"] for frame in errors} == {protocol.RATE_LIMITED}
    assert "at most 2 messages per 86400 s per connection" in errors[0]["message"]
    assert all(0 < frame["retry_after_ms"] <= 86_400_000 for frame in errors)
    assert len(drain_queue(mock_aws.queue_url)) == 2


# --- pings -----------------------------------------------------------------------------


def test_pings_have_a_budget_per_connection(client, mock_aws, frames, set_env):
    set_env(PING_RATE_LIMIT="3", RATE_LIMIT_WINDOW_SECONDS="86400")
    flooding, other = new_connection_id(), new_connection_id()
    for _ in range(6):
        client.lambda_.invoke("message", ws_event("$default", flooding, {"action": "ping"}))
    client.lambda_.invoke("message", ws_event("$default", other, {"action": "ping"}))
    posted = frames.to(flooding)
    # Over the budget a ping gets one rate_limited error instead of a pong, and nothing else.
    assert [frame["type"] for frame in posted] == ["pong"] * 3 + ["error"] * 3
    assert {frame["code"] for frame in posted[3:]} == {protocol.RATE_LIMITED}
    assert "at most 3 pings per 86400 s" in posted[3]["message"]
    assert frames.types(other) == ["pong"]
    assert drain_queue(mock_aws.queue_url) == []


def test_pings_and_messages_have_separate_budgets(client, mock_aws, frames, set_env):
    set_env(PING_RATE_LIMIT="2", RATE_LIMIT_MESSAGES="2", RATE_LIMIT_WINDOW_SECONDS="86400")
    connection_id = new_connection_id()
    for body in ({"action": "ping"}, {"action": "ping"}, {"action": "sendMessage", "message": "a"}):
        client.lambda_.invoke("message", ws_event("$default", connection_id, body))
    assert frames.types(connection_id) == ["pong", "pong", "ack"]


def test_ping_rate_limit_zero_turns_it_off(mock_aws, set_env):
    set_env(PING_RATE_LIMIT="0")
    connection_id = new_connection_id()
    assert all(allowed(ratelimit.allow_ping(connection_id, now=100) for _ in range(50)))


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
