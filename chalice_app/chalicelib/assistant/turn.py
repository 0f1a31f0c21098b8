"""One turn of a conversation, for every assistant backend: load, replay or answer, save.

``run(assistant, store, session_id, message_id, message)`` is the only code that
reads or writes a session's state around an assistant: it loads the state (the
session's owner was checked by chat_processor against the session log before
the turn starts), replays the recorded reply when this ``message_id`` was already
answered (SQS redelivered a message whose reply was produced but not delivered,
so a second "add to cart" must not happen), else lets the backend produce its
events from the state and saves the state with the turn recorded. Backends only
produce events: ``respond(message, state)`` yields Deltas then one Reply.
"""

import re
from typing import Any, Callable, Dict, Iterator, List, Optional

from chalicelib.assistant.base import Assistant, AssistantEvent, Delta, Reply
from chalicelib.sessions import SessionStore

__all__ = ["run", "lines_of", "replay", "record_stopped"]


def run(
    assistant: Assistant, store: SessionStore, session_id: str, message_id: Optional[str], message: str
) -> Iterator[AssistantEvent]:
    """The events of one turn; the state is saved before the Reply is yielded."""
    state = store.load(session_id)
    answered = state.replay_of(message_id)
    if answered is not None:
        from chalicelib import catalog  # only a replay needs the catalog's products

        yield from replay(answered, catalog.product)
        return
    for event in assistant.respond(message, state):
        if isinstance(event, Reply):
            product_ids = [item["id"] for item in event.products if isinstance(item, dict) and "id" in item]
            state.record_turn(message, event.content, product_ids, message_id)
            state.last_turn.update(event.notes)
            store.save(state)
            yield event
            return
        yield event


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


def record_stopped(store: SessionStore, session_id: str, message_id: Optional[str], message: str, content: str) -> None:
    """The shopper stopped the reply: keep the turn with the text streamed until then (a retried
    delivery replays it). A turn the backend had already recorded in full (the stop came with its
    last words) is cut back to what the shopper saw."""
    state = store.load(session_id)
    if state.replay_of(message_id) is not None and state.history:
        state.history.pop()
    state.record_turn(message, content, [], message_id)
    state.last_turn["stopped"] = True
    store.save(state)
