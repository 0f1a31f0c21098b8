"""How frames leave the server: the only place that builds and encodes them.

``Outbox`` is one message's: its ack, status heartbeats, chunks and its one
terminal frame (``response`` or ``error``). Each frame gets the session's next
``cursor`` from the same DynamoDB write that stores it for ``resume``
(``sessions.SessionLog``), then is posted, in cursor order, to every connection
attached to the session; a connection that answers 410 is detached and the
message goes on (its frames stay kept for a resume). The ack is sent under the
session's ack lease, which ``end_ack`` gives back once the message is enqueued.

The attached connections are read again before a frame when the list is older than
``sessions.CONNECTIONS_FRESH_SECONDS``; with the ``gen`` each frame records, that is
what lets a resume get every frame exactly once (the rule is in ``sessions``). ``delta`` is the single
place chunk text goes out: its ``coalesce.Coalescer`` decides which deltas are
joined into one ``chunk`` (``CHUNK_FLUSH_MS``), and ``flush`` posts what is left
before the response.

The module functions answer one connection with a frame that belongs to no
message: ``pong``, ``refuse`` (an error), and ``replay`` (a resume's kept frames,
then ``resumed``).
"""

import logging
import threading
import time
from dataclasses import replace
from typing import Any, Dict, List, Optional, Tuple

from chalicelib import logs, protocol
from chalicelib.coalesce import Coalescer
from chalicelib.management import ConnectionGoneError, ManagementApi
from chalicelib.sessions import LogSnapshot, SessionLog, is_fresh

__all__ = ["Outbox", "pong", "refuse", "replay"]

log = logging.getLogger(__name__)


class Outbox:
    """The frames of one message of one session."""

    def __init__(
        self,
        api: ManagementApi,
        sessions: SessionLog,
        session_id: str,
        message_id: str,
        snapshot: Optional[LogSnapshot] = None,
        chunks: Optional[Coalescer] = None,
    ):
        self.api, self.sessions = api, sessions
        self.session_id, self.message_id = session_id, message_id
        self._snapshot = snapshot
        self._last = ""  # the encoded frame stored last
        self.chunks = chunks if chunks is not None else Coalescer(0)  # 0: every delta is a chunk
        self._lock = threading.Lock()  # heartbeats and chunks come from two threads: one cursor at a time

    @property
    def connections(self) -> frozenset:
        """The connections attached to the session as of the last frame."""
        return self._snapshot.connections if self._snapshot else frozenset()

    @property
    def cursor(self) -> Optional[int]:
        """The cursor of the last frame stored."""
        return self._snapshot.cursor if self._snapshot else None

    # --- the frames of a message -------------------------------------------------------

    @classmethod
    def open_session(
        cls,
        api: ManagementApi,
        sessions: SessionLog,
        session_id: str,
        owner: str,
        connection_id: str,
        message_id: str,
        client_message_id: Optional[str],
    ) -> "Outbox":
        """A new session (``session_id`` from sessions.issue_session_id) whose first frame is this
        ack, holding the session's ack lease (give it back with ``end_ack``)."""
        outbox = cls(api, sessions, session_id, message_id)
        frame = protocol.ack(message_id, outbox.session_id, client_message_id)
        with outbox._lock:
            outbox._snapshot, outbox._last = sessions.create(
                outbox.session_id, owner, outbox._render(frame), connection_id, lease=message_id
            )
            outbox._post_latest()
        return outbox

    def ack(self, owner: str, connection_id: str, client_message_id: Optional[str]) -> int:
        """Ack in an existing session ``owner`` owns, attaching ``connection_id`` (InvalidSessionError
        if not), under the session's ack lease (give it back with ``end_ack``)."""
        self._snapshot = self.sessions.begin_ack(self.session_id, owner, connection_id, lease=self.message_id)
        try:
            return self._send(protocol.ack(self.message_id, self.session_id, client_message_id))
        except Exception:
            self.end_ack()
            raise

    def end_ack(self) -> None:
        """The message is enqueued (or will not be): the session's next ack may go."""
        self.sessions.end_ack(self.session_id, lease=self.message_id)

    def status(self, elapsed_ms: int) -> int:
        return self._send(protocol.status(self.message_id, elapsed_ms))

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
        return chunk.seq

    def response(self, content: str, products: List[Dict[str, Any]]) -> int:
        self.flush()
        return self._send(protocol.response(self.message_id, self.session_id, content, products))

    def error(self, code: protocol.ErrorCode, message: str) -> int:
        return self._send(protocol.error(code, message, self.message_id))

    # --- storing and posting -------------------------------------------------------------

    def _render(self, frame: Dict[str, Any]):
        return lambda cursor: protocol.encode(protocol.with_cursor(frame, self.session_id, cursor))

    def _send(self, frame: Dict[str, Any]) -> int:
        """Store the frame at the next cursor, post it to the attached connections; how many got it."""
        with self._lock:
            if self._snapshot is None:
                self._snapshot = self.sessions.read(self.session_id)
                if self._snapshot is None:
                    raise ValueError(f"session {self.session_id} has no log")
            elif not is_fresh(self._snapshot.read_at, time.monotonic()):
                self._read_connections()
            self._snapshot, self._last = self.sessions.append(self._snapshot, self._render(frame))
            return self._post_latest()

    def _read_connections(self) -> None:
        """Read the attached connections (and the head's gen) again, keeping the cursor."""
        snapshot = self._snapshot
        assert snapshot is not None
        head = self.sessions.read(self.session_id)
        if head is None:  # the session expired meanwhile: its frames are still kept, posted to none
            self._snapshot = replace(snapshot, connections=frozenset(), read_at=time.monotonic())
        else:
            self._snapshot = replace(head, cursor=snapshot.cursor)

    def _post_latest(self) -> int:
        snapshot = self._snapshot
        assert snapshot is not None
        delivered, gone = 0, []
        for connection_id in sorted(snapshot.connections):
            if self.api.try_post(connection_id, self._last):
                delivered += 1
            else:
                gone.append(connection_id)
        self._detach(gone)
        return delivered

    def _detach(self, gone: List[str]) -> None:
        if gone:
            self.sessions.detach(self.session_id, gone)
            self._snapshot = self._snapshot.without(gone)
            logs.emit(log, "detached", session_id=self.session_id, message_id=self.message_id, connections=gone)


# --- frames that belong to no message --------------------------------------------------


def pong(api: ManagementApi, connection_id: str) -> bool:
    return api.try_post(connection_id, protocol.encode(protocol.pong()))


def refuse(
    api: ManagementApi, connection_id: str, code: protocol.ErrorCode, message: str, message_id: Optional[str] = None
) -> bool:
    """An error frame to one connection (``message_id`` when one was already assigned)."""
    return api.try_post(connection_id, protocol.encode(protocol.error(code, message, message_id)))


def replay(
    api: ManagementApi,
    connection_id: str,
    session_id: str,
    frames: List[Tuple[int, str]],
    last: Optional[int] = None,
) -> int:
    """Post a resume's kept frames (``SessionLog.replay``) in order, then, with ``last`` (the
    last cursor replayed or already known), ``resumed``; how many were posted, -1 if the
    connection left."""
    try:
        for _, text in frames:
            api.post(connection_id, text)
        if last is not None:
            api.post(connection_id, protocol.encode(protocol.resumed(session_id, last)))
    except ConnectionGoneError:
        return -1
    return len(frames)
