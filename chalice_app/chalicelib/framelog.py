"""A session's frame log: who gets each frame, exactly once, decided by one atomic write.

Exact because every decision is one UpdateItem on the session's head (``<id>#log`` in the
sessions table) and DynamoDB applies the updates of one item one at a time:
a writer takes cursor c with ``ADD cursor`` and, in the same response, the connections
attached at that instant; it stores the frame and posts it to exactly that list. An
attach records, for a connection not yet attached, the cursor L the head had (``if_not_exists``,
so a second attach keeps the first). Frames at or below L were taken before the attach, so
their lists lack the connection: a resume replays (after, L]. Frames above L were taken
after it, so their lists have it: they arrive live. A frame taken but not yet stored is
waited for (``STORE_WAIT_SECONDS``), then a ``skipped`` frame is stored in its place; the
writer whose store then fails posts that skip to its list and takes a new cursor.

The head also holds the owner, the ack lease (``pending``: acks and enqueues of a session
alternate, so the FIFO queue's order is the acked order) and ``msgs``: each acked message
that has not ended, ``q`` (queued), ``r`` (being answered), ``s`` (stop asked while being
answered) or ``x`` (stopped while queued, until its pickup sees it). The write that takes a
message's terminal cursor removes it; a stop of a queued message and its pickup are both
conditional on ``q``, so only one of them wins. Frames are one small item each in the frames table
(hash ``session_id``, range ``cursor``).
"""

import contextlib
import re
import secrets
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, FrozenSet, Iterable, Iterator, List, Optional, Tuple

from botocore.exceptions import ClientError

from chalicelib import aws
from chalicelib.errors import InvalidSessionError, SessionBusyError, ShoppingAssistantError
from chalicelib.framestore import FrameStore, lease_wait, missing_cursors

__all__ = [
    "Head",
    "FrameLog",
    "QUEUED",
    "RUNNING",
    "STOPPING",
    "STOPPED",
    "UNMARKED",
    "REDELIVERED",
    "NO_OWNER",
    "ACK_LEASE_SECONDS",
    "STORE_WAIT_SECONDS",
    "owner_of",
    "log_key",
    "lease_wait",
    "missing_cursors",
]

NO_OWNER = "-"  # the owner of a session made without auth (or with an API key): whoever holds the id
SUBJECT_OWNER_PREFIX = "s:"  # a signed token's subject as an owner (owner_of)
ACK_LEASE_SECONDS = 10  # how long an ack lease holds when it is not given back (the invocation died)
# How long a resume waits for a frame whose cursor was taken but not yet stored; then it is skipped.
STORE_WAIT_SECONDS = 2.0
QUEUED, RUNNING, STOPPING, STOPPED = "q", "r", "s", "x"
REDELIVERED = "redelivered"  # picked up again while (or after a crash while) being answered
UNMARKED = "unmarked"  # a message the head never had (queued by an older version): answered, not stoppable
_NAMES = {"#owner": "owner", "#ttl": "ttl", "#cursor": "cursor"}
_TOKEN = re.compile(r"[#:][A-Za-z0-9_]+")


def owner_of(subject: Optional[str]) -> str:
    """Who a session belongs to: ``s:<subject>`` for a signed token's subject, or (no auth, an
    API key) ``NO_OWNER``, the holder of the id. A subject never holds ``:``
    (auth.SUBJECT_PATTERN), so no subject, not even ``-``, can name the no-subject owner."""
    return f"{SUBJECT_OWNER_PREFIX}{subject}" if subject else NO_OWNER


def log_key(session_id: str) -> str:
    return f"{session_id}#log"


@dataclass(frozen=True)
class Head:
    """A session's head as one write (or read) returned it."""

    session_id: str
    owner: str
    cursor: int  # the last cursor taken (by the write that returned this head: that frame's)
    attached: Dict[str, int] = field(default_factory=dict)  # connection id -> the cursor when it attached
    messages: Dict[str, str] = field(default_factory=dict)  # message id -> QUEUED, RUNNING or STOPPING
    expires: int = 0

    @property
    def connections(self) -> FrozenSet[str]:
        return frozenset(self.attached)

    @classmethod
    def from_item(cls, session_id: str, item: Dict[str, Any]) -> "Head":
        return cls(
            session_id=session_id,
            owner=item.get("owner", {}).get("S", NO_OWNER),
            cursor=int(item.get("cursor", {}).get("N", "0")),
            attached={conn: int(value["N"]) for conn, value in item.get("conns", {}).get("M", {}).items()},
            messages={mid: value["S"] for mid, value in item.get("msgs", {}).get("M", {}).items()},
            expires=int(item.get("ttl", {}).get("N", "0")),
        )

    def usable_by(self, owner: Optional[str], now: float) -> bool:
        return self.expires > now and (owner is None or secrets.compare_digest(self.owner, owner))


class FrameLog:
    """Heads (``<id>#log`` in the sessions table) and kept frames (the frames table)."""

    def __init__(self, table_name: str, frames_table: str, ttl_seconds: int, window_seconds: int, client: Any = None):
        self.table_name, self.frames_table = table_name, frames_table
        self.ttl_seconds, self.window_seconds = ttl_seconds, window_seconds
        self._client = client
        self.frames = FrameStore(frames_table, ttl_seconds, window_seconds, lambda: self.client)

    @classmethod
    def from_settings(cls, config: Any) -> "FrameLog":
        ttl = max(config.session_ttl_seconds, config.resume_window_seconds)
        return cls(config.sessions_table, config.frames_table, ttl, config.resume_window_seconds)

    @property
    def client(self) -> Any:
        return self._client or aws.client("dynamodb")

    # --- the head ------------------------------------------------------------------------

    def _update(self, session_id: str, expression: str, condition: str, names=None, values=None) -> Dict[str, Any]:
        """One conditional UpdateItem on the head: the new item, or ``HeadConditionError`` with the old one."""
        used = set(_TOKEN.findall(expression + " " + condition))
        names = {key: value for key, value in {**_NAMES, **(names or {})}.items() if key in used}
        values = {key: value for key, value in (values or {}).items() if key in used}
        try:
            return self.client.update_item(
                TableName=self.table_name,
                Key={"session_id": {"S": log_key(session_id)}},
                UpdateExpression=expression,
                ConditionExpression=condition,
                ReturnValues="ALL_NEW",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
                **({"ExpressionAttributeNames": names} if names else {}),
                **({"ExpressionAttributeValues": values} if values else {}),
            )["Attributes"]
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
            raise HeadConditionError(exc.response.get("Item") or {}) from None

    def read(self, session_id: str) -> Optional[Head]:
        """The head as it is now (a consistent read), or None when there is none or it expired."""
        item = self.client.get_item(
            TableName=self.table_name, Key={"session_id": {"S": log_key(session_id)}}, ConsistentRead=True
        ).get("Item")
        head = Head.from_item(session_id, item) if item else None
        return head if head and head.expires > time.time() else None

    def create(self, session_id: str, owner: str, connection_id: str, message_id: str) -> Head:
        """A new session whose first frame (cursor 1) is ``message_id``'s ack, holding the ack lease."""
        now = int(time.time())
        item = {
            "session_id": {"S": log_key(session_id)},
            "owner": {"S": owner},
            "cursor": {"N": "1"},
            "conns": {"M": {connection_id: {"N": "0"}}},
            "msgs": {"M": {message_id: {"S": QUEUED}}},
            "ttl": {"N": str(now + self.ttl_seconds)},
            "pending": {"S": message_id},
            "pending_until": {"N": str(now + ACK_LEASE_SECONDS)},
        }
        # attribute_not_exists: a random 128-bit id never collides, but a put must never take over a log.
        self.client.put_item(
            TableName=self.table_name, Item=item, ConditionExpression="attribute_not_exists(session_id)"
        )
        return Head.from_item(session_id, item)

    def begin_ack(self, session_id: str, owner: str, connection_id: str, message_id: str) -> Head:
        """Attach ``connection_id``, take the ack lease and the ack's cursor, and mark the message
        queued, in one write; waits while another ack holds the lease. InvalidSessionError for an
        id ``owner`` may not use; SessionBusyError if the lease stays taken past ACK_LEASE_SECONDS + 1."""
        deadline, attempt = time.monotonic() + ACK_LEASE_SECONDS + 1, 0
        while True:
            now = int(time.time())
            try:
                return Head.from_item(session_id, self._begin_ack(session_id, owner, connection_id, message_id, now))
            except HeadConditionError as refused:
                if not refused.head(session_id).usable_by(owner, now):
                    raise InvalidSessionError(session_id) from None
            if time.monotonic() > deadline:
                raise SessionBusyError(session_id)
            time.sleep(lease_wait(attempt))
            attempt += 1

    def _begin_ack(self, session_id: str, owner: str, connection_id: str, message_id: str, now: int):
        return self._update(
            session_id,
            "SET conns.#conn = if_not_exists(conns.#conn, #cursor), msgs.#msg = :q, #ttl = :ttl,"
            " pending = :lease, pending_until = :until ADD #cursor :one",
            "attribute_exists(session_id) AND #owner = :owner AND #ttl > :now"
            " AND (attribute_not_exists(pending) OR pending_until < :now)",
            {"#conn": connection_id, "#msg": message_id},
            {
                ":q": {"S": QUEUED},
                ":one": {"N": "1"},
                ":owner": {"S": owner},
                ":now": {"N": str(now)},
                ":ttl": {"N": str(now + self.ttl_seconds)},
                ":lease": {"S": message_id},
                ":until": {"N": str(now + ACK_LEASE_SECONDS)},
            },
        )

    def end_ack(self, session_id: str, lease: str) -> None:
        """Give the ack lease back (the message is enqueued, or will not be); a lapsed one is fine."""
        with contextlib.suppress(HeadConditionError):
            self._update(
                session_id, "REMOVE pending, pending_until", "pending = :lease", values={":lease": {"S": lease}}
            )

    def attach(self, session_id: str, owner: str, connection_id: str) -> Head:
        """Attach ``connection_id`` (resume, ``?session_id=``): ``head.attached[connection_id]`` is the
        cursor it attached at (the first attach's, if it already was). InvalidSessionError for an id
        ``owner`` may not use."""
        try:
            item = self._update(
                session_id,
                "SET conns.#conn = if_not_exists(conns.#conn, #cursor)",
                "attribute_exists(session_id) AND #owner = :owner AND #ttl > :now",
                {"#conn": connection_id},
                {":owner": {"S": owner}, ":now": {"N": str(int(time.time()))}},
            )
        except HeadConditionError:
            raise InvalidSessionError(session_id) from None
        return Head.from_item(session_id, item)

    def detach(self, session_id: str, connection_ids: Iterable[str]) -> None:
        """Detach connections that left (410, $disconnect); a missing head is fine."""
        gone = sorted(set(connection_ids))
        if not gone:
            return
        names = {f"#c{index}": conn for index, conn in enumerate(gone)}
        with contextlib.suppress(HeadConditionError):
            self._update(
                session_id,
                "REMOVE " + ", ".join(f"conns.{name}" for name in names),
                "attribute_exists(session_id)",
                names,
            )

    def take_cursor(
        self, session_id: str, message_id: str, terminal: bool = False, unfinished: bool = False
    ) -> Optional[Head]:
        """Take the session's next cursor for a frame of ``message_id`` (its terminal frame ends the
        message); the head after it, or None when the session is gone or, for a terminal frame,
        the message already ended by a stop while it was queued (that stop posted its terminal).
        ``unfinished``: only while the message has not ended (a ``retrying`` status never follows
        the terminal frame another delivery took)."""
        condition = "attribute_exists(session_id)"
        if terminal:
            condition += " AND (attribute_not_exists(msgs.#msg) OR msgs.#msg <> :x)"
        if unfinished:
            condition += " AND msgs.#msg IN (:q, :r, :s)"
        try:
            item = self._update(
                session_id,
                "ADD #cursor :one" + (" REMOVE msgs.#msg" if terminal else ""),
                condition,
                {"#msg": message_id},
                {
                    ":one": {"N": "1"},
                    ":x": {"S": STOPPED},
                    ":q": {"S": QUEUED},
                    ":r": {"S": RUNNING},
                    ":s": {"S": STOPPING},
                },
            )
        except HeadConditionError:
            return None
        return Head.from_item(session_id, item)

    def start(
        self, session_id: str, message_id: str, owner: Optional[str], take_cursor: bool = True
    ) -> Tuple[Optional[Head], str]:
        """chat_processor's pickup: mark the message being answered. Returns (head, state):
        (head, RUNNING) answer it (``take_cursor``: ``head.cursor`` is its first status's); (head, UNMARKED)
        answer it (not stoppable); (head, REDELIVERED) picked up again, answer it (no cursor
        taken: the idempotency claim decides who runs it); (head, STOPPING) a stop came while an earlier delivery
        answered it; (head, STOPPED) it was stopped while queued (``forget_stopped`` once that is
        recorded); (None, "invalid") the session is gone or not ``owner``'s."""
        now = int(time.time())
        try:
            item = self._update(
                session_id,
                "SET msgs.#msg = :r" + (" ADD #cursor :one" if take_cursor else ""),
                "attribute_exists(session_id) AND #ttl > :now AND msgs.#msg = :q"
                + (" AND #owner = :owner" if owner is not None else ""),
                {"#msg": message_id},
                {
                    ":r": {"S": RUNNING},
                    ":q": {"S": QUEUED},
                    ":one": {"N": "1"},
                    ":now": {"N": str(now)},
                    ":owner": {"S": owner or ""},
                },
            )
        except HeadConditionError as refused:
            head = refused.head(session_id)
            if not head.usable_by(owner, now):
                return None, "invalid"
            state = head.messages.get(message_id, UNMARKED)
            return head, (REDELIVERED if state == RUNNING else state)
        return Head.from_item(session_id, item), RUNNING

    def forget_stopped(self, session_id: str, message_id: str) -> None:
        """Remove the tombstone of a message stopped while queued (its pickup has recorded the end)."""
        with contextlib.suppress(HeadConditionError):
            self._update(session_id, "REMOVE msgs.#msg", "msgs.#msg = :x", {"#msg": message_id}, {":x": {"S": STOPPED}})

    def stop(self, session_id: str, owner: str, message_id: str) -> Tuple[str, Optional[Head]]:
        """Ask ``message_id`` to stop. ("queued", head): it never runs, and ``head.cursor`` is taken
        for its stopped terminal frame; ("running", None): its worker ends it at its next boundary;
        ("stopping", None): asked already; ("not_running", None): ended or unknown.
        InvalidSessionError for a session ``owner`` may not use."""
        now = int(time.time())
        owned = "attribute_exists(session_id) AND #owner = :owner AND #ttl > :now"
        values = {":owner": {"S": owner}, ":now": {"N": str(now)}}
        names = {"#msg": message_id}
        try:
            item = self._update(
                session_id,
                "ADD #cursor :one SET msgs.#msg = :x",
                owned + " AND msgs.#msg = :q",
                names,
                {**values, ":one": {"N": "1"}, ":q": {"S": QUEUED}, ":x": {"S": STOPPED}},
            )
            return "queued", Head.from_item(session_id, item)
        except HeadConditionError as refused:
            head = refused.head(session_id)
        if not head.usable_by(owner, now):
            raise InvalidSessionError(session_id)
        state = head.messages.get(message_id)
        if state != RUNNING:
            return ("stopping" if state == STOPPING else "not_running"), None
        try:
            self._update(
                session_id,
                "SET msgs.#msg = :s",
                owned + " AND msgs.#msg = :r",
                names,
                {**values, ":s": {"S": STOPPING}, ":r": {"S": RUNNING}},
            )
        except HeadConditionError:
            return self.stop(session_id, owner, message_id)  # it ended (or was stopped) meanwhile
        return "running", None

    def stop_asked(self, session_id: str, message_id: str) -> bool:
        """Whether a stop of ``message_id`` is pending (a consistent read of that one attribute)."""
        item = (
            self.client.get_item(
                TableName=self.table_name,
                Key={"session_id": {"S": log_key(session_id)}},
                ProjectionExpression="msgs.#msg",
                ExpressionAttributeNames={"#msg": message_id},
                ConsistentRead=True,
            ).get("Item")
            or {}
        )
        return item.get("msgs", {}).get("M", {}).get(message_id, {}).get("S") == STOPPING

    # --- the frames (framestore) -----------------------------------------------------------

    def store(self, session_id: str, cursor: int, text: str) -> Optional[str]:
        """Store the frame at the cursor its writer took: None, or the ``skipped`` frame a resume stored first."""
        return self.frames.store(session_id, cursor, text)

    def replay(
        self, session_id: str, after: int, upto: int, skipped_text: Callable[[int], str]
    ) -> List[Tuple[int, str]]:
        """The kept frames in (after, upto], a cursor never stored replaced by ``skipped_text(cursor)``."""
        return self.frames.replay(session_id, after, upto, skipped_text, STORE_WAIT_SECONDS)

    def replay_lazily(
        self, session_id: str, after: int, upto: int, skipped_text: Callable[[int], str]
    ) -> Iterator[Tuple[int, str]]:
        """``replay``'s frames, read a page at a time as they are consumed (``FrameStore.replay_pages``)."""
        for page in self.frames.replay_pages(session_id, after, upto, skipped_text, STORE_WAIT_SECONDS):
            yield from page


class HeadConditionError(ShoppingAssistantError):
    """A conditional write on the head failed; ``item`` is the head before it (may be empty)."""

    def __init__(self, item: Dict[str, Any]):
        super().__init__("condition failed")
        self.item = item

    def head(self, session_id: str) -> Head:
        return Head.from_item(session_id, self.item)
