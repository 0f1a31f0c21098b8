"""When to post streamed chunk deltas: fewer ``post_to_connection`` calls per reply.

API Gateway bills every ``post_to_connection`` as at least one message (one per
32 KB, see ``metrics.billed_messages``), so forwarding a model's stream token by
token costs one message per token. ``Coalescer`` joins deltas: the first one is
posted at once (the client sees the reply start without delay), then at most one
chunk per ``flush_ms`` or as soon as ``max_bytes`` of text are pending, whichever
comes first, and whatever is left just before the response. The ``seq`` of the
chunks it hands out stays contiguous from 0.

It does no I/O and keeps no timer: it decides when a delta arrives (and at the
end), from the clock it is given, so text pending when the stream pauses waits
for the next delta or the end of the reply.
"""

import time
from dataclasses import dataclass
from typing import Callable, List, Optional

__all__ = ["Chunk", "Coalescer", "DEFAULT_MAX_BYTES"]

DEFAULT_MAX_BYTES = 1024  # 1 KB of UTF-8 text


@dataclass(frozen=True)
class Chunk:
    seq: int
    text: str


class Coalescer:
    def __init__(
        self,
        flush_ms: float,
        max_bytes: int = DEFAULT_MAX_BYTES,
        clock: Callable[[], float] = time.monotonic,
        hold_first: bool = False,
    ):
        """``hold_first``: the first delta waits like the others (nobody watches the reply start)."""
        self.flush_seconds = flush_ms / 1000
        self.max_bytes = max_bytes
        self.clock = clock
        self.deltas = 0  # deltas received
        self.posts = 0  # chunks handed out (the next seq)
        self._pending: List[str] = []
        self._pending_bytes = 0
        self._last_post: Optional[float] = clock() if hold_first else None

    def add(self, delta: str) -> Optional[Chunk]:
        """Take one delta; returns the chunk to post now, or None to keep it pending."""
        if not delta:
            return None
        self.deltas += 1
        self._pending.append(delta)
        self._pending_bytes += len(delta.encode("utf-8"))
        now = self.clock()
        due = (
            self._last_post is None
            or now - self._last_post >= self.flush_seconds
            or self._pending_bytes >= self.max_bytes
        )
        return self._take(now) if due else None

    def finish(self) -> Optional[Chunk]:
        """The text still pending, to post before the response (None if there is none)."""
        return self._take(self.clock()) if self._pending else None

    def _take(self, now: float) -> Chunk:
        chunk = Chunk(self.posts, "".join(self._pending))
        self.posts += 1
        self._pending, self._pending_bytes, self._last_post = [], 0, now
        return chunk
