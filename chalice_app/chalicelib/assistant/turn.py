"""One turn of a conversation: which message it answers, and replaying an answered one.

chat_processor runs the assistant inside ``turn(message_id)``. The assistant keeps
the last turn in the session, so when SQS redelivers a message whose reply was
produced but not delivered (the response post failed), the retry streams the
same reply again instead of repeating its effects (a second "add to cart").
A ContextVar keeps the ``Assistant.respond(message, session_id)`` interface
unchanged.
"""

import contextlib
import re
from contextvars import ContextVar
from typing import Any, Callable, Dict, Iterator, List, Optional

from chalicelib.assistant.base import AssistantEvent, Delta, Reply

__all__ = ["turn", "current_message_id", "lines_of", "replay"]

_MESSAGE_ID: ContextVar[Optional[str]] = ContextVar("assistant_message_id", default=None)


@contextlib.contextmanager
def turn(message_id: Optional[str]) -> Iterator[None]:
    token = _MESSAGE_ID.set(message_id)
    try:
        yield
    finally:
        _MESSAGE_ID.reset(token)


def current_message_id() -> Optional[str]:
    """The message being answered, or None outside ``turn`` (direct calls, tests)."""
    return _MESSAGE_ID.get()


def lines_of(text: str) -> List[str]:
    """Streaming pieces of a finished text: its lines, newlines kept, so they join back to it."""
    return [piece for piece in re.split(r"(?<=\n)", text) if piece]


def replay(last_turn: Dict[str, Any], product: Callable[[str], Optional[Dict[str, Any]]]) -> Iterator[AssistantEvent]:
    """The recorded reply again: its lines as deltas, then the Reply (products looked up by id)."""
    content = last_turn.get("content", "")
    for piece in lines_of(content):
        yield Delta(piece)
    products = [item for item in (product(pid) for pid in last_turn.get("product_ids", [])) if item]
    yield Reply(content=content, products=products)
