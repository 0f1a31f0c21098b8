"""The assistant interface: text + session state in, streamed deltas and a final reply out.

A backend only produces events; ``assistant.turn.run`` loads the state, replays an
answered message and saves the state after the Reply.
"""

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Dict, Iterator, List, Protocol, Union

if TYPE_CHECKING:
    from chalicelib.sessions import SessionState

__all__ = ["Delta", "Reply", "Assistant", "AssistantEvent"]


@dataclass(frozen=True)
class Delta:
    """A piece of reply text, forwarded to the client as a ``chunk`` frame."""

    text: str


@dataclass(frozen=True)
class Reply:
    """The final answer; always the last event of a turn."""

    content: str
    products: List[Dict[str, Any]] = field(default_factory=list)


AssistantEvent = Union[Delta, Reply]


class Assistant(Protocol):
    def respond(self, message: str, state: "SessionState") -> Iterator[AssistantEvent]:
        """Yield zero or more Delta, then exactly one Reply, updating ``state`` (not saving it). Raise on failure."""
        ...
