"""One turn's events, handed to chat_processor until the turn ends or the shopper stops it.

The backend's events run on a thread of their own inside ``cancel.scope``; the processor
takes them from a queue. A watcher thread sends the heartbeat ``status`` frames and, while
no frame goes out, reads the session's head for a stop every ``STOP_POLL_SECONDS``; every
frame's own write returns the head too (``Outbox.stop_asked``), so a streaming reply learns
of a stop at its next chunk for free. On a stop the processor stops taking events at once and
the backend is cancelled: a sleeping backend wakes, Bedrock's stream is closed.
"""

import contextlib
import contextvars
import logging
import queue
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Optional

from chalicelib import logs
from chalicelib.assistant import cancel
from chalicelib.assistant.base import AssistantEvent, Reply
from chalicelib.errors import AssistantError, DeadlineError, ReplyStoppedError
from chalicelib.outbox import Outbox

__all__ = ["run", "ReplyStoppedError", "STOP_POLL_SECONDS"]

log = logging.getLogger(__name__)

# While no frame goes out, how often the worker reads the head for a stop (one small consistent GetItem).
STOP_POLL_SECONDS = 0.25


@dataclass(frozen=True)
class _Failed:
    error: BaseException


_STOP, _END = object(), object()


def run(
    box: Outbox,
    events: Callable[[], Iterator[AssistantEvent]],
    heartbeat_seconds: float,
    on_event: Callable[[AssistantEvent], None],
    poll_seconds: float = STOP_POLL_SECONDS,
    deadline: Optional[float] = None,
    on_beat: Callable[[], Any] = lambda: None,
) -> Reply:
    """Pass each Delta of ``events()`` to ``on_event`` and return the Reply; ReplyStoppedError when the
    shopper stops the reply first, DeadlineError when ``deadline`` (``time.monotonic()``) comes first.
    The backend's exceptions are raised here. ``on_beat`` runs with each heartbeat."""
    inbox: queue.Queue[Any] = queue.Queue()
    cancellation, done = cancel.Cancellation(), threading.Event()
    context = contextvars.copy_context()
    producer = threading.Thread(target=context.run, args=(_produce, events, inbox, cancellation), daemon=True)
    beat = _Beat(heartbeat_seconds, poll_seconds, on_beat)
    watcher = threading.Thread(target=_watch, args=(box, inbox, done, beat), name="watch", daemon=True)
    producer.start()
    watcher.start()
    try:
        return _take(box, inbox, on_event, deadline)
    except (ReplyStoppedError, DeadlineError):
        cancellation.cancel()
        raise
    finally:
        done.set()
        watcher.join()


def _next(inbox: "queue.Queue[Any]", deadline: Optional[float]) -> Any:
    if deadline is None:
        return inbox.get()
    try:
        return inbox.get(timeout=max(0.0, deadline - time.monotonic()))
    except queue.Empty:
        raise DeadlineError("stopped before the Lambda deadline") from None


def _take(
    box: Outbox, inbox: "queue.Queue[Any]", on_event: Callable[[AssistantEvent], None], deadline: Optional[float]
) -> Reply:
    while True:
        item = _next(inbox, deadline)
        if item is _STOP or box.stop_asked:
            raise ReplyStoppedError()
        if isinstance(item, _Failed):
            raise item.error
        if item is _END:
            raise AssistantError("assistant finished without a reply")
        if isinstance(item, Reply):
            return item
        on_event(item)
        if box.stop_asked:  # learnt from the chunk's own write: stop before the next event comes
            raise ReplyStoppedError()


def _produce(events: Callable[[], Iterator[AssistantEvent]], inbox: "queue.Queue[Any]", cancellation) -> None:
    with cancel.scope(cancellation):
        stream = events()
        try:
            for event in stream:
                if cancellation.cancelled:
                    break
                inbox.put(event)
                if isinstance(event, Reply):
                    return
            inbox.put(_END)
        except BaseException as exc:  # handed to the processor, which reports it
            inbox.put(_END if cancellation.cancelled else _Failed(exc))
        finally:
            with contextlib.suppress(Exception):
                getattr(stream, "close", lambda: None)()  # GeneratorExit in the backend: what it opened is closed


@dataclass(frozen=True)
class _Beat:
    seconds: float  # between heartbeats
    poll: float  # between stop polls
    extra: Callable[[], Any]  # run with each heartbeat (chat_processor: extend the record's visibility)


def _watch(box: Outbox, inbox: "queue.Queue[Any]", done: threading.Event, beat: _Beat) -> None:
    started = next_beat = time.monotonic()
    next_beat += beat.seconds
    while not done.wait(max(0.0, min(beat.poll, next_beat - time.monotonic()))):
        try:
            now = time.monotonic()
            if now >= next_beat:
                next_beat = now + beat.seconds
                beat.extra()
                box.status(int((now - started) * 1000))
            if box.poll_stop(beat.poll):
                inbox.put(_STOP)
                return
        except Exception as exc:
            logs.emit(log, "heartbeat_failed", logging.WARNING, message_id=box.message_id, error=repr(exc))
            return
