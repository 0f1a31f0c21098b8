"""The session store: one DynamoDB item per session_id, with a ttl and a capped history."""

import time

import boto3
import pytest

from chalicelib.config import settings
from chalicelib.sessions import ASSISTANT_TEXT_LIMIT, SessionState, SessionStore
from tests.conftest import REGION


def raw_item(session_id):
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    return dynamodb.get_item(TableName=settings().sessions_table, Key={"session_id": {"S": session_id}}).get("Item")


def test_a_new_session_is_empty(sessions):
    state = sessions.load("never-seen")
    assert state == SessionState(session_id="never-seen", created_at=state.created_at)
    assert raw_item("never-seen") is None  # loading does not write


def test_state_round_trips_with_exact_numbers(sessions):
    state = sessions.load("round-trip")
    state.last_result_ids = ["RUN-001", "RUN-002"]
    state.filters = {"category": "running shoes", "max_price": 79.99, "min_rating": 4.5, "brands": ["Nike"]}
    state.cart = {"RUN-001": 2}
    state.focus_id = "RUN-002"
    state.record_turn("running shoes under 80", "I found …", ["RUN-001"], "m-1")
    sessions.save(state)

    loaded = sessions.load("round-trip")
    assert loaded.filters == state.filters
    assert loaded.cart == {"RUN-001": 2} and isinstance(loaded.cart["RUN-001"], int)
    assert loaded.last_result_ids == ["RUN-001", "RUN-002"]
    assert loaded.focus_id == "RUN-002"
    assert loaded.history[0]["user"] == "running shoes under 80"
    assert loaded.replay_of("m-1")["product_ids"] == ["RUN-001"]
    assert loaded.replay_of("m-2") is None and loaded.replay_of(None) is None


def test_the_item_has_the_table_key_and_a_ttl(sessions):
    before = int(time.time())
    sessions.save(SessionState(session_id="with-ttl"))
    item = raw_item("with-ttl")
    assert item["session_id"] == {"S": "with-ttl"}
    assert before + settings().session_ttl_seconds <= int(item["ttl"]["N"]) <= int(time.time()) + 86400
    assert {"last_result_ids", "filters", "cart", "history"} <= set(item)


def test_an_expired_item_not_yet_deleted_counts_as_gone(moto_tables):
    store = SessionStore(settings().sessions_table, ttl_seconds=60, history_limit=5)
    state = SessionState(session_id="expired", cart={"TNT-001": 1})
    store.save(state)
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    dynamodb.update_item(
        TableName=settings().sessions_table,
        Key={"session_id": {"S": "expired"}},
        UpdateExpression="SET #ttl = :past",
        ExpressionAttributeNames={"#ttl": "ttl"},
        ExpressionAttributeValues={":past": {"N": str(int(time.time()) - 1)}},
    )
    assert store.load("expired").cart == {}


def test_history_is_capped_and_long_texts_are_cut(moto_tables):
    store = SessionStore(settings().sessions_table, ttl_seconds=3600, history_limit=3)
    state = store.load("capped")
    for number in range(5):
        state.record_turn(f"message {number}", "x" * (ASSISTANT_TEXT_LIMIT + 500), [], None)
    store.save(state)
    history = store.load("capped").history
    assert [turn["user"] for turn in history] == ["message 2", "message 3", "message 4"]
    assert all(len(turn["assistant"]) == ASSISTANT_TEXT_LIMIT for turn in history)


@pytest.mark.parametrize("name, value", [("SESSION_TTL_SECONDS", "30"), ("SESSION_HISTORY_LIMIT", "0")])
def test_session_settings_are_validated(name, value):
    from chalicelib.config import ConfigError, load

    with pytest.raises(ConfigError, match=name):
        load({name: value})
