"""Stopping a turn while a backend works: one ``Cancellation`` per turn, found through a context variable.

chat_processor runs a turn's events on a thread of their own, inside ``scope(cancellation)``;
when the shopper stops the reply it calls ``cancel()``. A backend never has to poll: it sleeps
with ``current().sleep`` (which returns early) and registers what must be closed (Bedrock's
ConverseStream) with ``current().on_cancel``. Outside a scope, ``current()`` is never cancelled.
"""

import contextlib
import contextvars
import threading
from typing import Callable, Iterator, List

__all__ = ["Cancellation", "current", "scope"]


class Cancellation:
    def __init__(self) -> None:
        self._event = threading.Event()
        self._lock = threading.Lock()
        self._callbacks: List[Callable[[], None]] = []

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def cancel(self) -> None:
        with self._lock:
            self._event.set()
            callbacks, self._callbacks = self._callbacks, []
        for callback in callbacks:
            with contextlib.suppress(Exception):  # closing what is already closed, say
                callback()

    def sleep(self, seconds: float) -> bool:
        """Wait ``seconds`` unless cancelled first; True if cancelled."""
        return self._event.wait(max(0.0, seconds))

    @contextlib.contextmanager
    def on_cancel(self, callback: Callable[[], None]) -> Iterator[None]:
        """Call ``callback`` if the turn is cancelled while inside this block (at once if it already is)."""
        with self._lock:
            registered = not self._event.is_set()
            if registered:
                self._callbacks.append(callback)
        if not registered:
            callback()
        try:
            yield
        finally:
            with self._lock:
                if callback in self._callbacks:
                    self._callbacks.remove(callback)


_current: contextvars.ContextVar[Cancellation] = contextvars.ContextVar("cancellation")


def current() -> Cancellation:
    """The running turn's cancellation (a fresh, never-cancelled one outside a scope)."""
    try:
        return _current.get()
    except LookupError:
        return Cancellation()


@contextlib.contextmanager
def scope(cancellation: Cancellation) -> Iterator[Cancellation]:
    token = _current.set(cancellation)
    try:
        yield cancellation
    finally:
        _current.reset(token)
