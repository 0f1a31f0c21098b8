"""chat_processor: SQS records in, status/chunk/response (or error) frames out."""

import json
import threading
import time

import boto3
import pytest
from chalice.local import LambdaContext

from chalicelib import assistant, aws, processor, protocol
from chalicelib.assistant import Delta, Reply
from chalicelib.config import settings
from chalicelib.framelog import FrameLog
from chalicelib.sessions import SessionStore
from tests.conftest import REGION
from tests.unit.support import (
    ENDPOINT,
    drain_queue,
    log_events,
    new_connection_id,
    session_envelope,
    sqs_event,
    sqs_record,
    sqs_record_from_message,
    ws_event,
)


class ScriptedAssistant:
    """Streams ``deltas`` then replies; raises for messages in ``fail_on``."""

    def __init__(self, deltas=("Try ", "these"), products=(), fail_on=(), on_delta=None):
        self.deltas, self.products, self.fail_on, self.on_delta = list(deltas), list(products), set(fail_on), on_delta
        self.calls = []

    def respond(self, message, state):
        self.calls.append((message, state.session_id))
        if message in self.fail_on or "*" in self.fail_on:
            raise RuntimeError(f"model unavailable for {message!r}")
        for index, text in enumerate(self.deltas):
            if self.on_delta:
                self.on_delta(index)
            yield Delta(text)
        yield Reply(content="".join(self.deltas), products=self.products)


@pytest.fixture
def use_assistant(monkeypatch):
    """``use_assistant(obj)`` makes chat_processor answer with ``obj``."""

    def install(fake):
        monkeypatch.setattr(assistant, "create", lambda config: fake)
        processor._assistant.cache_clear()
        return fake

    return install


def run(client, *records):
    return client.lambda_.invoke("chat_processor", sqs_event(*records)).payload


def idempotency_items():
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    return dynamodb.scan(TableName=settings().idempotency_table)["Items"]


@pytest.fixture
def idempotency_writes(mock_aws):
    """Every call the processor's DynamoDB client makes to the idempotency table (a claim
    is a PutItem there, released by a DeleteItem when the answer fails)."""
    calls = []

    def record(params, model, **kwargs):
        if params.get("TableName") == settings().idempotency_table:
            calls.append(model.name)

    aws.client("dynamodb").meta.events.register("provide-client-params.dynamodb.*", record)
    return calls


def lambda_context():
    return LambdaContext("chat_processor", memory_size=256, max_runtime_ms=60_000)


def failures(payload):
    return [item["itemIdentifier"] for item in payload["batchItemFailures"]]


# --- the happy path -------------------------------------------------------------------


def test_queued_message_gets_status_chunks_and_one_response(client, mock_aws, frames, caplog, set_env):
    set_env(ASSISTANT_BACKEND="echo", CHUNK_FLUSH_MS="0")  # its word-by-word chunks are what this checks
    connection_id = new_connection_id()
    client.lambda_.invoke("connect", ws_event("$connect", connection_id))
    client.lambda_.invoke(
        "message", ws_event("$default", connection_id, {"action": "sendMessage", "message": "any hiking boots?"})
    )
    (message,) = drain_queue(mock_aws.queue_url)
    record = sqs_record_from_message(message, mock_aws.queue_arn)

    payload = run(client, record)

    assert payload == {"batchItemFailures": []}
    sent = frames.bare_to(connection_id)
    ack, first, *chunks, last = sent
    message_id = ack["message_id"]
    assert ack["type"] == "ack"
    session_id = ack["session_id"]
    assert [frame["cursor"] for frame in frames.to(connection_id)] == list(range(1, len(sent) + 1))
    assert first == {"type": "status", "message_id": message_id, "status": "processing", "elapsed_ms": 0}
    assert [c["type"] for c in chunks] == ["chunk"] * 5  # the echo backend streams word by word
    assert [c["seq"] for c in chunks] == [0, 1, 2, 3, 4]
    assert all(c["message_id"] == message_id for c in chunks)
    assert "".join(c["delta"] for c in chunks) == "You said: any hiking boots?"
    assert last == {
        "type": "response",
        "message_id": message_id,
        "session_id": session_id,
        "content": "You said: any hiking boots?",
        "products": [],
    }
    assert [f["type"] for f in sent].count("response") == 1
    assert {p.endpoint for p in frames.posted} == {ENDPOINT}
    assert [e["message_id"] for e in log_events(caplog, "answered")] == [message_id]
    (item,) = idempotency_items()
    assert item["status"] == {"S": "COMPLETED"}


def test_assistant_products_reach_the_response(client, mock_aws, frames, use_assistant):
    products = [{"sku": "TR-44", "name": "Trail runner", "price": 89.5}]
    use_assistant(ScriptedAssistant(deltas=["Here ", "you go"], products=products))
    envelope = session_envelope(new_connection_id(), "trail shoes", session_id="sess")

    assert run(client, sqs_record(envelope)) == {"batchItemFailures": []}

    sent = frames.bare_to(envelope.connection_id)
    assert [f["type"] for f in sent] == ["status", "chunk", "chunk", "response"]
    assert [c["delta"] for c in sent[1:3]] == ["Here ", "you go"]
    assert sent[-1] == protocol.response(envelope.message_id, "sess", "Here you go", products)


def test_frames_go_only_to_the_envelope_connection(client, mock_aws, frames):
    envelope = session_envelope(new_connection_id())

    run(client, sqs_record(envelope))

    assert {p.connection_id for p in frames.posted} == {envelope.connection_id}


# --- gone clients --------------------------------------------------------------------


def test_a_message_whose_client_left_is_answered_and_kept_for_resume(client, mock_aws, frames, caplog, use_assistant):
    """Resume exists so that a dropped connection loses nothing: the reply is made and kept."""
    fake = use_assistant(ScriptedAssistant())
    envelope = session_envelope(new_connection_id())
    frames.gone.add(envelope.connection_id)
    FrameLog.from_settings(settings()).detach(envelope.session_id, [envelope.connection_id])  # its $disconnect

    payload = run(client, sqs_record(envelope))

    assert payload == {"batchItemFailures": []}
    assert frames.posted == []
    assert len(fake.calls) == 1
    assert log_events(caplog, "drop") == [] and log_events(caplog, "processing_failed") == []
    log = FrameLog.from_settings(settings())
    head = log.read(envelope.session_id)
    assert head.connections == frozenset() and head.messages == {}
    kept = [json.loads(text) for _, text in log.replay(envelope.session_id, 1, head.cursor, str)]
    # Nobody watched live: the reply's text in one chunk before the response.
    assert [frame["type"] for frame in kept] == ["status", "chunk", "response"]
    assert kept[1]["delta"] == kept[2]["content"]
    assert [frame["cursor"] for frame in kept] == list(range(2, head.cursor + 1))


def test_client_leaving_mid_answer_finishes_and_keeps_the_reply_for_resume(
    client, mock_aws, frames, use_assistant, caplog, set_env
):
    set_env(CHUNK_FLUSH_MS="0")  # one chunk frame per delta, so the 410 comes mid-reply
    envelope = session_envelope(new_connection_id())

    def leave(index):
        if index == 1:
            frames.gone.add(envelope.connection_id)

    use_assistant(ScriptedAssistant(deltas=["a", "b", "c"], on_delta=leave))

    payload = run(client, sqs_record(envelope))

    assert payload == {"batchItemFailures": []}
    # The backend runs on its own thread: the client may leave before or after the first chunk's post.
    assert [f["type"] for f in frames.bare_to(envelope.connection_id)] in (["status"], ["status", "chunk"])
    assert log_events(caplog, "drop") == []
    log = FrameLog.from_settings(settings())
    head = log.read(envelope.session_id)
    assert head.connections == frozenset()  # the 410 detached it
    # cursor 1 is the ack; then status, three chunks and the one response, all kept.
    kept = log.replay(envelope.session_id, 0, head.cursor, str)
    assert [json.loads(text)["type"] for _, text in kept] == ["ack", "status", "chunk", "chunk", "chunk", "response"]
    assert [cursor for cursor, _ in kept] == list(range(1, 7)) and head.cursor == 6


# --- expired messages -------------------------------------------------------------------


def test_expired_message_is_not_processed(client, mock_aws, frames, use_assistant, caplog):
    fake = use_assistant(ScriptedAssistant())
    age_ms = (300 + 5) * 1000
    envelope = session_envelope(new_connection_id(), received_at_ms=int(time.time() * 1000) - age_ms)

    payload = run(client, sqs_record(envelope))

    assert payload == {"batchItemFailures": []}
    assert fake.calls == []
    (error,) = frames.bare_to(envelope.connection_id)
    assert error["type"] == "error"
    assert error["code"] == protocol.EXPIRED
    assert error["message_id"] == envelope.message_id
    (drop,) = log_events(caplog, "drop")
    assert (drop["reason"], drop["message_id"], drop["client_told"]) == ("expired", envelope.message_id, True)
    assert drop["age_ms"] >= age_ms
    # Told once: a redelivery (a batch retried whole, say) gets the saved result and posts nothing.
    assert run(client, sqs_record(envelope, receive_count=2)) == {"batchItemFailures": []}
    assert len(frames.bare_to(envelope.connection_id)) == 1


def test_expiry_follows_message_ttl_seconds(client, mock_aws, frames, set_env):
    set_env(MESSAGE_TTL_SECONDS="60")
    now_ms = int(time.time() * 1000)
    fresh = session_envelope(new_connection_id(), received_at_ms=now_ms - 55_000)
    stale = session_envelope(new_connection_id(), received_at_ms=now_ms - 65_000)

    assert run(client, sqs_record(fresh), sqs_record(stale)) == {"batchItemFailures": []}

    assert [f["type"] for f in frames.bare_to(fresh.connection_id)][-1] == "response"
    assert [(f["type"], f["code"]) for f in frames.bare_to(stale.connection_id)] == [("error", protocol.EXPIRED)]


def test_expired_message_for_a_gone_client_is_dropped_quietly(client, mock_aws, frames, caplog):
    envelope = session_envelope(new_connection_id(), received_at_ms=int(time.time() * 1000) - 3_600_000)
    frames.gone.add(envelope.connection_id)

    assert run(client, sqs_record(envelope)) == {"batchItemFailures": []}

    assert frames.posted == []
    (drop,) = log_events(caplog, "drop")
    assert (drop["reason"], drop["client_told"]) == ("expired", False)


# --- redelivery -----------------------------------------------------------------------------


def test_redelivered_record_gets_no_second_response(client, mock_aws, frames, use_assistant):
    fake = use_assistant(ScriptedAssistant())
    envelope = session_envelope(new_connection_id())
    first = sqs_record(envelope)
    # SQS redelivers the same message: same messageId, new receipt handle, higher count.
    again = sqs_record(envelope, sqs_message_id=first["messageId"], receive_count=2)

    assert run(client, first) == {"batchItemFailures": []}
    posted_after_first = len(frames.posted)
    assert run(client, again) == {"batchItemFailures": []}

    assert len(frames.posted) == posted_after_first
    assert [f["type"] for f in frames.bare_to(envelope.connection_id)].count("response") == 1
    assert len(fake.calls) == 1


def test_duplicate_copies_in_one_batch_answer_once(client, mock_aws, frames, use_assistant):
    """Standard queues can deliver two copies (different SQS ids) of one message."""
    fake = use_assistant(ScriptedAssistant())
    envelope = session_envelope(new_connection_id())

    payload = run(client, sqs_record(envelope), sqs_record(envelope))

    assert payload == {"batchItemFailures": []}
    assert [f["type"] for f in frames.bare_to(envelope.connection_id)].count("response") == 1
    assert len(fake.calls) == 1


def test_a_message_in_progress_elsewhere_is_retried_later(mock_aws, frames, set_env, caplog):
    """A copy arriving while another invocation answers it is reported, not answered twice."""
    set_env(ASSISTANT_DELAY_SECONDS="0.8")
    envelope = session_envelope(new_connection_id())
    first = threading.Thread(target=processor.process_batch, args=(sqs_event(sqs_record(envelope)), lambda_context()))
    first.start()
    try:
        deadline = time.time() + 5
        while not frames.bare_to(envelope.connection_id) and time.time() < deadline:
            time.sleep(0.01)
        copy = sqs_record(envelope)

        payload = processor.process_batch(sqs_event(copy), lambda_context())
    finally:
        first.join()

    assert failures(payload) == [copy["messageId"]]
    sent = frames.bare_to(envelope.connection_id)
    statuses = [f["status"] for f in sent if f["type"] == "status"]
    # The copy is told as a retry (its holder stopped extending the record); answered once.
    assert statuses.count("processing") == 1
    assert statuses.count("retrying") == 1
    assert [f["type"] for f in sent].count("response") == 1


# --- failures --------------------------------------------------------------------------------


def test_failing_assistant_reports_the_record_for_retry(client, mock_aws, frames, use_assistant, caplog):
    use_assistant(ScriptedAssistant(fail_on={"*"}))
    envelope = session_envelope(new_connection_id())
    record = sqs_record(envelope, receive_count=1)

    payload = run(client, record)

    assert failures(payload) == [record["messageId"]]
    # Not the last attempt: the client is told it is retried, and why, in its words.
    status, retrying = frames.bare_to(envelope.connection_id)
    assert status["status"] == "processing"
    assert retrying == {
        "type": "status",
        "message_id": envelope.message_id,
        "status": "retrying",
        "attempt": 1,
        "reason": "the assistant failed",
        "retry_in_seconds": 5,
    }
    (failed,) = log_events(caplog, "processing_failed")
    assert (failed["message_id"], failed["attempt"]) == (envelope.message_id, 1)
    # The log keeps the cause: the exception's type and message.
    assert failed["error"] == "RuntimeError: model unavailable for 'show me running shoes'"
    # The claim was released, so the retry can answer.
    assert idempotency_items() == []


def test_retry_after_a_failure_answers(client, mock_aws, frames, use_assistant):
    envelope = session_envelope(new_connection_id())
    use_assistant(ScriptedAssistant(fail_on={"*"}))
    record = sqs_record(envelope, receive_count=1)
    assert failures(run(client, record)) == [record["messageId"]]

    use_assistant(ScriptedAssistant())
    retry = sqs_record(envelope, sqs_message_id=record["messageId"], receive_count=2)

    assert run(client, retry) == {"batchItemFailures": []}
    assert [f["type"] for f in frames.bare_to(envelope.connection_id)] == [
        "status",
        "status",
        "status",
        "chunk",
        "chunk",
        "response",
    ]


@pytest.mark.parametrize("receive_count", [5, 6])  # MAX_RECEIVE_COUNT defaults to 5
def test_last_attempt_posts_processing_failed_first(client, mock_aws, frames, use_assistant, receive_count):
    use_assistant(ScriptedAssistant(fail_on={"*"}))
    envelope = session_envelope(new_connection_id())
    record = sqs_record(envelope, receive_count=receive_count)

    payload = run(client, record)

    assert failures(payload) == [record["messageId"]]
    status, error = frames.bare_to(envelope.connection_id)
    assert status["type"] == "status"
    assert error["type"] == "error"
    assert error["code"] == protocol.PROCESSING_FAILED
    assert error["message_id"] == envelope.message_id


def test_last_attempt_follows_max_receive_count(client, mock_aws, frames, use_assistant, set_env):
    set_env(MAX_RECEIVE_COUNT="7")
    use_assistant(ScriptedAssistant(fail_on={"*"}))
    envelope = session_envelope(new_connection_id())

    run(client, sqs_record(envelope, receive_count=6))
    assert [f["status"] for f in frames.bare_to(envelope.connection_id)] == ["processing", "retrying"]

    run(client, sqs_record(envelope, receive_count=7))
    assert [f.get("code") for f in frames.bare_to(envelope.connection_id)] == [
        None,
        None,
        None,
        protocol.PROCESSING_FAILED,
    ]


def test_only_the_failing_record_of_a_batch_is_reported(client, mock_aws, frames, use_assistant):
    use_assistant(ScriptedAssistant(fail_on={"explode"}))
    ok_before = session_envelope(new_connection_id(), "first")
    failing = session_envelope(new_connection_id(), "explode")
    ok_after = session_envelope(new_connection_id(), "third")
    records = [sqs_record(ok_before), sqs_record(failing), sqs_record(ok_after)]

    payload = run(client, *records)

    assert failures(payload) == [records[1]["messageId"]]
    assert [f["type"] for f in frames.bare_to(ok_before.connection_id)][-1] == "response"
    assert [f["type"] for f in frames.bare_to(ok_after.connection_id)][-1] == "response"
    assert "response" not in [f["type"] for f in frames.bare_to(failing.connection_id)]


def test_mixed_batch_reports_only_what_a_retry_can_fix(client, mock_aws, frames, use_assistant, caplog):
    use_assistant(ScriptedAssistant(fail_on={"explode"}))
    gone = session_envelope(new_connection_id())
    frames.gone.add(gone.connection_id)  # answered all the same: kept for its resume
    expired = session_envelope(new_connection_id(), received_at_ms=1)
    failing = session_envelope(new_connection_id(), "explode")
    fine = session_envelope(new_connection_id())
    records = [
        sqs_record("this is not an envelope"),
        sqs_record(gone),
        sqs_record(expired),
        sqs_record(failing),
        sqs_record(fine),
    ]

    payload = run(client, *records)

    assert failures(payload) == [records[3]["messageId"]]
    assert [f["type"] for f in frames.bare_to(fine.connection_id)][-1] == "response"
    reasons = sorted(e["reason"].split(":")[0] for e in log_events(caplog, "drop"))
    assert reasons == ["bad envelope", "expired"]


@pytest.mark.parametrize(
    "body",
    ["not json", '{"version": 99, "message_id": "m"}', '{"version": 1, "message_id": "m"}'],
    ids=["not-json", "future-version", "missing-fields"],
)
def test_malformed_envelope_is_dropped_and_logged(client, mock_aws, frames, caplog, body):
    record = sqs_record(body)

    payload = run(client, record)

    assert payload == {"batchItemFailures": []}
    assert frames.posted == []
    (drop,) = log_events(caplog, "drop")
    assert drop["sqs_message_id"] == record["messageId"]
    assert drop["reason"].startswith("bad envelope")


# --- heartbeats ---------------------------------------------------------------------------------


def test_slow_answers_get_heartbeat_status_frames(client, mock_aws, frames, set_env):
    set_env(HEARTBEAT_SECONDS="0.05", ASSISTANT_DELAY_SECONDS="0.3")
    envelope = session_envelope(new_connection_id())

    assert run(client, sqs_record(envelope)) == {"batchItemFailures": []}

    sent = frames.bare_to(envelope.connection_id)
    types = [f["type"] for f in sent]
    assert types[-1] == "response" and types.count("response") == 1
    statuses = [f for f in sent if f["type"] == "status"]
    assert statuses[0]["elapsed_ms"] == 0
    heartbeats = statuses[1:]
    assert len(heartbeats) >= 2
    elapsed = [f["elapsed_ms"] for f in heartbeats]
    assert elapsed == sorted(set(elapsed)), "elapsed_ms must strictly increase"
    assert elapsed[0] >= 40
    assert elapsed[-1] < 5000
    assert all(f["message_id"] == envelope.message_id for f in statuses)
    # The heartbeat stops with the answer.
    time.sleep(0.15)
    assert len(frames.bare_to(envelope.connection_id)) == len(sent)


def test_fast_answers_get_no_heartbeat(client, mock_aws, frames):
    envelope = session_envelope(new_connection_id())

    run(client, sqs_record(envelope))

    assert [f["type"] for f in frames.bare_to(envelope.connection_id)].count("status") == 1


def test_heartbeat_stops_when_the_assistant_fails(client, mock_aws, frames, use_assistant, set_env):
    set_env(HEARTBEAT_SECONDS="0.05")

    class SlowFailure:
        def respond(self, message, session_id):
            time.sleep(0.2)
            raise RuntimeError("timeout talking to the model")
            yield  # pragma: no cover  (makes this a generator)

    use_assistant(SlowFailure())
    envelope = session_envelope(new_connection_id())

    payload = run(client, sqs_record(envelope))

    assert len(failures(payload)) == 1
    count = len(frames.bare_to(envelope.connection_id))
    assert count >= 3
    time.sleep(0.15)
    assert len(frames.bare_to(envelope.connection_id)) == count


# --- stop ------------------------------------------------------------------------------


def test_a_stop_while_answering_ends_with_the_text_streamed_and_keeps_it_in_the_history(
    client, mock_aws, frames, use_assistant, set_env
):
    set_env(CHUNK_FLUSH_MS="0")  # one chunk frame per delta
    envelope = session_envelope(new_connection_id())
    log = FrameLog.from_settings(settings())

    def stop_at(index):
        if index == 2:  # the shopper stops the reply while its third piece is being made
            assert log.stop(envelope.session_id, envelope.owner or "-", envelope.message_id)[0] == "running"

    use_assistant(ScriptedAssistant(deltas=["one ", "two ", "three ", "four"], on_delta=stop_at))

    assert run(client, sqs_record(envelope)) == {"batchItemFailures": []}

    sent = frames.bare_to(envelope.connection_id)
    chunks = [frame["delta"] for frame in sent if frame["type"] == "chunk"]
    (end,) = [frame for frame in sent if frame["type"] in ("response", "error")]
    assert end["type"] == "response" and end["stopped"] is True and end["products"] == []
    assert end["content"] == "".join(chunks) and "four" not in end["content"]
    assert sent[-1] == end  # nothing after the terminal
    state = SessionStore(settings().sessions_table, 3600, 10).load(envelope.session_id)
    assert state.history[-1]["assistant"] == end["content"] and state.last_turn["stopped"] is True
    assert log.read(envelope.session_id).messages == {}  # ended: a later stop is not_running


def test_a_stop_reaches_a_backend_that_is_still_thinking_within_a_second(client, mock_aws, frames, use_assistant):
    """The backend sleeps (cancellably) before its first words; the stop wakes it."""
    from chalicelib.assistant.delayed import DelayedAssistant

    envelope = session_envelope(new_connection_id())
    log = FrameLog.from_settings(settings())
    slow = use_assistant(DelayedAssistant(ScriptedAssistant(), seconds=30))
    stopper = threading.Timer(0.5, lambda: log.stop(envelope.session_id, "-", envelope.message_id))
    stopper.start()
    started = time.monotonic()

    run(client, sqs_record(envelope))

    took = time.monotonic() - started
    stopper.join()
    (end,) = [f for f in frames.bare_to(envelope.connection_id) if f["type"] in ("response", "error")]
    assert (end["type"], end["stopped"], end["content"]) == ("response", True, "")
    assert took < 0.5 + 1.0, took  # not the 30 s the backend meant to think
    assert slow.inner.calls == []  # woken before its first words, it never went on
