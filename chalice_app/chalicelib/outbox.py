"""How frames leave the server: the only place that builds and encodes them.

``Outbox`` is one message's: its ack, status heartbeats, chunks and its one
terminal frame (``response`` or ``error``). A frame flows one way: take its cursor
(one UpdateItem on the session's head, ``framelog.FrameLog``, which also returns
the connections attached at that instant), render it, store it, post it to exactly
those connections. A connection that answers 410 is detached and the message goes
on (its frames stay kept for a resume); so is one that answers 429 (it is not reading:
its outgoing buffer is full), at once and without a retry, so the other connections are
not held up: the frame is kept, and the client's resume (on this connection, or on the
next one: the gateway closes a connection that stays unreadable) replays every frame
after its cursor, this one included.
If a resume skipped the cursor while the store was slow, the skip is posted instead and
the frame takes the next cursor.

The same head tells the outbox when the shopper stopped this message (``stop_asked``);
between frames ``poll_stop`` reads it. ``delta`` is the single place chunk text
goes out: its ``coalesce.Coalescer`` decides which deltas are joined into one
``chunk`` (``CHUNK_FLUSH_MS``); ``streamed`` is the text posted so far.

The module functions answer one connection with a frame that belongs to no
message: ``pong``, ``refuse`` (an error), and ``replay`` (a resume's kept frames,
then ``resumed``).
"""

import logging
import threading
import time
from typing import Any, Dict, FrozenSet, Iterable, List, Optional, Tuple

from chalicelib import causes, logs, protocol
from chalicelib.coalesce import Coalescer
from chalicelib.framelog import STOPPING, FrameLog, Head
from chalicelib.management import BUSY, GONE, SENT, ConnectionBusyError, ConnectionGoneError, ManagementApi

__all__ = ["Outbox", "pong", "refuse", "replay"]

log = logging.getLogger(__name__)


class Outbox:
    """The frames of one message of one session."""

    def __init__(
        self,
        api: ManagementApi,
        frames: FrameLog,
        session_id: str,
        message_id: str,
        chunks: Optional[Coalescer] = None,
    ):
        self.api, self.frames = api, frames
        self.session_id, self.message_id = session_id, message_id
        self.chunks = chunks if chunks is not None else Coalescer(0)  # 0: every delta is a chunk
        self.connections: FrozenSet[str] = frozenset()  # attached as of the last frame
        self.cursor: Optional[int] = None  # the last frame's
        self.stop_asked = False  # the shopper stopped this message
        self.streamed: List[str] = []  # the chunk deltas posted, in order
        self._last_frame_at = time.monotonic()
        self._reserved: Optional[Head] = None  # the first status's cursor, taken at pickup
        self._lock = threading.Lock()  # heartbeats and chunks come from two threads: one frame at a time

    # --- the frames of a message -------------------------------------------------------

    @classmethod
    def open_session(
        cls,
        api: ManagementApi,
        frames: FrameLog,
        session_id: str,
        owner: str,
        connection_id: str,
        message_id: str,
        client_message_id: Optional[str],
        message: str,
    ) -> "Outbox":
        """A new session (``session_id`` from sessions.issue_session_id) whose first frame is this
        ack, holding the session's ack lease (give it back with ``end_ack``)."""
        outbox = cls(api, frames, session_id, message_id)
        head = frames.create(session_id, owner, connection_id, message_id)
        outbox._send(protocol.ack(message_id, session_id, client_message_id, message), head)
        return outbox

    def ack(self, owner: str, connection_id: str, client_message_id: Optional[str], message: str) -> int:
        """Ack in an existing session ``owner`` owns, attaching ``connection_id`` (InvalidSessionError
        if not), under the session's ack lease (give it back with ``end_ack``)."""
        head = self.frames.begin_ack(self.session_id, owner, connection_id, self.message_id)
        try:
            return self._send(protocol.ack(self.message_id, self.session_id, client_message_id, message), head)
        except Exception:
            self.end_ack()
            raise

    def end_ack(self) -> None:
        """The message is enqueued (or will not be): the session's next ack may go."""
        self.frames.end_ack(self.session_id, lease=self.message_id)

    def status(self, elapsed_ms: int) -> int:
        """A status at the cursor ``reserve`` kept for it, else at the next one."""
        head, self._reserved = self._reserved, None
        return self._send(protocol.status(self.message_id, elapsed_ms), head)

    def retrying(self, attempt: int, reason: str, retry_in_seconds: int) -> int:
        """Tell the shopper attempt ``attempt`` failed and when the next one starts."""
        return self._send(protocol.retrying(self.message_id, attempt, reason, retry_in_seconds), unfinished=True)

    def reserve(self, head: Head) -> None:
        """Keep ``head.cursor`` (taken by the pickup's write) for the first status."""
        self._reserved = head

    def release(self) -> None:
        """A reserved cursor no status used (another delivery answers the message) is filled with a
        ``skipped`` frame, so cursors stay contiguous without a resume waiting for it."""
        head, self._reserved = self._reserved, None
        if head is not None:
            text = protocol.encode(protocol.skipped(self.session_id, head.cursor))
            with self._lock:
                self._post(head.connections, self.frames.store(self.session_id, head.cursor, text) or text)

    def delta(self, text: str) -> Optional[int]:
        """One piece of reply text: the one place chunk deltas leave. The ``seq`` of the chunk
        posted, or None while the coalescer holds the text back."""
        return self._post_chunk(self.chunks.add(text))

    def flush(self) -> Optional[int]:
        """Post the text the coalescer still holds (before the response); its ``seq``, or None."""
        return self._post_chunk(self.chunks.finish())

    def _post_chunk(self, chunk) -> Optional[int]:
        if chunk is None:
            return None
        self._send(protocol.chunk(self.message_id, chunk.seq, chunk.text))
        self.streamed.append(chunk.text)
        return chunk.seq

    def response(self, content: str, products: List[Dict[str, Any]]) -> int:
        self.flush()
        return self._send(protocol.response(self.message_id, self.session_id, content, products), terminal=True)

    def stopped(self, head: Optional[Head] = None) -> int:
        """The terminal frame of a stopped reply: what was streamed so far (the held text flushed
        first); ``head``: its cursor already taken (a message stopped while queued)."""
        self.flush()
        frame = protocol.response(self.message_id, self.session_id, "".join(self.streamed), [], stopped=True)
        # Stopped while queued: the head keeps the message's tombstone until its pickup sees it.
        return self._send(frame, head, terminal=head is None)

    def error(self, code: protocol.ErrorCode, message: str) -> int:
        return self._send(protocol.error(code, message, self.message_id), terminal=True)

    def poll_stop(self, idle_seconds: float) -> bool:
        """Whether the shopper stopped this message: known from the last frame's head, else read
        once no frame went out for ``idle_seconds``."""
        if not self.stop_asked and time.monotonic() - self._last_frame_at >= idle_seconds:
            self.stop_asked = self.frames.stop_asked(self.session_id, self.message_id)
            self._last_frame_at = time.monotonic()
        return self.stop_asked

    # --- take a cursor, render, store, post ----------------------------------------------

    def _send(
        self, frame: Dict[str, Any], head: Optional[Head] = None, terminal: bool = False, unfinished: bool = False
    ) -> int:
        """Deliver the frame at the session's next cursor (or ``head``'s, already taken); how many
        connections got it (0 when the session is gone; ``unfinished``: or the message ended)."""
        with self._lock:
            while True:
                head = head or self.frames.take_cursor(self.session_id, self.message_id, terminal, unfinished)
                if head is None:
                    reason = "the session is gone, or a stop already ended the message"
                    logs.emit(
                        log, "not_sent", logging.WARNING, message_id=self.message_id, frame=frame["type"], reason=reason
                    )
                    return 0
                text = protocol.encode(protocol.with_cursor(frame, self.session_id, head.cursor))
                skip = self.frames.store(self.session_id, head.cursor, text)
                if skip is None:
                    return self._delivered(head, text)
                self._post(head.connections, skip)  # a resume skipped this cursor: its list gets the skip
                head = None

    def _delivered(self, head: Head, text: str) -> int:
        self.connections, self.cursor = head.connections, head.cursor
        self.stop_asked = self.stop_asked or head.messages.get(self.message_id) == STOPPING
        self._last_frame_at = time.monotonic()
        return self._post(head.connections, text)

    def _deliver(self, connection_id: str, text: str) -> str:
        try:
            return self.api.deliver(connection_id, text)
        except Exception as exc:
            # The frame is stored (a resume replays it); the log keeps why it did not go out.
            logs.emit(log, "post_failed", logging.ERROR, message_id=self.message_id, error=causes.cause(exc))
            raise

    def _post(self, connections: FrozenSet[str], text: str) -> int:
        outcomes: Dict[str, List[str]] = {SENT: [], GONE: [], BUSY: []}
        for connection_id in sorted(connections):
            outcomes[self._deliver(connection_id, text)].append(connection_id)
        if outcomes[BUSY]:
            logs.emit(log, "busy", session_id=self.session_id, message_id=self.message_id, connections=outcomes[BUSY])
        # Detached either way: a resume replays only what was taken before it attached.
        gone = outcomes[GONE] + outcomes[BUSY]
        if gone:
            self.frames.detach(self.session_id, gone)
            self.connections = self.connections - set(gone)
            logs.emit(log, "detached", session_id=self.session_id, message_id=self.message_id, connections=gone)
        return len(outcomes[SENT])


# --- frames that belong to no message --------------------------------------------------


def pong(api: ManagementApi, connection_id: str) -> bool:
    return api.try_post(connection_id, protocol.encode(protocol.pong()))


def refuse(
    api: ManagementApi,
    connection_id: str,
    code: protocol.ErrorCode,
    message: str,
    message_id: Optional[str] = None,
    retry_after_ms: Optional[int] = None,
) -> bool:
    """An error frame to one connection (``message_id`` when one was already assigned)."""
    return api.try_post(connection_id, protocol.encode(protocol.error(code, message, message_id, retry_after_ms)))


def replay(
    api: ManagementApi,
    connection_id: str,
    session_id: str,
    frames: Iterable[Tuple[int, str]],
    last: Optional[int] = None,
) -> int:
    """Post a resume's kept frames (``FrameLog.replay``) in order, then, with ``last`` (the
    last cursor replayed or already known), ``resumed``; how many were posted, -1 if the
    connection left. At a 429 (the client is not reading) it stops there, without
    ``resumed``: the rest stay kept, for the client's next resume."""
    posted = 0
    try:
        for _, text in frames:
            api.post(connection_id, text)
            posted += 1
        if last is not None:
            api.post(connection_id, protocol.encode(protocol.resumed(session_id, last)))
    except ConnectionGoneError:
        return -1
    except ConnectionBusyError:
        logs.emit(log, "replay_busy", connection_id=connection_id, session_id=session_id, posted=posted)
    return posted
