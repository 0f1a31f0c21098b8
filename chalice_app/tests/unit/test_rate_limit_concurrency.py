"""The rate limits under concurrent requests, against a real moto server over HTTP.

In-process ``mock_aws`` answers one call at a time, so it cannot show a race; here
many threads call the message handler (or ``ratelimit.allow``) at the same moment,
each request a real HTTP round trip to moto's DynamoDB, as concurrent Lambda
instances would. Windows are a day long so no test straddles two.
"""

import threading
from concurrent.futures import ThreadPoolExecutor

import boto3
import pytest
from chalice.local import LambdaContext

from chalicelib import protocol, ratelimit
from chalicelib.config import settings
from infra import bootstrap
from tests.conftest import REGION
from tests.support import threaded_moto_server
from tests.unit.support import drain_queue, new_connection_id, ws_event

DAY = "86400"


@pytest.fixture(scope="module")
def moto_endpoint():
    with threaded_moto_server() as url:
        yield url


@pytest.fixture
def server_aws(moto_endpoint, set_env):
    """The app pointed at the moto server (``AWS_ENDPOINT_URL``), its queue and tables created."""
    set_env(AWS_ENDPOINT_URL=moto_endpoint)
    return bootstrap.ensure_all(
        lambda service: boto3.client(service, region_name=REGION, endpoint_url=moto_endpoint), settings(), 360
    )


def at_once(count, call):
    """Run ``call(index)`` in ``count`` threads released together; their results in order."""
    barrier = threading.Barrier(count)

    def run(index):
        barrier.wait()
        return call(index)

    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(run, range(count)))


def invoke_message(connection_id, body):
    from app import app

    event = ws_event("$default", connection_id, body)
    return app.handler_map["message"](event, LambdaContext("message", memory_size=128))


def test_five_messages_at_once_on_a_fresh_connection_are_all_acked(server_aws, frames, set_env):
    """The bug: 1 ack and 4 rate_limited (the losers of the new-window race were refused)."""
    set_env(RATE_LIMIT_MESSAGES="5", RATE_LIMIT_WINDOW_SECONDS=DAY)
    connection_id = new_connection_id()

    at_once(5, lambda index: invoke_message(connection_id, {"action": "sendMessage", "message": f"m{index}"}))

    assert frames.types(connection_id) == ["ack"] * 5
    assert len(drain_queue(server_aws.queue_url)) == 5


def test_more_at_once_than_the_limit_lets_exactly_the_limit_through(server_aws, frames, set_env):
    set_env(RATE_LIMIT_MESSAGES="5", RATE_LIMIT_WINDOW_SECONDS=DAY)
    connection_id = new_connection_id()

    at_once(12, lambda index: invoke_message(connection_id, {"action": "sendMessage", "message": f"m{index}"}))

    posted = frames.to(connection_id)
    assert sorted(frame["type"] for frame in posted) == ["ack"] * 5 + ["error"] * 7
    assert {frame["code"] for frame in posted if frame["type"] == "error"} == {protocol.RATE_LIMITED}
    assert len(drain_queue(server_aws.queue_url)) == 5


def test_no_increment_is_lost_under_contention(server_aws, set_env):
    """40 threads on one connection, one IP: exactly ``limit`` of them are let through."""
    set_env(RATE_LIMIT_MESSAGES="25", RATE_LIMIT_IP_MESSAGES="1000", RATE_LIMIT_WINDOW_SECONDS="10")
    connection_id = new_connection_id()

    verdicts = at_once(40, lambda index: ratelimit.allow(connection_id, "203.0.113.9", now=1_000))

    assert sum(verdict.allowed for verdict in verdicts) == 25
    # The next window starts from zero, even when it is opened by many at once.
    verdicts = at_once(40, lambda index: ratelimit.allow(connection_id, "203.0.113.9", now=1_010))
    assert sum(verdict.allowed for verdict in verdicts) == 25


def test_the_per_ip_counter_is_exact_across_connections(server_aws, set_env):
    set_env(RATE_LIMIT_MESSAGES="5", RATE_LIMIT_IP_MESSAGES="15", RATE_LIMIT_WINDOW_SECONDS="10")

    verdicts = at_once(30, lambda index: ratelimit.allow(new_connection_id(), "198.51.100.77", now=2_000))

    assert sum(verdict.allowed for verdict in verdicts) == 15
    assert {verdict.scope for verdict in verdicts if not verdict.allowed} == {"ip"}


def test_the_ping_budget_is_exact_under_a_flood(server_aws, frames, set_env):
    set_env(PING_RATE_LIMIT="10", RATE_LIMIT_WINDOW_SECONDS=DAY)
    connection_id = new_connection_id()

    at_once(30, lambda index: invoke_message(connection_id, {"action": "ping"}))

    assert sorted(frames.types(connection_id)) == ["error"] * 20 + ["pong"] * 10
