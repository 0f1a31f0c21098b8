"""Structured log lines: one Powertools JSON line per event, on stdout (CloudWatch Logs).

Every function logs through one Powertools ``Logger``; ``emit(log, event, level,
**fields)`` is the only call the rest of chalicelib makes. The correlation ids are
set once per handler (``correlate``) and then ride on every line of that
invocation, or of that SQS record for chat_processor (``forget`` between records).
The keys are per thread (Powertools' thread-safe keys), so the local runtime,
which runs several functions in one process, never mixes two messages' ids.

The top-level keys of a line, the ones tools search on:

==================== ========================================================
``event``            what happened: ``queued``, ``picked_up``, ``first_chunk``,
                     ``answered``, ``drop``, ``processing_failed``, ...
``message``          the same event name (Powertools' own message key)
``message_id``       the chat message (set once the gateway created it)
``connection_id``    the WebSocket connection
``session_id``       the chat session, where known
``attempt``          chat_processor: the SQS receive count of the record
``timestamp_ms``     when the line was written, epoch milliseconds (int)
``timestamp``        the same, ISO 8601 UTC with milliseconds
``level``            INFO, WARNING, ERROR
``location``         ``function:line`` of the code that logged
``service``          ``POWERTOOLS_SERVICE_NAME`` (shopping-assistant-api)
``cold_start``       true on the first invocation of the execution environment
``function_name``, ``function_request_id``, ``function_memory_size``,
``function_arn``     the Lambda context (Powertools' names)
==================== ========================================================

plus the event's own fields (``queue_wait_ms``, ``reason``, ``error``, ...).
"""

import functools
import json
import logging
import os
import sys
from typing import Any, Dict, Optional

from aws_lambda_powertools import Logger
from aws_lambda_powertools.logging.lambda_context import build_lambda_context_model

__all__ = [
    "SERVICE",
    "CORRELATION_KEYS",
    "StdoutHandler",
    "logger",
    "emit",
    "fields_of",
    "setup",
    "start_invocation",
    "correlate",
    "forget",
]

PACKAGE_LOGGER = "chalicelib"
SERVICE = os.environ.get("POWERTOOLS_SERVICE_NAME") or "shopping-assistant-api"
CORRELATION_KEYS = ("message_id", "connection_id", "session_id", "attempt")

# Attributes of a LogRecord that a field passed as ``extra`` must not overwrite.
_RECORD_ATTRIBUTES = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}


class StdoutHandler(logging.StreamHandler):
    """Writes to ``sys.stdout`` as it is when the line is written, where Lambda collects it."""

    def __init__(self) -> None:
        super().__init__(sys.stdout)

    @property
    def stream(self):  # noqa: D401 (a property: the current stdout)
        return sys.stdout

    @stream.setter
    def stream(self, value) -> None:
        pass


class _EpochMilliseconds(logging.Filter):
    """Adds ``timestamp_ms``: the record's creation time in epoch milliseconds."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.timestamp_ms = int(record.created * 1000)
        return True


# ", " and ": " separators and raw UTF-8, as the lines were before Powertools: searches keep working.
logger = Logger(
    service=SERVICE,
    level=logging.INFO,
    logger_handler=StdoutHandler(),
    json_serializer=functools.partial(json.dumps, default=str, ensure_ascii=False),
    utc=True,
    use_rfc3339=True,
)
logger.addFilter(_EpochMilliseconds())

_cold_start = True


def setup(level: int = logging.INFO) -> None:
    """Let INFO events through; the Lambda runtime's root logger defaults to WARNING."""
    logging.getLogger(PACKAGE_LOGGER).setLevel(level)
    logger.setLevel(level)


def emit(log: logging.Logger, event: str, level: int = logging.INFO, **fields: Any) -> None:
    """Write one event line; ``log`` (the caller's module logger) is kept for the call sites' sake."""
    extra = {"event": event}
    for key, value in fields.items():
        if value is not None:
            extra[key + "_" if key in _RECORD_ATTRIBUTES else key] = value
    logger._logger.log(level, event, extra=extra, stacklevel=2)


def fields_of(record: logging.LogRecord) -> Dict[str, Any]:
    """The event and fields ``emit`` put on a record (what a line shows beside Powertools' keys)."""
    return {key: value for key, value in record.__dict__.items() if key not in _RECORD_ATTRIBUTES}


def start_invocation(context: Any) -> None:
    """At a handler's entry: forget the last invocation's keys, add the Lambda context and cold start."""
    global _cold_start
    logger.thread_safe_clear_keys()
    keys = {"cold_start": _cold_start}
    _cold_start = False
    if context is not None and hasattr(context, "aws_request_id"):
        keys.update(build_lambda_context_model(context).__dict__)
    logger.thread_safe_append_keys(**keys)


def correlate(**keys: Optional[Any]) -> None:
    """Put these ids (``message_id``, ``connection_id``, ...) on every later line of this thread."""
    logger.thread_safe_append_keys(**{key: value for key, value in keys.items() if value is not None})


def forget(*keys: str) -> None:
    """Take ids off the lines again (default: all the correlation keys), e.g. between SQS records."""
    logger.thread_safe_remove_keys(list(keys or CORRELATION_KEYS))
