"""What the three WebSocket routes do: $connect, $default (messages), $disconnect.

Replies go through the Management API because on real API Gateway whatever a
$default handler returns never reaches the client. Every frame is answered: one
the handler cannot act on gets an error frame saying why, and a failure of the
handler itself gets ``internal_error``, logged with the Lambda request id.

Sessions are the server's: a sendMessage without ``session_id`` starts one (its id
comes back in the ack), one with an id must name a session this client owns
(``framelog.FrameLog``), else ``invalid_session`` and nothing is queued.
``resume`` attaches the connection to a session and replays its kept frames; ``stop``
ends a message of a session this client owns (``framelog.FrameLog.stop``).
"""

import functools
import logging
import time
import traceback
import uuid
from dataclasses import dataclass
from typing import Any, Dict, Optional

from chalicelib import auth, causes, chat_queue, connections, logs, management, metrics, outbox, protocol, ratelimit
from chalicelib.config import settings
from chalicelib.envelope import ChatEnvelope
from chalicelib.errors import InvalidSessionError
from chalicelib.framelog import FrameLog, owner_of
from chalicelib.sessions import issue_session_id

__all__ = ["RequestContext", "on_connect", "on_disconnect", "on_message"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RequestContext:
    """The parts of an API Gateway WebSocket event the handlers use."""

    connection_id: str
    domain: str
    stage: str
    source_ip: Optional[str] = None
    user_agent: Optional[str] = None
    query: Optional[Dict[str, str]] = None
    request_id: Optional[str] = None  # the Lambda invocation's, for the logs

    @classmethod
    def from_event(cls, event: Dict[str, Any], lambda_context: Any = None) -> "RequestContext":
        context = event.get("requestContext") or {}
        identity = context.get("identity") or {}
        return cls(
            connection_id=context["connectionId"],
            domain=context.get("domainName", ""),
            stage=context.get("stage", ""),
            source_ip=identity.get("sourceIp"),
            user_agent=identity.get("userAgent"),
            query=event.get("queryStringParameters") or {},
            request_id=getattr(lambda_context, "aws_request_id", None),
        )


def on_connect(request: RequestContext) -> Dict[str, Any]:
    config = settings()
    token = (request.query or {}).get("token")
    verdict = auth.check(
        token, config.auth_api_keys, config.auth_token_secret, max_ttl_seconds=config.auth_max_ttl_seconds
    )
    if not verdict.allowed:
        # A non-2xx answer makes API Gateway refuse the upgrade; no other route runs.
        logs.emit(log, "refused", logging.WARNING, connection_id=request.connection_id, reason=verdict.reason)
        return {"statusCode": verdict.status, "body": verdict.reason}
    # API keys are for trusted integrations that serve many users each: no per-subject limit.
    subject = verdict.subject if verdict.kind == auth.SIGNED_TOKEN else None
    session_id = _attach_at_connect(request, subject)
    connections.register(request.connection_id, request.source_ip, request.user_agent, session_id, subject)
    logs.emit(log, "connected", connection_id=request.connection_id, source_ip=request.source_ip)
    return {"statusCode": 200}


def _attach_at_connect(request: RequestContext, subject: Optional[str]) -> Optional[str]:
    """Attach to the ``?session_id=`` of the query when this client owns it; else attach nothing.

    No frame can be posted before the upgrade completes, so an id that is not valid
    here is only logged: a sendMessage or resume naming it gets ``invalid_session``.
    """
    session_id = (request.query or {}).get("session_id")
    if not session_id or not protocol.SESSION_ID_PATTERN.fullmatch(session_id):
        return None
    try:
        FrameLog.from_settings(settings()).attach(session_id, owner_of(subject), request.connection_id)
    except InvalidSessionError:
        logs.emit(log, "invalid_session", logging.WARNING, connection_id=request.connection_id, at="connect")
        return None
    return session_id


def on_disconnect(request: RequestContext) -> Dict[str, Any]:
    record = connections.forget(request.connection_id)
    session_id = (record.get("session_id") or {}).get("S")
    if session_id:
        FrameLog.from_settings(settings()).detach(session_id, [request.connection_id])
    logs.emit(log, "disconnected", connection_id=request.connection_id)
    return {"statusCode": 200}


def on_message(request: RequestContext, body: Any) -> Dict[str, Any]:
    """Answer one frame; whatever fails, the client still gets a frame back."""
    api: Optional[management.ManagementApi] = None
    message_id: Optional[str] = None
    logs.correlate(connection_id=request.connection_id)
    try:
        api = management.for_endpoint(request.domain, request.stage)
        try:
            action = protocol.parse_frame(body)
        except protocol.ProtocolError as exc:
            logs.emit(log, "rejected_frame", connection_id=request.connection_id, code=exc.code)
            metrics.count(exc.code)
            outbox.refuse(api, request.connection_id, exc.code, exc.message)
            return {"statusCode": 200}
        if isinstance(action, protocol.Ping):
            if _within_rate_limit(api, request, ratelimit.allow_ping(request.connection_id)):
                outbox.pong(api, request.connection_id)
            return {"statusCode": 200}
        # A new session's id is issued first, so the rate-limit update can record it with the connection.
        session_id = action.session_id or issue_session_id()
        verdict = _count(request, action, session_id)
        if not _within_rate_limit(api, request, verdict):
            return {"statusCode": 200}
        subject = _subject(request, verdict)
        try:
            if isinstance(action, protocol.Resume):
                _resume(api, request, action, owner_of(subject))
            elif isinstance(action, protocol.Stop):
                _stop(api, request, action, owner_of(subject))
            else:
                message_id = str(uuid.uuid4())
                _accept_chat_message(api, request, action, message_id, owner_of(subject), session_id)
        except InvalidSessionError:
            logs.emit(log, "invalid_session", logging.WARNING, connection_id=request.connection_id)
            hint = "this session id was not issued to you or has expired: send without session_id to start a new one"
            outbox.refuse(api, request.connection_id, protocol.INVALID_SESSION, hint)
    except Exception as exc:
        _answer_internal_error(api, request, message_id, exc)
    return {"statusCode": 200}


def _answer_internal_error(
    api: Optional[management.ManagementApi], request: RequestContext, message_id: Optional[str], exc: Exception
) -> None:
    logs.emit(
        log,
        "internal_error",
        logging.ERROR,
        request_id=request.request_id,
        connection_id=request.connection_id,
        message_id=message_id,
        error=repr(exc),
        traceback=traceback.format_exc(),
    )
    if api is None:
        return  # no endpoint to post to: the log line is all there can be
    where = f" (request {request.request_id})" if request.request_id else ""
    hint = f"the server failed to handle this frame{where}; please try again"
    try:
        outbox.refuse(api, request.connection_id, protocol.INTERNAL_ERROR, hint, message_id)
    except Exception as post_exc:
        logs.emit(log, "internal_error_unanswered", logging.ERROR, request_id=request.request_id, error=repr(post_exc))


def _within_rate_limit(api: management.ManagementApi, request: RequestContext, verdict: ratelimit.Verdict) -> bool:
    if verdict.allowed:
        return True
    logs.emit(
        log, "rate_limited", connection_id=request.connection_id, scope=verdict.scope, source_ip=request.source_ip
    )
    metrics.count("rate_limited")
    outbox.refuse(
        api, request.connection_id, protocol.RATE_LIMITED, verdict.hint(), retry_after_ms=verdict.retry_after_ms
    )
    return False


def _count(request: RequestContext, action: Any, session_id: str) -> ratelimit.Verdict:
    """A resume has its own budget (ratelimit's module doc); anything else counts as a message."""
    if isinstance(action, protocol.Resume):
        return ratelimit.allow_resume(request.connection_id, session_id)
    return ratelimit.allow(request.connection_id, request.source_ip, session_id=session_id)


def _subject(request: RequestContext, verdict: ratelimit.Verdict) -> Optional[str]:
    """The token subject stored at $connect: from the rate-limit update when it ran, else read
    (only when signed tokens are configured: otherwise no connection has one)."""
    if verdict.subject_known or not settings().auth_token_secret:
        return verdict.subject
    return connections.subject_of(request.connection_id)


def _resume(api: management.ManagementApi, request: RequestContext, action: protocol.Resume, owner: str) -> None:
    """Attach the connection and replay the frames taken before it attached (the later ones
    reach it live: framelog); never queued."""
    frames = FrameLog.from_settings(settings())
    head = frames.attach(action.session_id, owner, request.connection_id)
    upto = head.attached[request.connection_id]
    skip = functools.partial(_skipped_text, action.session_id)
    # Read as posted: a client that stops reading (429) costs one page, not the whole session.
    kept = frames.replay_lazily(action.session_id, action.after, upto, skip)
    cursor = max(upto, action.after)
    replayed = outbox.replay(api, request.connection_id, action.session_id, kept, cursor)
    logs.emit(
        log,
        "resumed",
        connection_id=request.connection_id,
        session_id=action.session_id,
        after=action.after,
        cursor=cursor,
        replayed=replayed,
    )


def _skipped_text(session_id: str, cursor: int) -> str:
    return protocol.encode(protocol.skipped(session_id, cursor))


def _stop(api: management.ManagementApi, request: RequestContext, action: protocol.Stop, owner: str) -> None:
    """A queued message never runs (its stopped terminal frame goes out here); a running one
    ends at its worker's next boundary; anything else is ``not_running``. Never queued."""
    frames = FrameLog.from_settings(settings())
    # Attached (as a resume would, without the replay): the stopped terminal frame reaches this tab too.
    frames.attach(action.session_id, owner, request.connection_id)
    outcome, head = frames.stop(action.session_id, owner, action.message_id)
    logs.emit(log, "stop", connection_id=request.connection_id, message_id=action.message_id, outcome=outcome)
    if outcome == "queued":
        box = outbox.Outbox(api, frames, action.session_id, action.message_id)
        box.stopped(head)
    elif outcome == "not_running":
        hint = f"message {action.message_id[:64]} is not queued or being answered: nothing to stop"
        outbox.refuse(api, request.connection_id, protocol.NOT_RUNNING, hint)


def _accept_chat_message(
    api: management.ManagementApi,
    request: RequestContext,
    action: protocol.SendMessage,
    message_id: str,
    owner: str,
    session_id: str,
) -> None:
    """``session_id``: the one the frame named, or the new one issued for it."""
    logs.correlate(message_id=message_id, session_id=session_id)
    frames = FrameLog.from_settings(settings())
    # Ack before enqueueing so the client always sees "queued" before "processing".
    # The ack is the session's next frame: stored (with the owner check) and posted by the outbox,
    # under the session's ack lease, so the session's messages reach the queue in acked order.
    if action.session_id is None:
        box = outbox.Outbox.open_session(
            api, frames, session_id, owner, request.connection_id, message_id, action.client_message_id, action.message
        )
    else:
        box = outbox.Outbox(api, frames, session_id, message_id)
        box.ack(owner, request.connection_id, action.client_message_id, action.message)
    try:
        _enqueue_acked(box, request, action, message_id, owner)
    finally:
        box.end_ack()


def _enqueue_acked(
    box: outbox.Outbox, request: RequestContext, action: protocol.SendMessage, message_id: str, owner: str
) -> None:
    """Queue the acked message (even if the client left before its ack: the reply is kept for its
    resume); a failure to queue it is told to the client as its terminal frame."""
    envelope = ChatEnvelope(
        message_id=message_id,
        connection_id=request.connection_id,
        session_id=box.session_id,
        message=action.message,
        domain=request.domain,
        stage=request.stage,
        received_at_ms=int(time.time() * 1000),
        client_message_id=action.client_message_id,
        owner=owner,
    )
    try:
        chat_queue.enqueue(envelope)
    except Exception as exc:
        # The message was acknowledged, so it must still end in a terminal frame.
        logs.emit(
            log,
            "enqueue_failed",
            logging.ERROR,
            message_id=envelope.message_id,
            error=causes.cause(exc),
            error_type=type(exc).__name__,
        )
        metrics.count("enqueue_failed")
        hint = f"the message could not be queued ({causes.shopper_reason(exc)}); please send it again"
        box.error(protocol.PROCESSING_FAILED, hint)
        return
    logs.emit(log, "queued", message_id=envelope.message_id, connection_id=request.connection_id)
    metrics.count("queued")
