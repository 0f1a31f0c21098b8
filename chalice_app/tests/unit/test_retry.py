"""chat_processor's retries told and bounded (chalicelib/retry.py): the record's visibility set by
the processor (in-process moto queue), the shopper told ``retrying`` with the attempt and the
cause in its words, a deadline kept before Lambda's, and the settings checked."""

import json
import os
import time

import boto3
import pytest
from botocore.exceptions import ClientError
from chalice.local import LambdaContext
from hypothesis import given
from hypothesis import strategies as st

from chalicelib import assistant, processor, retry
from chalicelib.assistant import Reply
from chalicelib.config import ConfigError, load, settings
from chalicelib.errors import DeadlineError
from chalicelib.framelog import FrameLog
from tests.conftest import REGION
from tests.unit.support import log_events, new_connection_id, session_envelope, sqs_event, sqs_record_from_message

CONFIG_JSON = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(__file__))), ".chalice", "config.json")


class Failing:
    def __init__(self, exc):
        self.exc = exc

    def respond(self, message, state):
        raise self.exc
        yield  # a generator, as backends are


class Sleeping:
    def respond(self, message, state):
        time.sleep(30)
        yield Reply(content="too late")


@pytest.fixture
def use_assistant(monkeypatch):
    def install(fake):
        monkeypatch.setattr(assistant, "create", lambda config: fake)
        processor._assistant.cache_clear()

    return install


def received(mock_aws, envelope):
    """Send the envelope to the (moto) queue and receive it, as the event source mapping does."""
    sqs = boto3.client("sqs", region_name=REGION)
    url = mock_aws.queue_url
    sqs.send_message(QueueUrl=url, MessageBody=envelope.to_json(), MessageGroupId="g", MessageDeduplicationId="d")
    [message] = sqs.receive_message(QueueUrl=url, AttributeNames=["All"], WaitTimeSeconds=0)["Messages"]
    return sqs_record_from_message(message, mock_aws.queue_arn)


def visible_after(mock_aws, seconds: float) -> bool:
    time.sleep(seconds)
    sqs = boto3.client("sqs", region_name=REGION)
    found = sqs.receive_message(QueueUrl=mock_aws.queue_url, VisibilityTimeout=0, WaitTimeSeconds=0)
    return bool(found.get("Messages"))


def context(seconds: float):
    return LambdaContext("chat_processor", memory_size=256, max_runtime_ms=int(seconds * 1000))


def test_a_failed_attempt_holds_the_record_for_its_backoff_and_tells_the_shopper(
    mock_aws, frames, use_assistant, set_env
):
    set_env(RETRY_BACKOFF_SECONDS="1,30")
    use_assistant(Failing(RuntimeError("model down")))
    envelope = session_envelope(new_connection_id())
    record = received(mock_aws, envelope)  # invisible for the queue's 360 s from here

    payload = processor.process_batch(sqs_event(record), context(60))

    assert payload["batchItemFailures"] == [{"itemIdentifier": record["messageId"]}]
    told = [f for f in frames.bare_to(envelope.connection_id) if f.get("status") == "retrying"]
    assert told == [
        {
            "type": "status",
            "message_id": envelope.message_id,
            "status": "retrying",
            "attempt": 1,
            "reason": "the assistant failed",
            "retry_in_seconds": 1,
        }
    ]
    # The backoff, not the queue's 360 s, decides when it comes back.
    assert not visible_after(mock_aws, 0)
    assert visible_after(mock_aws, 1.2)


def test_the_record_is_held_short_while_it_is_answered(mock_aws, frames, set_env):
    """A dead environment's record comes back after IN_FLIGHT_VISIBILITY_SECONDS, not the queue's 360 s."""
    set_env(IN_FLIGHT_VISIBILITY_SECONDS="2", HEARTBEAT_SECONDS="1", ASSISTANT_BACKEND="echo")
    envelope = session_envelope(new_connection_id())
    record = received(mock_aws, envelope)
    sqs = boto3.client("sqs", region_name=REGION)
    calls = []
    sqs.meta.events.register(
        "provide-client-params.sqs.ChangeMessageVisibility", lambda params, **kw: calls.append(params)
    )
    lease = retry.Lease(sqs, mock_aws.queue_url, record["receiptHandle"], envelope.message_id)

    assert lease.hold(2)
    assert not visible_after(mock_aws, 0.5)
    assert visible_after(mock_aws, 2)
    assert calls[0]["VisibilityTimeout"] == 2


def test_a_turn_stops_itself_before_the_lambda_deadline(mock_aws, frames, use_assistant, set_env, caplog):
    set_env(DEADLINE_MARGIN_SECONDS="10")
    use_assistant(Sleeping())
    envelope = session_envelope(new_connection_id())
    record = received(mock_aws, envelope)
    started = time.monotonic()

    payload = processor.process_batch(sqs_event(record), context(2))  # margin: a quarter of 2 s

    assert time.monotonic() - started < 2
    assert payload["batchItemFailures"] == [{"itemIdentifier": record["messageId"]}]
    [told] = [f for f in frames.bare_to(envelope.connection_id) if f.get("status") == "retrying"]
    assert told["reason"] == "the reply took too long"
    [failed] = log_events(caplog, "processing_failed")
    assert failed["error_type"] == "DeadlineError"


def test_the_last_attempt_ends_in_processing_failed_with_the_cause_in_shopper_words(
    mock_aws, frames, use_assistant, caplog
):
    use_assistant(Failing(ModuleNotFoundError("No module named 'catalog_index'")))
    envelope = session_envelope(new_connection_id())
    record = received(mock_aws, envelope)
    record["attributes"]["ApproximateReceiveCount"] = "5"

    processor.process_batch(sqs_event(record), context(60))

    error = frames.bare_to(envelope.connection_id)[-1]
    assert (error["type"], error["code"]) == ("error", "processing_failed")
    assert error["message"].endswith("the service is misconfigured (a part of it failed to load)")
    [failed] = log_events(caplog, "processing_failed")
    assert failed["error"] == "ModuleNotFoundError: No module named 'catalog_index'"
    assert failed["last_attempt"] is True


def test_a_started_reply_is_finished_however_old(mock_aws, frames, set_env):
    """The TTL expires a message nobody started; one the shopper saw begin (redelivered after its
    environment died) is answered, not ``expired``."""
    set_env(MESSAGE_TTL_SECONDS="1", ASSISTANT_BACKEND="echo")
    envelope = session_envelope(new_connection_id())
    FrameLog.from_settings(settings()).start(envelope.session_id, envelope.message_id, envelope.owner)
    time.sleep(1.2)
    record = received(mock_aws, envelope)
    record["attributes"]["ApproximateReceiveCount"] = "2"

    processor.process_batch(sqs_event(record), context(60))

    assert frames.bare_to(envelope.connection_id)[-1]["type"] == "response"


CAUSES = [
    (DeadlineError("x"), "the reply took too long"),
    (ImportError("x"), "the service is misconfigured (a part of it failed to load)"),
    (ClientError({"Error": {"Code": "AccessDeniedException", "Message": "no"}}, "GetItem"), "could not reach"),
    (ClientError({"Error": {"Code": "ResourceNotFoundException", "Message": "no"}}, "GetItem"), "could not reach"),
    (ClientError({"Error": {"Code": "ThrottlingException", "Message": "no"}}, "Converse"), "busy"),
    (RuntimeError("x"), "the assistant failed"),
    (KeyError("x"), "an unexpected error"),
]


@pytest.mark.parametrize(("exc", "words"), CAUSES)
def test_every_cause_has_shopper_words_and_a_log_line_with_type_and_message(exc, words):
    assert words in retry.shopper_reason(exc)
    assert retry.cause(exc).startswith(type(exc).__name__ + ": ")


def test_a_wrapped_aws_error_is_told_and_logged_by_its_cause():
    """Powertools wraps DynamoDB's AccessDenied (a role missing a table) in its own error."""
    denied = ClientError({"Error": {"Code": "AccessDeniedException", "Message": "not authorized"}}, "PutItem")
    try:
        try:
            raise denied
        except ClientError as inner:
            raise LookupError("Failed to save in progress record to idempotency store") from inner
    except LookupError as wrapped:
        exc = wrapped
    assert retry.shopper_reason(exc) == "the service could not reach its storage"
    assert retry.cause(exc) == (
        "LookupError: Failed to save in progress record to idempotency store (caused by ClientError: An error"
        " occurred (AccessDeniedException) when calling the PutItem operation: not authorized)"
    )


@given(st.lists(st.integers(min_value=0, max_value=600), min_size=1, max_size=6), st.integers(1, 20))
def test_backoff_is_the_attempts_entry_then_the_last_repeated(schedule, attempt):
    expected = schedule[attempt - 1] if attempt <= len(schedule) else schedule[-1]
    assert retry.backoff(schedule, attempt) == expected


def test_the_defaults_tell_within_30_s_settle_within_3_min_and_outlast_a_dead_holders_claim():
    config = load({})
    with open(CONFIG_JSON) as handle:
        timeout = json.load(handle)["lambda_functions"]["chat_processor"]["lambda_timeout"]
    assert config.in_flight_visibility_seconds + 1 <= 30  # a dead environment's record is back and told
    assert max(config.retry_backoff_seconds) <= 60
    # Every failed attempt's wait, one after another, ends within 3 minutes.
    waits = [retry.backoff(config.retry_backoff_seconds, n) for n in range(1, config.max_receive_count)]
    assert sum(waits) < 180
    assert retry.covers(config.retry_backoff_seconds, config.in_flight_visibility_seconds, 5, timeout)


@pytest.mark.parametrize("raw", ["", "a,b", "5,-1", "5,,6", "99999"])
def test_a_bad_backoff_schedule_says_what_to_write(raw):
    if raw == "":
        assert load({"RETRY_BACKOFF_SECONDS": raw}).retry_backoff_seconds == (5, 15, 30, 60)
        return
    with pytest.raises(ConfigError, match=r"RETRY_BACKOFF_SECONDS must be whole seconds .* \(e.g. 5,15,30,60\)"):
        load({"RETRY_BACKOFF_SECONDS": raw})


def test_the_in_flight_visibility_must_outlast_two_heartbeats():
    with pytest.raises(ConfigError, match="IN_FLIGHT_VISIBILITY_SECONDS .* twice HEARTBEAT_SECONDS"):
        load({"IN_FLIGHT_VISIBILITY_SECONDS": "15", "HEARTBEAT_SECONDS": "10"})


def test_a_retrying_status_never_follows_the_terminal_frame(mock_aws, frames):
    """A copy that meets the claim of a delivery which then answered must not post ``retrying``
    after that answer: the status takes its cursor only while the head holds the message."""
    from chalicelib.management import ManagementApi
    from chalicelib.outbox import Outbox

    envelope = session_envelope(new_connection_id())
    log = FrameLog.from_settings(settings())
    log.start(envelope.session_id, envelope.message_id, envelope.owner)
    api = ManagementApi("https://example.execute-api.us-east-1.amazonaws.com/api")
    box = Outbox(api, log, envelope.session_id, envelope.message_id)

    assert box.retrying(1, "the assistant failed", 5) == 1  # still being answered: told
    box.response("done", [])
    assert box.retrying(2, retry.IN_PROGRESS_REASON, 15) == 0  # ended: nothing after the terminal

    sent = frames.bare_to(envelope.connection_id)
    assert [f.get("status") or f["type"] for f in sent] == ["retrying", "response"]
