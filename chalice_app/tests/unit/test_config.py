"""chalicelib.config: defaults, malformed values and the in-Lambda requirements."""

import pytest

from chalicelib import assistant
from chalicelib.config import REQUIRED_IN_LAMBDA, ConfigError, load, settings
from tests.unit.support import new_connection_id, ws_event

LAMBDA_ENV = {
    "AWS_LAMBDA_FUNCTION_NAME": "shopping-assistant-api-dev-connect",
    "CHAT_QUEUE_NAME": "chat-dev",
    "CONNECTIONS_TABLE": "connections-dev",
    "IDEMPOTENCY_TABLE": "idempotency-dev",
}


def without(env, name):
    return {key: value for key, value in env.items() if key != name}


def test_defaults_suit_the_local_runtime():
    config = load({})

    assert config.region == "us-east-1"
    assert config.queue_name == "ChatProcessingQueue.fifo"
    assert config.queue_url is None
    assert config.connections_table == "shopping-assistant-connections"
    assert config.idempotency_table == "shopping-assistant-idempotency"
    assert config.sessions_table == "shopping-assistant-sessions"
    assert config.frames_table == "shopping-assistant-frames"
    assert config.sqs_batch_size == 1
    assert config.max_receive_count == 5
    assert config.message_ttl_seconds == 300
    assert config.heartbeat_seconds == 10.0
    assert config.connection_ttl_seconds == 3 * 3600
    assert config.idempotency_ttl_seconds == 3600
    assert config.assistant_backend == "catalog"
    assert config.assistant_delay_seconds == 0.0
    assert (config.websocket_domain, config.websocket_stage, config.websocket_endpoint_url) == (None, None, None)


def test_values_are_read_and_trimmed():
    config = load(
        {
            "AWS_REGION": "eu-west-1",
            "AWS_DEFAULT_REGION": "us-west-2",
            "CHAT_QUEUE_NAME": "  my-queue ",
            "SQS_BATCH_SIZE": " 10 ",
            "HEARTBEAT_SECONDS": "0.05",
            "ASSISTANT_BACKEND": " ECHO ",
            "ASSISTANT_DELAY_SECONDS": "1.5",
            "WEBSOCKET_ENDPOINT_URL": "http://localhost:8000/api",
        }
    )

    assert config.region == "eu-west-1"
    assert config.queue_name == "my-queue"
    assert config.sqs_batch_size == 10
    assert config.heartbeat_seconds == 0.05
    assert config.assistant_backend == "echo"
    assert config.assistant_delay_seconds == 1.5
    assert config.websocket_endpoint_url == "http://localhost:8000/api"


def test_aws_default_region_is_used_without_aws_region():
    assert load({"AWS_DEFAULT_REGION": "ap-southeast-2"}).region == "ap-southeast-2"


def test_blank_values_mean_the_default():
    config = load({"SQS_BATCH_SIZE": "  ", "CHAT_QUEUE_NAME": "", "HEARTBEAT_SECONDS": "\t"})

    assert config.sqs_batch_size == 1
    assert config.queue_name == "ChatProcessingQueue.fifo"
    assert config.heartbeat_seconds == 10.0


@pytest.mark.parametrize(
    ("name", "raw"),
    [
        ("SQS_BATCH_SIZE", "ten"),
        ("SQS_BATCH_SIZE", "2.5"),
        ("SQS_BATCH_SIZE", "1e3"),
        ("SQS_BATCH_SIZE", "0"),
        ("MAX_RECEIVE_COUNT", "three"),
        ("MAX_RECEIVE_COUNT", "0"),
        ("MESSAGE_TTL_SECONDS", "5m"),
        ("MESSAGE_TTL_SECONDS", "-1"),
        ("HEARTBEAT_SECONDS", "fast"),
        ("HEARTBEAT_SECONDS", "0.01"),
        ("HEARTBEAT_SECONDS", "nan"),
        ("HEARTBEAT_SECONDS", "inf"),
        ("CONNECTION_TTL_SECONDS", "30"),
        ("CONNECTION_TTL_SECONDS", "3h"),
        ("IDEMPOTENCY_TTL_SECONDS", "59"),
        ("ASSISTANT_DELAY_SECONDS", "-0.5"),
        ("ASSISTANT_DELAY_SECONDS", "Infinity"),
        ("ASSISTANT_DELAY_SECONDS", "NaN"),
    ],
)
def test_malformed_number_raises_config_error_naming_the_variable(name, raw):
    with pytest.raises(ConfigError) as raised:
        load({name: raw})

    assert name in str(raised.value)
    assert repr(raw) in str(raised.value)


def test_settings_raises_for_a_malformed_environment_variable(monkeypatch):
    monkeypatch.setenv("MAX_RECEIVE_COUNT", "lots")
    settings.cache_clear()

    with pytest.raises(ConfigError, match="MAX_RECEIVE_COUNT"):
        settings()


def test_settings_is_cached_until_cleared(monkeypatch):
    monkeypatch.setenv("CHAT_QUEUE_NAME", "first")
    assert settings().queue_name == "first"

    monkeypatch.setenv("CHAT_QUEUE_NAME", "second")
    assert settings().queue_name == "first"

    settings.cache_clear()
    assert settings().queue_name == "second"


# --- inside Lambda -------------------------------------------------------------


def test_in_lambda_configured_names_are_used():
    config = load(LAMBDA_ENV)

    assert (config.queue_name, config.connections_table, config.idempotency_table) == (
        "chat-dev",
        "connections-dev",
        "idempotency-dev",
    )


def test_in_lambda_missing_connections_table_names_it():
    with pytest.raises(ConfigError) as raised:
        load(without(LAMBDA_ENV, "CONNECTIONS_TABLE"))

    assert "CONNECTIONS_TABLE" in str(raised.value)
    assert "config.json" in str(raised.value)


@pytest.mark.parametrize("name", REQUIRED_IN_LAMBDA)
def test_in_lambda_every_required_name_must_be_set(name):
    with pytest.raises(ConfigError, match=name):
        load(without(LAMBDA_ENV, name))

    with pytest.raises(ConfigError, match=name):
        load({**LAMBDA_ENV, name: "   "})


def test_outside_lambda_the_same_names_fall_back_to_defaults():
    env = without(without(LAMBDA_ENV, "AWS_LAMBDA_FUNCTION_NAME"), "CONNECTIONS_TABLE")

    assert load(env).connections_table == "shopping-assistant-connections"


def test_connect_handler_fails_loudly_in_lambda_without_connections_table(client, monkeypatch):
    for name, value in without(LAMBDA_ENV, "CONNECTIONS_TABLE").items():
        monkeypatch.setenv(name, value)
    settings.cache_clear()

    with pytest.raises(ConfigError, match="CONNECTIONS_TABLE"):
        client.lambda_.invoke("connect", ws_event("$connect", new_connection_id()))


# --- the assistant backend ------------------------------------------------------


def test_unknown_assistant_backend_names_the_variable():
    with pytest.raises(ConfigError, match="ASSISTANT_BACKEND"):
        assistant.create(load({"ASSISTANT_BACKEND": "gpt-17"}))


def test_echo_backend_streams_deltas_then_one_reply():
    events = list(assistant.create(load({"ASSISTANT_BACKEND": "echo"})).respond("blue shoes", "s1"))

    deltas, reply = events[:-1], events[-1]
    assert all(isinstance(event, assistant.Delta) for event in deltas)
    assert "".join(delta.text for delta in deltas) == "You said: blue shoes"
    assert reply == assistant.Reply(content="You said: blue shoes", products=[])
