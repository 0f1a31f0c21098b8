"""chat_processor: answer queued chat messages and post the frames to the client.

The queue is FIFO with the session as message group, so the turns of a session
arrive one at a time and in acked order (``chat_queue``). For each SQS record, in
this order:

1. parse the envelope (a malformed one is dropped and logged: retrying cannot fix it);
2. mark the message running on the session's head (``FrameLog.start``, one conditional
   write): a session that is gone or not the envelope's owner's is dropped;
3. answer it at most once per ``message_id`` (Powertools idempotency, a conditional write
   in DynamoDB; a redelivery gets the saved result and posts nothing) through the
   message's ``outbox.Outbox``: stopped while queued? nothing (the stop posted its
   terminal frame); too old (``MESSAGE_TTL_SECONDS``)? ``expired``; else
   ``status``, heartbeats while it works, ``chunk`` deltas, then exactly one ``response``
   (``stoppable``: a ``stop`` ends it at the next boundary with the text streamed so far).
   It is answered whether or not a connection is attached: its frames are kept for
   ``resume``, so a client that dropped loses nothing;
4. anything else failed? report the record in ``batchItemFailures`` so SQS retries
   it, and (Powertools' ``SqsFifoPartialProcessor``) the later records of its
   session in the batch, which must not overtake it; on the last allowed attempt
   send ``processing_failed`` first.

Every drop is logged as a ``drop`` event with the message_id and the reason, every
failure as ``processing_failed`` with the attempt and the error. Each record's lines
carry its ids (``logs.correlate``): ``picked_up`` (the queue wait), ``first_chunk`` and
``answered`` give its timeline, and its metrics go out as one EMF line (``metrics``).
Chunk deltas are joined before posting (``coalesce``, ``CHUNK_FLUSH_MS``).
"""

import functools
import logging
import time
from typing import Any, Dict, Optional

from aws_lambda_powertools.utilities.batch import SqsFifoPartialProcessor, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.idempotency.exceptions import IdempotencyAlreadyInProgressError

from chalicelib import assistant, aws, chat_queue, coalesce, logs, management, metrics, protocol, retry, stoppable
from chalicelib.config import settings
from chalicelib.envelope import ChatEnvelope, EnvelopeError
from chalicelib.errors import DeadlineError, ReplyStoppedError
from chalicelib.framelog import REDELIVERED, RUNNING, STOPPED, STOPPING, FrameLog
from chalicelib.outbox import Outbox
from chalicelib.sessions import SessionStore

__all__ = ["process_batch", "handle_record"]

log = logging.getLogger(__name__)

# A reply nobody watches live is kept as one chunk (a Lambda never runs this long).
UNATTENDED_FLUSH_MS = 900_000
UNATTENDED_CHUNK_BYTES = 16_000  # well inside an API Gateway frame's 32 KB, escaped as JSON


def process_batch(raw_event: Dict[str, Any], context: Any) -> Dict[str, Any]:
    """Process an SQS batch; returns ``{"batchItemFailures": [...]}``."""
    _invocation["deadline"] = None
    if context is not None and hasattr(context, "get_remaining_time_in_millis"):
        # Lets an in-progress claim expire with this invocation if it crashes.
        _idempotency_config().register_lambda_context(context)
        _invocation["deadline"] = _deadline(context.get_remaining_time_in_millis() / 1000)
    # A failed record fails the later records of its message group (its session) in the
    # batch, so no turn overtakes an earlier one; other sessions go on.
    batch = SqsFifoPartialProcessor(skip_group_on_error=True)
    # Report failures even when every record failed (Powertools would raise instead),
    # so a failed record is retried the same way whatever the batch size.
    batch.raise_on_entire_batch_failure = False
    return process_partial_response(event=raw_event, record_handler=handle_record, processor=batch, context=context)


# This environment's invocation (Lambda runs one at a time per environment): when to stop.
_invocation: Dict[str, Optional[float]] = {"deadline": None}


def _deadline(remaining_seconds: float) -> Optional[float]:
    """The ``time.monotonic()`` at which a turn stops itself: ``DEADLINE_MARGIN_SECONDS`` before the
    Lambda deadline (at most a quarter of the time left, so a short timeout still runs); None: off."""
    margin = min(settings().deadline_margin_seconds, remaining_seconds / 4)
    return time.monotonic() + remaining_seconds - margin if margin > 0 else None


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
        _handle_record(envelope, attempt, picked_up_ms, _lease(record, envelope))
    finally:
        metrics.flush(**logs.correlation())
        logs.forget()


def _lease(record: SQSRecord, envelope: ChatEnvelope) -> retry.Lease:
    try:
        url: Optional[str] = chat_queue.queue_url()
    except Exception as exc:
        logs.emit(log, "visibility_unchanged", logging.WARNING, message_id=envelope.message_id, error=retry.cause(exc))
        url = None
    return retry.Lease(aws.client("sqs"), url, record.receipt_handle, envelope.message_id)


def _handle_record(envelope: ChatEnvelope, attempt: int, picked_up_ms: int, lease: retry.Lease) -> None:
    queue_wait_ms = picked_up_ms - envelope.received_at_ms
    logs.emit(log, "picked_up", queue_wait_ms=queue_wait_ms)
    metrics.add("queue_wait", metrics.MetricUnit.Milliseconds, queue_wait_ms)
    if attempt > 1:
        metrics.count("retries")
    # Short while alive (heartbeats extend it): if this environment dies, the record returns soon.
    lease.hold(settings().in_flight_visibility_seconds)
    api: Optional[metrics.CountingApi] = None
    try:
        deadline = _invocation["deadline"]
        if deadline is not None and time.monotonic() >= deadline:
            raise DeadlineError("no time left in this invocation to start the record")
        api = metrics.CountingApi(management.for_endpoint(envelope.domain, envelope.stage))
        _handle_envelope(api, envelope, picked_up_ms, lease)
    except IdempotencyAlreadyInProgressError as exc:
        # Another invocation holds the claim: it stopped extending the record's visibility (dead,
        # or stalled); its claim lapses at its deadline. The last attempt tells nothing: a
        # holder still alive then answers it.
        _failed(api, envelope, attempt, lease, exc, retry.IN_PROGRESS_REASON, "in_progress_elsewhere")
        raise
    except Exception as exc:
        _failed(api, envelope, attempt, lease, exc, retry.shopper_reason(exc))
        raise


def _failed(
    api: Optional[metrics.CountingApi],
    envelope: ChatEnvelope,
    attempt: int,
    lease: retry.Lease,
    exc: BaseException,
    reason: str,
    event: str = "processing_failed",
) -> None:
    """A failed attempt: logged with its cause; the shopper told ``retrying`` (the record held for
    the attempt's backoff) or, on the last attempt, ``processing_failed``."""
    config = settings()
    last = attempt >= config.max_receive_count
    wait = retry.backoff(config.retry_backoff_seconds, attempt)
    logs.emit(
        log,
        event,
        logging.ERROR,
        message_id=envelope.message_id,
        attempt=attempt,
        error=retry.cause(exc),
        error_type=type(exc).__name__,
        reason=reason,
        last_attempt=last,
        retry_in_seconds=None if last else wait,
    )
    metrics.count(event)
    if last:
        metrics.count("dlq_arrivals")
    else:
        lease.hold(wait)
    if api is None or (last and event != "processing_failed"):
        return
    _tell(api, envelope, attempt, reason, None if last else wait)


def _tell(
    api: management.ManagementApi, envelope: ChatEnvelope, attempt: int, reason: str, wait: Optional[int]
) -> None:
    """``retrying`` (``wait``: seconds to the next attempt) or, with no next attempt, ``processing_failed``."""
    try:
        box = Outbox(api, FrameLog.from_settings(settings()), envelope.session_id, envelope.message_id)
        if wait is None:
            box.error(protocol.PROCESSING_FAILED, f"the assistant could not answer this message: {reason}")
        else:
            box.retrying(attempt, reason, wait)
    except Exception as exc:
        # The record still goes back to SQS (then the DLQ); the log is what is left.
        logs.emit(log, "failure_untold", logging.ERROR, message_id=envelope.message_id, error=retry.cause(exc))


def _handle_envelope(
    api: metrics.CountingApi, envelope: ChatEnvelope, picked_up_ms: int = 0, lease: Optional[retry.Lease] = None
) -> None:
    """Mark the message running in the session's head (one conditional write, which also takes
    the cursor of its first ``status``: a message stopped while queued, or already ended, is not
    run again), then answer it once through this record's one outbox."""
    config = settings()
    frames = FrameLog.from_settings(config)
    fresh = protocol.now_ms() - envelope.received_at_ms <= config.message_ttl_seconds * 1000
    head, state = frames.start(envelope.session_id, envelope.message_id, envelope.owner, take_cursor=fresh)
    if head is None:
        _drop(envelope, "invalid session")
        return
    box = Outbox(api, frames, envelope.session_id, envelope.message_id)
    attended = bool(head.connections)
    box.chunks = (
        coalesce.Coalescer(config.chunk_flush_ms)
        if attended
        else coalesce.Coalescer(UNATTENDED_FLUSH_MS, UNATTENDED_CHUNK_BYTES, hold_first=True)
    )
    if state == RUNNING and fresh:
        box.reserve(head)  # the first status's cursor came with the pickup's write
    try:
        _answer_once()(envelope=envelope, api=api, box=box, picked_up_ms=picked_up_ms, state=state, lease=lease)
    finally:
        box.release()


def _drop(envelope: ChatEnvelope, reason: str, **fields: Any) -> None:
    logs.emit(
        log,
        "drop",
        logging.WARNING,
        message_id=envelope.message_id,
        connection_id=envelope.connection_id,
        session_id=envelope.session_id,
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


def _answer(
    envelope: ChatEnvelope,
    api: metrics.CountingApi,
    box: Outbox,
    picked_up_ms: int = 0,
    state: str = "",
    lease: Optional[retry.Lease] = None,
) -> Dict[str, Any]:
    """Answer the message once (a redelivery gets the saved result, nothing posted): expired,
    stopped, or the turn, streamed; a stop ends it with what was streamed so far. A reply nobody
    was attached to at pickup (the client dropped) is kept for its resume as one chunk."""
    config = settings()
    ended = _ended_early(box, envelope, state, config)
    if ended is not None:
        return ended
    started = time.monotonic()
    box.status(0)
    try:
        reply = stoppable.run(
            box,
            lambda: _turn(envelope),
            config.heartbeat_seconds,
            lambda e: _delta(box, envelope, e),
            deadline=_invocation["deadline"],
            on_beat=lambda: lease and lease.hold(config.in_flight_visibility_seconds),
        )
    except ReplyStoppedError:
        return _stopped(box, envelope, started)
    if box.flush() == 0:
        _first_chunk(envelope)
    metrics.count("chunk_deltas", box.chunks.deltas)
    metrics.count("chunk_posts", box.chunks.posts)
    delivered = box.response(reply.content, reply.products)
    elapsed_ms = int((time.monotonic() - started) * 1000)
    _answered(envelope, api, elapsed_ms, picked_up_ms or protocol.now_ms() - elapsed_ms, delivered)
    return {"message_id": envelope.message_id, "elapsed_ms": elapsed_ms}


def _ended_early(box: Outbox, envelope: ChatEnvelope, state: str, config: Any) -> Optional[Dict[str, Any]]:
    """The message's end without a turn: stopped (``STOPPING``: an earlier delivery died after
    the stop; ``STOPPED``: stopped while queued, that stop posted its terminal), or expired."""
    if state == STOPPING:
        box.stopped()
        return {"message_id": envelope.message_id, "stopped": True}
    if state == STOPPED:
        box.frames.forget_stopped(envelope.session_id, envelope.message_id)
        logs.emit(log, "stopped_before_pickup", message_id=envelope.message_id)
        return {"message_id": envelope.message_id, "stopped": True}
    age_ms = protocol.now_ms() - envelope.received_at_ms
    # A message already started (REDELIVERED) is finished, however old: the shopper saw it begin.
    if state != REDELIVERED and age_ms > config.message_ttl_seconds * 1000:
        delivered = box.error(protocol.EXPIRED, "this message waited too long in the queue; please send it again")
        _drop(envelope, "expired", age_ms=age_ms, client_told=delivered > 0)
        return {"message_id": envelope.message_id, "expired": True}
    return None


def _turn(envelope: ChatEnvelope):
    # The message id lets the turn replay, not redo, a reply a retry asks for again.
    return assistant.turn.run(
        _assistant(), _session_store(), envelope.session_id, envelope.message_id, envelope.message
    )


def _delta(box: Outbox, envelope: ChatEnvelope, event: assistant.AssistantEvent) -> None:
    if box.delta(event.text) == 0:
        _first_chunk(envelope)


def _stopped(box: Outbox, envelope: ChatEnvelope, started: float) -> Dict[str, Any]:
    """Keep the partial answer in the session's history, then end the message with it."""
    box.flush()
    content = "".join(box.streamed)
    assistant.turn.record_stopped(_session_store(), envelope.session_id, envelope.message_id, envelope.message, content)
    delivered = box.stopped()
    elapsed_ms = int((time.monotonic() - started) * 1000)
    logs.emit(
        log, "stopped", message_id=envelope.message_id, elapsed_ms=elapsed_ms, chars=len(content), delivered=delivered
    )
    metrics.count("stopped")
    return {"message_id": envelope.message_id, "elapsed_ms": elapsed_ms, "stopped": True}


def _answered(chat: ChatEnvelope, api: metrics.CountingApi, elapsed_ms: int, picked_up_ms: int, delivered: int) -> None:
    now_ms = protocol.now_ms()
    figures = {"time_to_response": now_ms - chat.received_at_ms, "processing_time": now_ms - picked_up_ms}
    logs.emit(
        log,
        "answered",
        message_id=chat.message_id,
        elapsed_ms=elapsed_ms,
        delivered=delivered,
        **{f"{name}_ms": value for name, value in figures.items()},
        posts=api.posts,
        bytes_posted=api.bytes,
    )
    for name, value in figures.items():
        metrics.add(name, metrics.MetricUnit.Milliseconds, value)
    metrics.count("answered")
    api.record()


def _first_chunk(chat: ChatEnvelope) -> None:
    time_to_first_chunk_ms = protocol.now_ms() - chat.received_at_ms
    logs.emit(log, "first_chunk", message_id=chat.message_id, time_to_first_chunk_ms=time_to_first_chunk_ms)
    metrics.add("time_to_first_chunk", metrics.MetricUnit.Milliseconds, time_to_first_chunk_ms)


@functools.lru_cache(maxsize=1)
def _assistant() -> assistant.Assistant:
    return assistant.create(settings())


@functools.lru_cache(maxsize=1)
def _session_store() -> SessionStore:
    config = settings()
    return SessionStore(config.sessions_table, config.session_ttl_seconds, config.session_history_limit)
