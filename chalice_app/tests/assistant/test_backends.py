"""Choosing the assistant (ASSISTANT_BACKEND) and slowing it down (ASSISTANT_DELAY_SECONDS, slow)."""

import random

import pytest

from chalicelib import assistant
from chalicelib.assistant import Delta, Reply
from chalicelib.assistant.bedrock import BedrockAssistant
from chalicelib.assistant.catalog import CatalogAssistant
from chalicelib.assistant.delayed import SLOW_RANGE_SECONDS, DelayedAssistant
from chalicelib.assistant.echo import EchoAssistant
from chalicelib.config import DEFAULT_BEDROCK_MODEL_ID, ConfigError, load


def test_catalog_is_the_default_backend():
    config = load({})
    assert config.assistant_backend == "catalog"
    assert isinstance(assistant.create(config), CatalogAssistant)


def test_every_listed_backend_can_be_created():
    assert set(assistant.BACKENDS) == {"catalog", "bedrock", "slow", "echo"}
    for name in assistant.BACKENDS:
        assert assistant.create(load({"ASSISTANT_BACKEND": name})) is not None
    with pytest.raises(ConfigError, match="ASSISTANT_BACKEND"):
        assistant.create(load({"ASSISTANT_BACKEND": "gpt-17"}))


def test_echo_still_works():
    created = assistant.create(load({"ASSISTANT_BACKEND": "echo"}))
    assert isinstance(created, EchoAssistant)
    assert list(created.respond("hi there", "s"))[-1] == Reply(content="You said: hi there", products=[])


def test_bedrock_takes_its_model_and_inference_settings_from_config():
    created = assistant.create(load({"ASSISTANT_BACKEND": "bedrock"}))
    assert isinstance(created, BedrockAssistant)
    assert (created.model_id, created.max_tokens, created.temperature) == (DEFAULT_BEDROCK_MODEL_ID, 1024, 0.2)
    created = assistant.create(
        load(
            {
                "ASSISTANT_BACKEND": "BEDROCK",
                "BEDROCK_MODEL_ID": "us.amazon.nova-pro-v1:0",
                "BEDROCK_MAX_TOKENS": "512",
                "BEDROCK_TEMPERATURE": "0",
            }
        )
    )
    assert (created.model_id, created.max_tokens, created.temperature) == ("us.amazon.nova-pro-v1:0", 512, 0.0)


def test_a_temperature_bedrock_would_refuse_fails_at_configuration():
    with pytest.raises(ConfigError, match="BEDROCK_TEMPERATURE"):
        assistant.create(load({"ASSISTANT_BACKEND": "bedrock", "BEDROCK_TEMPERATURE": "1.5"}))


def test_the_delay_applies_to_any_backend():
    created = assistant.create(load({"ASSISTANT_DELAY_SECONDS": "2.5"}))
    assert isinstance(created, DelayedAssistant) and isinstance(created.inner, CatalogAssistant)
    assert created.delay() == 2.5
    created = assistant.create(load({"ASSISTANT_BACKEND": "bedrock", "ASSISTANT_DELAY_SECONDS": "1"}))
    assert isinstance(created.inner, BedrockAssistant)


def test_slow_is_the_catalog_at_the_seeds_speed_unless_told_otherwise():
    created = assistant.create(load({"ASSISTANT_BACKEND": "slow"}))
    assert isinstance(created, DelayedAssistant) and isinstance(created.inner, CatalogAssistant)
    assert SLOW_RANGE_SECONDS == (37.0, 55.0)
    assert all(37.0 <= created.delay() <= 55.0 for _ in range(50))
    assert assistant.create(load({"ASSISTANT_BACKEND": "slow", "ASSISTANT_DELAY_SECONDS": "3"})).delay() == 3


class Scripted:
    def respond(self, message, session_id):
        for piece in ("a\n", "b\n", "c"):
            yield Delta(piece)
        yield Reply(content="a\nb\nc")


def test_the_delay_is_spent_mostly_before_the_first_words_then_between_them():
    slept = []
    delayed = DelayedAssistant(Scripted(), seconds_range=(40, 40), sleep=slept.append, rng=random.Random(1))
    events = list(delayed.respond("m", "s"))
    assert [type(event) for event in events] == [Delta, Delta, Delta, Reply]
    # 70% before the first token, an eighth of the rest before each piece, what is left before the reply.
    assert slept == pytest.approx([28.0, 1.5, 1.5, 1.5, 7.5])


def test_the_delay_streams_lazily():
    pulled = []

    class Tracking:
        def respond(self, message, session_id):
            pulled.append("first")
            yield Delta("x")
            pulled.append("second")
            yield Reply(content="x")

    stream = DelayedAssistant(Tracking(), seconds=0.0, sleep=lambda seconds: None).respond("m", "s")
    next(stream)
    assert pulled == ["first"]
