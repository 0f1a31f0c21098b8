"""chat_processor: answer queued chat messages and post the frames to the client.

For each SQS record, in this order:

1. parse the envelope (a malformed one is dropped and logged: retrying cannot fix it);
2. too old (``MESSAGE_TTL_SECONDS``)? post ``expired`` if the client is there, drop;
3. the client is gone (GetConnection answers 410)? drop before any work, never retry;
4. run the assistant at most once per ``message_id`` (Powertools idempotency, a
   conditional write in DynamoDB): post ``status``, heartbeat while it works,
   forward ``chunk`` deltas, then exactly one ``response``; a client that leaves
   meanwhile (a post answers 410) is dropped the same way;
5. anything else failed, the GetConnection call of step 3 included (say 403
   ForbiddenException)? report the record in ``batchItemFailures`` so SQS retries
   only it; on the last allowed attempt post ``processing_failed`` first.

Every drop is logged as a ``drop`` event with the message_id and the reason, every
failure as ``processing_failed`` with the attempt and the error.
"""

import functools
import logging
import threading
import time
from typing import Any, Dict, Optional

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.idempotency.exceptions import IdempotencyAlreadyInProgressError

from chalicelib import assistant, aws, coalesce, logs, management, metrics, protocol
from chalicelib.config import settings
from chalicelib.envelope import ChatEnvelope, EnvelopeError
from chalicelib.errors import AssistantError

__all__ = ["process_batch", "handle_record"]

log = logging.getLogger(__name__)


def process_batch(raw_event: Dict[str, Any], context: Any) -> Dict[str, Any]:
    """Process an SQS batch; returns ``{"batchItemFailures": [...]}``."""
    if context is not None and hasattr(context, "get_remaining_time_in_millis"):
        # Lets an in-progress claim expire with this invocation if it crashes.
        _idempotency_config().register_lambda_context(context)
    # Report failures even when every record failed (Powertools would raise instead),
    # so a failed record is retried the same way whatever the batch size.
    batch = BatchProcessor(EventType.SQS, raise_on_entire_batch_failure=False)
    return process_partial_response(event=raw_event, record_handler=handle_record, processor=batch, context=context)


def handle_record(record: SQSRecord) -> None:
    picked_up_ms = protocol.now_ms()
    try:
        envelope = ChatEnvelope.from_json(record.body)
    except EnvelopeError as exc:
        logs.emit(log, "drop", logging.WARNING, sqs_message_id=record.message_id, reason=f"bad envelope: {exc}")
        metrics.count("drop_bad_envelope")
        metrics.flush(sqs_message_id=record.message_id)
        return
    attempt = int(record.attributes.approximate_receive_count or 1)
    logs.correlate(
        message_id=envelope.message_id,
        connection_id=envelope.connection_id,
        session_id=envelope.session_id,
        attempt=attempt,
    )
    try:
        _handle_record(envelope, attempt, picked_up_ms)
    finally:
        metrics.flush(message_id=envelope.message_id)
        logs.forget()


def _handle_record(envelope: ChatEnvelope, attempt: int, picked_up_ms: int) -> None:
    queue_wait_ms = picked_up_ms - envelope.received_at_ms
    logs.emit(log, "picked_up", queue_wait_ms=queue_wait_ms)
    metrics.add("queue_wait", metrics.MetricUnit.Milliseconds, queue_wait_ms)
    if attempt > 1:
        metrics.count("retries")
    config = settings()
    api: Optional[management.ManagementApi] = None
    try:
        api = management.for_endpoint(envelope.domain, envelope.stage)
        _handle_envelope(api, envelope, picked_up_ms)
    except management.ConnectionGoneError:
        _drop(envelope, "connection gone")
    except IdempotencyAlreadyInProgressError:
        # Another invocation holds the claim; SQS will offer this copy again later.
        raise
    except Exception as exc:
        logs.emit(
            log, "processing_failed", logging.ERROR, message_id=envelope.message_id, attempt=attempt, error=repr(exc)
        )
        metrics.count("processing_failed")
        if attempt >= config.max_receive_count:
            metrics.count("dlq_arrivals")
            if api is not None:
                _tell_processing_failed(api, envelope)
        raise


def _handle_envelope(api: management.ManagementApi, envelope: ChatEnvelope, picked_up_ms: int = 0) -> None:
    age_ms = protocol.now_ms() - envelope.received_at_ms
    if age_ms > settings().message_ttl_seconds * 1000:
        frame = protocol.error(
            protocol.EXPIRED, "this message waited too long in the queue; please send it again", envelope.message_id
        )
        delivered = api.try_post(envelope.connection_id, frame)
        _drop(envelope, "expired", age_ms=age_ms, client_told=delivered)
        return
    if not api.is_connected(envelope.connection_id):
        # A backlog from clients that left must drain fast: no claim, no assistant, no retry.
        _drop(envelope, "connection gone")
        return
    _answer_once()(envelope=envelope.to_dict(), picked_up_ms=picked_up_ms)


def _tell_processing_failed(api: management.ManagementApi, envelope: ChatEnvelope) -> None:
    hint = "the assistant could not answer this message"
    frame = protocol.error(protocol.PROCESSING_FAILED, hint, envelope.message_id)
    try:
        api.try_post(envelope.connection_id, frame)
    except Exception as exc:
        # The record still goes back to SQS (then the DLQ); the log is what is left.
        logs.emit(log, "processing_failed_untold", logging.ERROR, message_id=envelope.message_id, error=repr(exc))


def _drop(envelope: ChatEnvelope, reason: str, **fields: Any) -> None:
    logs.emit(
        log,
        "drop",
        logging.WARNING,
        message_id=envelope.message_id,
        connection_id=envelope.connection_id,
        reason=reason,
        **fields,
    )
    metrics.count("drop_" + metrics.metric_name(reason))


@functools.lru_cache(maxsize=1)
def _idempotency_config() -> IdempotencyConfig:
    return IdempotencyConfig(
        event_key_jmespath="message_id",
        raise_on_no_idempotency_key=True,
        expires_after_seconds=settings().idempotency_ttl_seconds,
    )


@functools.lru_cache(maxsize=1)
def _answer_once():
    """``_answer`` wrapped so a redelivered message never produces a second reply."""
    store = DynamoDBPersistenceLayer(table_name=settings().idempotency_table, boto3_client=aws.client("dynamodb"))
    return idempotent_function(data_keyword_argument="envelope", persistence_store=store, config=_idempotency_config())(
        _answer
    )


def _answer(envelope: Dict[str, Any], picked_up_ms: int = 0) -> Dict[str, Any]:
    chat = ChatEnvelope(**envelope)
    api = metrics.CountingApi(management.for_endpoint(chat.domain, chat.stage))
    started = time.monotonic()
    api.post(chat.connection_id, protocol.status(chat.message_id, 0))
    with _Heartbeat(api, chat, started):
        reply = _stream_reply(api, chat)
    api.post(chat.connection_id, protocol.response(chat.message_id, chat.session_id, reply.content, reply.products))
    elapsed_ms = int((time.monotonic() - started) * 1000)
    _answered(chat, api, elapsed_ms, picked_up_ms or protocol.now_ms() - elapsed_ms)
    return {"message_id": chat.message_id, "elapsed_ms": elapsed_ms}


def _answered(chat: ChatEnvelope, api: metrics.CountingApi, elapsed_ms: int, picked_up_ms: int) -> None:
    now_ms = protocol.now_ms()
    figures = {"time_to_response": now_ms - chat.received_at_ms, "processing_time": now_ms - picked_up_ms}
    logs.emit(
        log,
        "answered",
        message_id=chat.message_id,
        elapsed_ms=elapsed_ms,
        **{f"{name}_ms": value for name, value in figures.items()},
        posts=api.posts,
        bytes_posted=api.bytes,
    )
    for name, value in figures.items():
        metrics.add(name, metrics.MetricUnit.Milliseconds, value)
    metrics.count("answered")
    api.record()


def _stream_reply(api: management.ManagementApi, chat: ChatEnvelope) -> assistant.Reply:
    # The turn's message id lets an assistant replay, not redo, a reply a retry asks for again.
    chunks = coalesce.Coalescer(settings().chunk_flush_ms)
    with assistant.turn(chat.message_id):
        for event in _assistant().respond(chat.message, chat.session_id):
            done = isinstance(event, assistant.Reply)
            chunk = chunks.finish() if done else chunks.add(event.text)
            if chunk is not None:
                api.post(chat.connection_id, protocol.chunk(chat.message_id, chunk.seq, chunk.text))
                if chunk.seq == 0:
                    _first_chunk(chat)
            if done:
                metrics.count("chunk_deltas", chunks.deltas)
                metrics.count("chunk_posts", chunks.posts)
                return event
    raise AssistantError("assistant finished without a reply")


def _first_chunk(chat: ChatEnvelope) -> None:
    time_to_first_chunk_ms = protocol.now_ms() - chat.received_at_ms
    logs.emit(log, "first_chunk", message_id=chat.message_id, time_to_first_chunk_ms=time_to_first_chunk_ms)
    metrics.add("time_to_first_chunk", metrics.MetricUnit.Milliseconds, time_to_first_chunk_ms)


@functools.lru_cache(maxsize=1)
def _assistant() -> assistant.Assistant:
    return assistant.create(settings())


class _Heartbeat:
    """Posts a ``status`` frame every HEARTBEAT_SECONDS while the assistant works.

    Keeps the client informed (and its connection active) during a slow reply.
    """

    def __init__(self, api: management.ManagementApi, chat: ChatEnvelope, started: float):
        self.api, self.chat, self.started = api, chat, started
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None

    def __enter__(self) -> "_Heartbeat":
        self._thread = threading.Thread(target=self._run, name=f"heartbeat-{self.chat.message_id}", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def _run(self) -> None:
        interval = settings().heartbeat_seconds
        while not self._stop.wait(interval):
            elapsed_ms = int((time.monotonic() - self.started) * 1000)
            if not self.api.try_post(self.chat.connection_id, protocol.status(self.chat.message_id, elapsed_ms)):
                return
