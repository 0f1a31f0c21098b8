"""How frames leave the server: the only place that builds and encodes them.

``Outbox`` is one message's: its ack, status heartbeats, chunks and its one
terminal frame (``response`` or ``error``). Each frame gets the session's next
``cursor`` and is stored for ``resume`` in the same DynamoDB write
(``sessions.SessionLog``), then posted, in cursor order, to every connection
attached to the session; a connection that answers 410 is detached and the
message goes on (its frames stay kept for a resume). ``delta`` is the single
place chunk text goes out (a coalescer plugs in there).

The module functions answer one connection with a frame that belongs to no
message: ``pong``, ``refuse`` (an error), and ``replay`` (a resume's kept frames,
then ``resumed``).
"""

import logging
import threading
from typing import Any, Dict, List, Optional

from chalicelib import logs, protocol
from chalicelib.management import ConnectionGoneError, ManagementApi
from chalicelib.sessions import LogSnapshot, SessionLog, issue_session_id, replay_after

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
    ):
        self.api, self.sessions = api, sessions
        self.session_id, self.message_id = session_id, message_id
        self._snapshot = snapshot
        self._seq = 0  # chunk numbers within the message
        self._lock = threading.Lock()  # heartbeats and chunks come from two threads: one cursor at a time

    @property
    def connections(self) -> frozenset:
        """The connections attached to the session as of the last frame."""
        return self._snapshot.connections if self._snapshot else frozenset()

    # --- the frames of a message -------------------------------------------------------

    @classmethod
    def open_session(
        cls,
        api: ManagementApi,
        sessions: SessionLog,
        owner: str,
        connection_id: str,
        message_id: str,
        client_message_id: Optional[str],
    ) -> "Outbox":
        """A new session (a server-issued id) whose first frame is this message's ack."""
        outbox = cls(api, sessions, issue_session_id(), message_id)
        frame = protocol.ack(message_id, outbox.session_id, client_message_id)
        with outbox._lock:
            outbox._snapshot = sessions.create(outbox.session_id, owner, outbox._render(frame), connection_id)
            outbox._post_latest()
        return outbox

    def ack(self, owner: str, connection_id: str, client_message_id: Optional[str]) -> int:
        """Ack in an existing session ``owner`` owns, attaching ``connection_id`` (InvalidSessionError if not)."""
        if self._snapshot is None:
            self._snapshot = self.sessions.open(self.session_id, owner)
        frame = protocol.ack(self.message_id, self.session_id, client_message_id)
        return self._send(frame, owner=owner, attach=connection_id)

    def status(self, elapsed_ms: int) -> int:
        return self._send(protocol.status(self.message_id, elapsed_ms))

    def delta(self, text: str) -> int:
        """One piece of reply text as a ``chunk``: the one place chunk deltas leave."""
        frame = protocol.chunk(self.message_id, self._seq, text)
        self._seq += 1
        return self._send(frame)

    def response(self, content: str, products: List[Dict[str, Any]]) -> int:
        return self._send(protocol.response(self.message_id, self.session_id, content, products))

    def error(self, code: protocol.ErrorCode, message: str) -> int:
        return self._send(protocol.error(code, message, self.message_id))

    # --- storing and posting -------------------------------------------------------------

    def _render(self, frame: Dict[str, Any]):
        return lambda cursor: protocol.encode(protocol.with_cursor(frame, self.session_id, cursor))

    def _send(self, frame: Dict[str, Any], owner: Optional[str] = None, attach: Optional[str] = None) -> int:
        """Store the frame at the next cursor, post it to the attached connections; how many got it."""
        with self._lock:
            snapshot = self._snapshot or self.sessions.read(self.session_id)
            if snapshot is None:
                raise ValueError(f"session {self.session_id} has no log")
            self._snapshot = self.sessions.append(snapshot, self._render(frame), owner=owner, attach=attach)
            return self._post_latest()

    def _post_latest(self) -> int:
        snapshot = self._snapshot
        assert snapshot is not None
        text = snapshot.frames[snapshot.cursor]
        delivered, gone = 0, []
        for connection_id in sorted(snapshot.connections):
            if self.api.try_post(connection_id, text):
                delivered += 1
            else:
                gone.append(connection_id)
        if gone:
            self.sessions.detach(self.session_id, gone)
            self._snapshot = _without(snapshot, gone)
            logs.emit(log, "detached", session_id=self.session_id, message_id=self.message_id, connections=gone)
        return delivered


def _without(snapshot: LogSnapshot, gone: List[str]) -> LogSnapshot:
    return LogSnapshot(
        snapshot.session_id,
        snapshot.owner,
        snapshot.cursor,
        snapshot.connections - set(gone),
        snapshot.frames,
        snapshot.kept_at,
    )


# --- frames that belong to no message --------------------------------------------------


def pong(api: ManagementApi, connection_id: str) -> bool:
    return api.try_post(connection_id, protocol.encode(protocol.pong()))


def refuse(
    api: ManagementApi, connection_id: str, code: protocol.ErrorCode, message: str, message_id: Optional[str] = None
) -> bool:
    """An error frame to one connection (``message_id`` when one was already assigned)."""
    return api.try_post(connection_id, protocol.encode(protocol.error(code, message, message_id)))


def replay(api: ManagementApi, connection_id: str, snapshot: LogSnapshot, after: int) -> int:
    """Post the kept frames with cursor > ``after`` in order, then ``resumed``; how many were replayed.

    ``resumed`` carries the last cursor of the snapshot: what was replayed or already known.
    """
    frames = replay_after(snapshot.frames, after)
    try:
        for _, text in frames:
            api.post(connection_id, text)
        api.post(connection_id, protocol.encode(protocol.resumed(snapshot.session_id, max(snapshot.cursor, 0))))
    except ConnectionGoneError:
        return -1
    return len(frames)
