"""Chat wire protocol v1: parsing client frames and building server frames.

This module is the only place that knows the shape of a frame (docs/protocol.md
describes the same thing for people). It does no I/O.

Raises ``ProtocolError`` (chalicelib.errors) for a client frame that cannot be
acted on; ``protocol.error(exc.code, exc.message)`` is the frame that says so.
"""

import json
import re
import time
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Dict, List, Optional, Union

from chalicelib.errors import ProtocolError

__all__ = [
    "MAX_MESSAGE_CHARS",
    "MAX_ID_CHARS",
    "SESSION_ID_PATTERN",
    "INVALID_JSON",
    "UNKNOWN_ACTION",
    "INVALID_MESSAGE",
    "RATE_LIMITED",
    "PROCESSING_FAILED",
    "EXPIRED",
    "INTERNAL_ERROR",
    "SERVICE_UNAVAILABLE",
    "INVALID_SESSION",
    "NOT_RUNNING",
    "ErrorCode",
    "TERMINAL_TYPES",
    "ProtocolError",
    "Ping",
    "SendMessage",
    "Resume",
    "Stop",
    "parse_frame",
    "encode",
    "now_ms",
    "pong",
    "ack",
    "status",
    "retrying",
    "chunk",
    "response",
    "error",
    "resumed",
    "skipped",
    "with_cursor",
]

MAX_MESSAGE_CHARS = 4000
MAX_ID_CHARS = 64
SESSION_ID_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,64}")


class ErrorCode(StrEnum):
    """Every ``code`` an error frame can carry (a str, so it compares and encodes as its value)."""

    # Errors that leave the connection open.
    INVALID_JSON = "invalid_json"
    UNKNOWN_ACTION = "unknown_action"
    INVALID_MESSAGE = "invalid_message"
    RATE_LIMITED = "rate_limited"
    # The session id was not issued by the server, has expired or belongs to another owner.
    INVALID_SESSION = "invalid_session"
    # A stop named a message that is not queued or being answered (it ended, or is unknown).
    NOT_RUNNING = "not_running"
    # Terminal error codes for one acknowledged message.
    PROCESSING_FAILED = "processing_failed"
    EXPIRED = "expired"
    # The handler failed in a way the client cannot fix; the frame is still answered.
    INTERNAL_ERROR = "internal_error"
    # The service behind the gateway is down (the local runtime lost its AWS emulator).
    SERVICE_UNAVAILABLE = "service_unavailable"


# Module-level aliases, as callers have always used them.
INVALID_JSON = ErrorCode.INVALID_JSON
UNKNOWN_ACTION = ErrorCode.UNKNOWN_ACTION
INVALID_MESSAGE = ErrorCode.INVALID_MESSAGE
RATE_LIMITED = ErrorCode.RATE_LIMITED
INVALID_SESSION = ErrorCode.INVALID_SESSION
NOT_RUNNING = ErrorCode.NOT_RUNNING
PROCESSING_FAILED = ErrorCode.PROCESSING_FAILED
EXPIRED = ErrorCode.EXPIRED
INTERNAL_ERROR = ErrorCode.INTERNAL_ERROR
SERVICE_UNAVAILABLE = ErrorCode.SERVICE_UNAVAILABLE

# A message ends with exactly one frame of these types.
TERMINAL_TYPES = ("response", "error")

ACTIONS = ("ping", "sendMessage", "resume", "stop")


@dataclass(frozen=True)
class Ping:
    pass


@dataclass(frozen=True)
class SendMessage:
    message: str
    session_id: Optional[str] = None
    client_message_id: Optional[str] = None


@dataclass(frozen=True)
class Resume:
    """Attach this connection to ``session_id`` and replay its frames with cursor > ``after``."""

    session_id: str
    after: int = 0


@dataclass(frozen=True)
class Stop:
    """Stop ``message_id`` of ``session_id``: never run it if queued, end it at its next boundary if running."""

    session_id: str
    message_id: str


def parse_frame(body: Union[str, bytes, None]) -> Union[Ping, SendMessage, Resume, Stop]:
    """Turn one text frame into an action, or raise ProtocolError."""
    data = _decode_json(body)
    action = data.get("action")
    if action == "ping":
        return Ping()
    if action == "sendMessage":
        return _parse_send_message(data)
    if action == "resume":
        return _parse_resume(data)
    if action == "stop":
        return _parse_stop(data)
    if action is None:
        raise ProtocolError(UNKNOWN_ACTION, 'missing "action": use one of ' + _actions())
    raise ProtocolError(UNKNOWN_ACTION, f"unknown action {str(action)[:40]!r}: use one of {_actions()}")


def _actions() -> str:
    return ", ".join(f'"{name}"' for name in ACTIONS)


def _decode_json(body: Union[str, bytes, None]) -> Dict[str, Any]:
    if isinstance(body, bytes):
        try:
            body = body.decode("utf-8")
        except UnicodeDecodeError:
            raise ProtocolError(INVALID_JSON, "frame is not UTF-8 text: send a JSON object") from None
    if not body or not body.strip():
        raise ProtocolError(INVALID_JSON, "empty frame: send a JSON object")
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        raise ProtocolError(INVALID_JSON, "frame is not valid JSON: send a JSON object") from None
    if not isinstance(data, dict):
        raise ProtocolError(INVALID_JSON, f"frame is a JSON {type(data).__name__}: send a JSON object")
    return data


def _parse_send_message(data: Dict[str, Any]) -> SendMessage:
    message = data.get("message")
    if not isinstance(message, str):
        raise ProtocolError(INVALID_MESSAGE, '"message" is required and must be a string')
    if not _is_unicode_text(message):
        raise ProtocolError(INVALID_MESSAGE, '"message" contains a lone UTF-16 surrogate: send Unicode text')
    message = message.strip()
    if not message:
        raise ProtocolError(INVALID_MESSAGE, '"message" is empty after trimming whitespace')
    if len(message) > MAX_MESSAGE_CHARS:
        raise ProtocolError(
            INVALID_MESSAGE, f'"message" has {len(message)} characters; the limit is {MAX_MESSAGE_CHARS}'
        )
    session_id = data.get("session_id")
    if session_id is not None and not (isinstance(session_id, str) and SESSION_ID_PATTERN.fullmatch(session_id)):
        raise ProtocolError(INVALID_MESSAGE, '"session_id" must be 1-64 characters of A-Z a-z 0-9 _ -')
    client_message_id = data.get("client_message_id")
    if client_message_id is not None and not (
        isinstance(client_message_id, str) and 0 < len(client_message_id) <= MAX_ID_CHARS
    ):
        raise ProtocolError(INVALID_MESSAGE, f'"client_message_id" must be a string of 1-{MAX_ID_CHARS} characters')
    if client_message_id is not None and not _is_unicode_text(client_message_id):
        raise ProtocolError(INVALID_MESSAGE, '"client_message_id" contains a lone UTF-16 surrogate: send Unicode text')
    return SendMessage(message, session_id, client_message_id)


def _parse_resume(data: Dict[str, Any]) -> Resume:
    session_id = data.get("session_id")
    if not (isinstance(session_id, str) and SESSION_ID_PATTERN.fullmatch(session_id)):
        raise ProtocolError(INVALID_MESSAGE, '"session_id" is required: the id the server returned in an ack')
    after = data.get("after", 0)
    # bool is an int in Python, never a cursor.
    if isinstance(after, bool) or not isinstance(after, int) or after < 0:
        raise ProtocolError(INVALID_MESSAGE, '"after" must be a whole number >= 0: the last cursor you saw')
    return Resume(session_id, after)


def _parse_stop(data: Dict[str, Any]) -> Stop:
    session_id = data.get("session_id")
    if not (isinstance(session_id, str) and SESSION_ID_PATTERN.fullmatch(session_id)):
        raise ProtocolError(INVALID_MESSAGE, '"session_id" is required: the session of the message to stop')
    message_id = data.get("message_id")
    if not (isinstance(message_id, str) and 0 < len(message_id) <= MAX_ID_CHARS):
        raise ProtocolError(INVALID_MESSAGE, '"message_id" is required: the id the server returned in its ack')
    return Stop(session_id, message_id)


def _is_unicode_text(text: str) -> bool:
    """False for a string holding an unpaired surrogate (JSON allows ``"\\ud800"``, RFC 8259 s. 8.2).

    Such a string has no UTF-8 form (RFC 3629 s. 3), so it could neither be echoed in
    an ack nor queued: it is refused here, before anything is posted.
    """
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


# --- server frames ---------------------------------------------------------


def encode(frame: Dict[str, Any]) -> str:
    return json.dumps(frame, separators=(",", ":"), ensure_ascii=False)


def now_ms() -> int:
    return int(time.time() * 1000)


def pong() -> Dict[str, Any]:
    return {"type": "pong", "timestamp": now_ms()}


def ack(message_id: str, session_id: str, client_message_id: Optional[str], message: str = "") -> Dict[str, Any]:
    """``message``: the text acked, so every attached tab (and a reload) shows the question."""
    return {
        "type": "ack",
        "message_id": message_id,
        "client_message_id": client_message_id,
        "session_id": session_id,
        "status": "queued",
        "message": message,
    }


def status(message_id: str, elapsed_ms: int) -> Dict[str, Any]:
    return {"type": "status", "message_id": message_id, "status": "processing", "elapsed_ms": elapsed_ms}


def retrying(message_id: str, attempt: int, reason: str, retry_in_seconds: int) -> Dict[str, Any]:
    """Attempt ``attempt`` failed (``reason``, in the shopper's words); the next starts in about
    ``retry_in_seconds``. Not terminal: the message still ends in a response or an error."""
    return {
        "type": "status",
        "message_id": message_id,
        "status": "retrying",
        "attempt": attempt,
        "reason": reason,
        "retry_in_seconds": retry_in_seconds,
    }


def chunk(message_id: str, seq: int, delta: str) -> Dict[str, Any]:
    return {"type": "chunk", "message_id": message_id, "seq": seq, "delta": delta}


def response(
    message_id: str, session_id: str, content: str, products: List[Dict[str, Any]], stopped: bool = False
) -> Dict[str, Any]:
    """``stopped``: the shopper stopped the reply; ``content`` is the text streamed until then."""
    frame = {
        "type": "response",
        "message_id": message_id,
        "session_id": session_id,
        "content": content,
        "products": products,
    }
    if stopped:
        frame["stopped"] = True
    return frame


def skipped(session_id: str, cursor: int) -> Dict[str, Any]:
    """Stands at a cursor whose frame was never stored (its writer died or stalled past the
    resume's wait); a client moves past it. The frame itself, if its writer lives, comes later."""
    return {"type": "skipped", "session_id": session_id, "cursor": cursor}


def resumed(session_id: str, cursor: int) -> Dict[str, Any]:
    return {"type": "resumed", "session_id": session_id, "cursor": cursor}


def with_cursor(frame: Dict[str, Any], session_id: str, cursor: int) -> Dict[str, Any]:
    """A message's frame as it leaves: with its session and its place in the session (``cursor``)."""
    return {**frame, "session_id": session_id, "cursor": cursor}


def error(
    code: str, message: str, message_id: Optional[str] = None, retry_after_ms: Optional[int] = None
) -> Dict[str, Any]:
    frame: Dict[str, Any] = {"type": "error", "code": str(code), "message": message}
    if message_id is not None:
        frame["message_id"] = message_id
    if retry_after_ms is not None:  # rate_limited: the same frame is counted afresh after this long
        frame["retry_after_ms"] = retry_after_ms
    return frame
