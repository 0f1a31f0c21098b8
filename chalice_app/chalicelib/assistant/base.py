"""The assistant interface: text + session in, streamed deltas and a final reply out."""

from dataclasses import dataclass, field
from typing import Any, Dict, Iterator, List, Protocol, Union

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
    def respond(self, message: str, session_id: str) -> Iterator[AssistantEvent]:
        """Yield zero or more Delta, then exactly one Reply. Raise on failure."""
        ...
