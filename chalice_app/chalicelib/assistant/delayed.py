"""Slow any assistant down like a real model, to reproduce the seed's 37-55 s replies locally.

The delay is spent the way a model spends it: most of it before the first words
(time to first token), the rest spread between the streamed pieces. Heartbeat
status frames keep the client informed meanwhile.
"""

import random
from typing import Callable, Iterator, Optional, Tuple

from chalicelib.assistant import cancel
from chalicelib.assistant.base import Assistant, AssistantEvent, Delta
from chalicelib.sessions import SessionState

__all__ = ["DelayedAssistant", "SLOW_RANGE_SECONDS"]

# What the seed's LLM took per reply: the case the heartbeats and the 240 s full phase exist for.
SLOW_RANGE_SECONDS: Tuple[float, float] = (37.0, 55.0)
_EXPECTED_PIECES = 8  # a typical reply's line count, to pace the pieces after the first


def _cancellable_sleep(seconds: float) -> None:
    """Sleep as a model thinks, but end at once when the shopper stops the reply."""
    cancel.current().sleep(seconds)


class DelayedAssistant:
    def __init__(
        self,
        inner: Assistant,
        seconds: Optional[float] = None,
        seconds_range: Tuple[float, float] = SLOW_RANGE_SECONDS,
        first_token_share: float = 0.7,
        sleep: Optional[Callable[[float], None]] = None,
        rng: Optional[random.Random] = None,
    ):
        self.inner = inner
        self.seconds, self.seconds_range = seconds, seconds_range
        self.first_token_share = first_token_share
        self._sleep, self._rng = sleep or _cancellable_sleep, rng or random.Random()

    def delay(self) -> float:
        """This reply's delay: fixed when ``seconds`` is set, else drawn from ``seconds_range``."""
        return self.seconds if self.seconds is not None else self._rng.uniform(*self.seconds_range)

    def respond(self, message: str, state: SessionState) -> Iterator[AssistantEvent]:
        total = self.delay()
        self._sleep(total * self.first_token_share)
        if cancel.current().cancelled:
            return  # stopped while thinking: the backend is never asked
        # Lazy, so a streaming backend still streams: a share of the rest before each piece,
        # whatever is left before the Reply.
        remaining = total * (1 - self.first_token_share)
        per_piece = remaining / _EXPECTED_PIECES
        for event in self.inner.respond(message, state):
            pause = min(per_piece, remaining) if isinstance(event, Delta) else remaining
            if pause > 0:
                self._sleep(pause)
                remaining -= pause
            yield event
