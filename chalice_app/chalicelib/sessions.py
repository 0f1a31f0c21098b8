"""Sessions in DynamoDB: the conversation state, and the frame log that ``resume`` replays.

In the sessions table (its one hash key ``session_id``), two items per session:

``<id>`` (``SessionState``, ``SessionStore``)
    what a follow-up needs: the products last shown (so "the second one" means
    something), the active search, the cart, a capped history and the last turn
    (so a retried message replays its reply instead of, say, adding to the cart
    twice). Turns of one session run one at a time (the FIFO queue's message
    group is the session), so a plain put is safe.

``<id>#log`` (``SessionLog``, ``LogSnapshot``): the log's small head
    who owns the session, the connections attached to it, and, while a message is
    being acked and enqueued, the *ack lease* (``pending``). Created by the ack of a
    session's first message, so an id without a head was never issued.

In the frames table (hash key ``session_id``, sort key ``cursor``), one item per frame:
its encoded text, when it was stored and the ``gen`` below. A frame's cursor is taken by the write that
stores it: a ``PutItem`` with ``attribute_not_exists``, so two writers (the gateway
acking a new message while chat_processor streams the previous one) can never take
the same cursor; the loser reads the latest cursor and tries the next one. One write
per frame, of one small item, whatever the session's length (a write costs a WCU per
KB of the item written).

Who gets a frame, exactly once: the writer posts it to the connections attached as of
its last read of the head, which it reads again when that is older than
``CONNECTIONS_FRESH_SECONDS``, and the frame item records that read's ``gen``. Every
``attach`` (resume, ``?session_id=``) adds 1 to the head's ``gen``; a resume whose attach
made ``gen`` G replays the kept frames with ``gen`` < G (those with G or more were
posted to it live), and reads the frames once more ``RESUME_CATCH_UP_SECONDS`` after
attaching for the ones stored since by a writer whose list still predated the attach
(no writer's list is older than CONNECTIONS_FRESH_SECONDS when it stores a frame).

Order of turns: SQS FIFO keeps a session's messages in the order they were *sent to
the queue*. Two sendMessage frames of one session can be handled at the same time
by two gateway invocations; each takes the head's ack lease (a conditional write)
before its ack and gives it back once its message is enqueued, so acks and enqueues
of a session alternate and the queue's order is the acked order. A lease that is
not given back (the invocation died) lapses after ``ACK_LEASE_SECONDS``.

``ttl`` lets DynamoDB delete idle items; an item past its ttl that DynamoDB has not
deleted yet is treated as gone (for a head: ``invalid_session``). Frames are replayed
for ``RESUME_WINDOW_SECONDS`` and their items live as long as the session, so the
latest cursor is never forgotten while the id is valid.
"""

import secrets
import time
from dataclasses import asdict, dataclass, field, fields, replace
from decimal import Decimal
from typing import Any, Callable, Dict, FrozenSet, Iterable, List, Optional, Tuple

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from chalicelib import aws
from chalicelib.errors import InvalidSessionError, SessionBusyError

__all__ = [
    "SessionState",
    "SessionStore",
    "SessionLog",
    "LogSnapshot",
    "USER_TEXT_LIMIT",
    "ASSISTANT_TEXT_LIMIT",
    "SESSION_ID_BYTES",
    "NO_OWNER",
    "issue_session_id",
    "owner_of",
    "log_key",
    "replayable",
    "lease_wait",
    "is_fresh",
    "ACK_LEASE_SECONDS",
    "CONNECTIONS_FRESH_SECONDS",
    "RESUME_CATCH_UP_SECONDS",
]

# 128 bits from the OS's CSPRNG: an id nobody can guess (token_urlsafe: 22 characters of A-Z a-z 0-9 _ -).
SESSION_ID_BYTES = 16
# The owner of a session made without auth (or with an API key): whoever holds the id.
NO_OWNER = "-"
# Writers that lose the race for a cursor retry; a few at most in practice (two writers per session).
_MAX_CURSOR_ATTEMPTS = 50
# How long an ack lease holds when it is not given back (the gateway invocation died).
ACK_LEASE_SECONDS = 10
# How old a writer's list of attached connections may be when it stores a frame.
CONNECTIONS_FRESH_SECONDS = 0.2
# When a resume reads the frames again after attaching: later than any frame stored with a
# list from before the attach (CONNECTIONS_FRESH_SECONDS, and the store's own time), and
# well before a client gives up waiting for a gap (GAP_WAIT in the clients: 1.5 s).
RESUME_CATCH_UP_SECONDS = 0.6
# The encoded frame for a given cursor (the outbox's; this module never builds frames).
Render = Callable[[int], str]

# History entries are for context, not an archive: keep items far below DynamoDB's 400 KB.
USER_TEXT_LIMIT = 1000
ASSISTANT_TEXT_LIMIT = 2000

_serializer, _deserializer = TypeSerializer(), TypeDeserializer()


@dataclass
class SessionState:
    session_id: str
    last_result_ids: List[str] = field(default_factory=list)  # what "the second one" refers to
    filters: Optional[Dict[str, Any]] = None  # the active search (a SearchRequest as a dict)
    cart: Dict[str, int] = field(default_factory=dict)  # product id -> quantity
    history: List[Dict[str, Any]] = field(default_factory=list)  # turns, oldest first
    focus_id: Optional[str] = None  # the product "it" means
    pending: Optional[Dict[str, Any]] = None  # a loosened search offered after a no-match
    last_turn: Optional[Dict[str, Any]] = None  # {"message_id", "content", "product_ids"}
    created_at: int = 0
    updated_at: int = 0

    def record_turn(self, user: str, content: str, product_ids: List[str], message_id: Optional[str]) -> None:
        self.history.append(
            {
                "user": user[:USER_TEXT_LIMIT],
                "assistant": content[:ASSISTANT_TEXT_LIMIT],
                "product_ids": list(product_ids),
                "at": int(time.time()),
            }
        )
        self.last_turn = {"message_id": message_id, "content": content, "product_ids": list(product_ids)}

    def replay_of(self, message_id: Optional[str]) -> Optional[Dict[str, Any]]:
        """The recorded reply when this message was already answered (a retried delivery)."""
        if message_id and self.last_turn and self.last_turn.get("message_id") == message_id:
            return self.last_turn
        return None


class SessionStore:
    def __init__(self, table_name: str, ttl_seconds: int, history_limit: int, client: Any = None):
        self.table_name, self.ttl_seconds, self.history_limit = table_name, ttl_seconds, history_limit
        self._client = client

    @property
    def client(self) -> Any:
        return self._client or aws.client("dynamodb")

    def load(self, session_id: str) -> SessionState:
        # Consistent: the next message of a chat must see what the previous one saved.
        item = self.client.get_item(
            TableName=self.table_name, Key={"session_id": {"S": session_id}}, ConsistentRead=True
        ).get("Item")
        now = int(time.time())
        if not item:
            return SessionState(session_id=session_id, created_at=now)
        data = _from_dynamodb({name: _deserializer.deserialize(value) for name, value in item.items()})
        if int(data.get("ttl") or 0) <= now:
            return SessionState(session_id=session_id, created_at=now)
        known = {spec.name for spec in fields(SessionState)}
        state = SessionState(**{name: value for name, value in data.items() if name in known})
        state.cart = {product_id: int(quantity) for product_id, quantity in (state.cart or {}).items()}
        return state

    def save(self, state: SessionState) -> None:
        now = int(time.time())
        state.updated_at = now
        state.history = state.history[-self.history_limit :]
        data = asdict(state)
        data["ttl"] = now + self.ttl_seconds
        item = {name: _serializer.serialize(value) for name, value in _to_dynamodb(data).items()}
        self.client.put_item(TableName=self.table_name, Item=item)


def _to_dynamodb(value: Any) -> Any:
    """DynamoDB numbers are Decimals; floats go through str() so 79.99 stays 79.99."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, float):
        return Decimal(str(value))
    if isinstance(value, dict):
        return {key: _to_dynamodb(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_to_dynamodb(item) for item in value]
    return value


def _from_dynamodb(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {key: _from_dynamodb(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_from_dynamodb(item) for item in value]
    return value


# --- session ids, owners and the frame log -----------------------------------------------


def issue_session_id() -> str:
    """A new session id: 128 random bits, URL-safe base64 (matches protocol.SESSION_ID_PATTERN)."""
    return secrets.token_urlsafe(SESSION_ID_BYTES)


def owner_of(subject: Optional[str]) -> str:
    """Who a session belongs to: the token subject, or (no auth) the holder of the id."""
    return subject or NO_OWNER


def log_key(session_id: str) -> str:
    return f"{session_id}#log"


def replayable(
    stored: Iterable[Tuple[int, int, int, str]],
    after: int,
    now: float,
    window_seconds: int,
    gen: Optional[int] = None,
) -> List[Tuple[int, str]]:
    """(cursor, text) of the stored (cursor, stored_at, gen, text) frames that a resume after
    ``after`` whose attach made the head's gen ``gen`` replays: cursor > ``after``, stored within
    the window, and posted with a list of connections older than the attach (``gen`` None:
    whatever list); in cursor order."""
    oldest = now - window_seconds
    return sorted(
        (cursor, text)
        for cursor, at, frame_gen, text in stored
        if cursor > after and at >= oldest and (gen is None or frame_gen < gen)
    )


def lease_wait(attempt: int) -> float:
    """Seconds to wait before trying again for a held ack lease: 5 ms, doubling up to 50 ms
    (a lease is held for the few milliseconds of one ack and one SendMessage)."""
    return min(0.005 * (2**attempt), 0.05)


def is_fresh(read_at: float, now: float, fresh_seconds: float = CONNECTIONS_FRESH_SECONDS) -> bool:
    """Whether a list of connections read at ``read_at`` (monotonic seconds) may still be used at ``now``."""
    return now - read_at <= fresh_seconds


@dataclass(frozen=True)
class LogSnapshot:
    """A session's head as one read (or one write) returned it, and the latest cursor known."""

    session_id: str
    owner: str
    connections: FrozenSet[str]
    cursor: Optional[int] = None  # the last frame's cursor this writer knows; None: not read yet
    read_at: float = 0.0  # when ``connections`` were read (time.monotonic())
    gen: int = 0  # the head's attach count when ``connections`` were read

    @classmethod
    def from_item(cls, session_id: str, item: Dict[str, Any], cursor: Optional[int] = None) -> "LogSnapshot":
        return cls(
            session_id=session_id,
            owner=item.get("owner", {}).get("S", NO_OWNER),
            connections=frozenset((item.get("conns") or {}).get("SS", [])),
            cursor=cursor,
            read_at=time.monotonic(),
            gen=int(item.get("gen", {}).get("N", "0")),
        )

    def without(self, gone: Iterable[str]) -> "LogSnapshot":
        return replace(self, connections=self.connections - set(gone))


class SessionLog:
    """Heads (``<id>#log`` in the sessions table) and kept frames (the frames table)."""

    def __init__(self, table_name: str, frames_table: str, ttl_seconds: int, window_seconds: int, client: Any = None):
        self.table_name, self.frames_table = table_name, frames_table
        self.ttl_seconds, self.window_seconds = ttl_seconds, window_seconds
        self._client = client

    @classmethod
    def from_settings(cls, config: Any) -> "SessionLog":
        ttl = max(config.session_ttl_seconds, config.resume_window_seconds)
        return cls(config.sessions_table, config.frames_table, ttl, config.resume_window_seconds)

    @property
    def client(self) -> Any:
        return self._client or aws.client("dynamodb")

    # --- the head ------------------------------------------------------------------------

    def read(self, session_id: str) -> Optional[LogSnapshot]:
        """The head as it is now (a consistent read), or None when there is none or it expired."""
        item = self.client.get_item(
            TableName=self.table_name, Key={"session_id": {"S": log_key(session_id)}}, ConsistentRead=True
        ).get("Item")
        if not item or int(item.get("ttl", {}).get("N", "0")) <= time.time():
            return None
        return LogSnapshot.from_item(session_id, item)

    def create(
        self, session_id: str, owner: str, render: Render, connection_id: str, lease: Optional[str] = None
    ) -> Tuple[LogSnapshot, str]:
        """Start a new session: its head (``connection_id`` attached, holding the ack lease
        ``lease`` when given) and its first frame, cursor 1. Returns the snapshot and the frame."""
        now = int(time.time())
        item = {
            "session_id": {"S": log_key(session_id)},
            "owner": {"S": owner},
            "conns": {"SS": [connection_id]},
            "ttl": {"N": str(now + self.ttl_seconds)},
        }
        if lease:
            item.update(_lease_attributes(lease, now))
        # attribute_not_exists: a random 128-bit id never collides, but a put must never take over a log.
        self.client.put_item(
            TableName=self.table_name, Item=item, ConditionExpression="attribute_not_exists(session_id)"
        )
        text = render(1)
        snapshot = LogSnapshot.from_item(session_id, item, cursor=1)
        if not self._store(snapshot, 1, text, now):
            raise RuntimeError(f"session {session_id}: a new session already has frames")
        return snapshot, text

    def begin_ack(self, session_id: str, owner: str, connection_id: str, lease: str) -> LogSnapshot:
        """Before an ack: attach ``connection_id``, check ``owner`` and take the session's ack
        lease, waiting while another ack holds it. InvalidSessionError for an id ``owner``
        may not use; SessionBusyError if the lease stays taken past ACK_LEASE_SECONDS + 1."""
        deadline = time.monotonic() + ACK_LEASE_SECONDS + 1
        attempt = 0
        while True:
            now = int(time.time())
            values = {
                ":conn": {"SS": [connection_id]},
                ":owner": {"S": owner},
                ":now": {"N": str(now)},
                ":ttl": {"N": str(now + self.ttl_seconds)},
                **{f":{name}": value for name, value in _lease_attributes(lease, now).items()},
            }
            try:
                item = self.client.update_item(
                    TableName=self.table_name,
                    Key={"session_id": {"S": log_key(session_id)}},
                    UpdateExpression=(
                        "ADD conns :conn SET #ttl = :ttl, pending = :pending, pending_until = :pending_until"
                    ),
                    ConditionExpression=(
                        "attribute_exists(session_id) AND #owner = :owner AND #ttl > :now"
                        " AND (attribute_not_exists(pending) OR pending_until < :now)"
                    ),
                    ExpressionAttributeNames={"#owner": "owner", "#ttl": "ttl"},
                    ExpressionAttributeValues=values,
                    ReturnValues="ALL_NEW",
                )["Attributes"]
                return LogSnapshot.from_item(session_id, item)
            except ClientError as exc:
                if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                    raise
            head = self.read(session_id)
            if head is None or not secrets.compare_digest(head.owner, owner):
                raise InvalidSessionError(session_id)
            if time.monotonic() > deadline:
                raise SessionBusyError(session_id)
            time.sleep(lease_wait(attempt))
            attempt += 1

    def end_ack(self, session_id: str, lease: str) -> None:
        """Give the ack lease back (the message is enqueued, or will not be); a lapsed one is fine."""
        try:
            self.client.update_item(
                TableName=self.table_name,
                Key={"session_id": {"S": log_key(session_id)}},
                UpdateExpression="REMOVE pending, pending_until",
                ConditionExpression="pending = :pending",
                ExpressionAttributeValues={":pending": {"S": lease}},
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise

    def attach(self, session_id: str, owner: str, connection_id: str) -> LogSnapshot:
        """Attach ``connection_id`` (resume, ``?session_id=``), adding 1 to the head's ``gen``;
        InvalidSessionError for an id ``owner`` may not use."""
        try:
            item = self.client.update_item(
                TableName=self.table_name,
                Key={"session_id": {"S": log_key(session_id)}},
                UpdateExpression="ADD conns :conn, gen :one",
                ConditionExpression="attribute_exists(session_id) AND #owner = :owner AND #ttl > :now",
                ExpressionAttributeNames={"#owner": "owner", "#ttl": "ttl"},
                ExpressionAttributeValues={
                    ":conn": {"SS": [connection_id]},
                    ":one": {"N": "1"},
                    ":owner": {"S": owner},
                    ":now": {"N": str(int(time.time()))},
                },
                ReturnValues="ALL_NEW",
            )["Attributes"]
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
            raise InvalidSessionError(session_id) from None
        return LogSnapshot.from_item(session_id, item)

    def detach(self, session_id: str, connection_ids: Iterable[str]) -> None:
        """Detach connections that left (410, $disconnect); a missing log is fine."""
        gone = sorted(set(connection_ids))
        if not gone:
            return
        try:
            self.client.update_item(
                TableName=self.table_name,
                Key={"session_id": {"S": log_key(session_id)}},
                UpdateExpression="DELETE conns :gone",
                ConditionExpression="attribute_exists(session_id)",
                ExpressionAttributeValues={":gone": {"SS": gone}},
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise

    # --- the frames ----------------------------------------------------------------------

    def append(self, snapshot: LogSnapshot, render: Render) -> Tuple[LogSnapshot, str]:
        """Store ``render(cursor)`` at the session's next cursor; returns the snapshot after it
        (its ``cursor`` is the frame's) and the frame."""
        session_id = snapshot.session_id
        cursor = (snapshot.cursor if snapshot.cursor is not None else self.latest(session_id)) + 1
        for _ in range(_MAX_CURSOR_ATTEMPTS):
            text = render(cursor)
            if self._store(snapshot, cursor, text, int(time.time())):
                return replace(snapshot, cursor=cursor), text
            cursor = self.latest(session_id) + 1
        raise RuntimeError(f"session {session_id}: no free cursor after {_MAX_CURSOR_ATTEMPTS} attempts")

    def latest(self, session_id: str) -> int:
        """The session's last cursor (0: no frame yet)."""
        items = self.client.query(
            TableName=self.frames_table,
            KeyConditionExpression="session_id = :s",
            ExpressionAttributeValues={":s": {"S": session_id}},
            ExpressionAttributeNames={"#c": "cursor"},
            ProjectionExpression="#c",
            ScanIndexForward=False,
            Limit=1,
            ConsistentRead=True,
        )["Items"]
        return int(items[0]["cursor"]["N"]) if items else 0

    def replay(self, session_id: str, after: int, gen: Optional[int] = None) -> Tuple[List[Tuple[int, str]], int]:
        """The frames a resume after ``after`` whose attach made the head's gen ``gen`` gets
        (``replayable``), and the last cursor it now knows of (for ``resumed``, and the catch-up
        read's ``after``): the last one read, else the session's last."""
        stored = self._kept(session_id, after)
        last = max((cursor for cursor, _, _, _ in stored), default=0)
        return replayable(stored, after, time.time(), self.window_seconds, gen), last or self.latest(session_id)

    def catch_up(self, session_id: str, after: int, gen: int) -> List[Tuple[int, str]]:
        """The resume's second read (see the module docstring): the frames after ``after`` a
        writer stored for a list of connections from before the attach that made ``gen``."""
        return replayable(self._kept(session_id, after), after, time.time(), self.window_seconds, gen)

    def _kept(self, session_id: str, after: int) -> List[Tuple[int, int, int, str]]:
        """(cursor, stored_at, gen, text) of every stored frame with cursor > ``after`` (one consistent Query)."""
        stored, start = [], None
        while True:
            page = self.client.query(
                TableName=self.frames_table,
                KeyConditionExpression="session_id = :s AND #c > :after",
                ExpressionAttributeNames={"#c": "cursor"},
                ExpressionAttributeValues={":s": {"S": session_id}, ":after": {"N": str(after)}},
                ConsistentRead=True,
                **({"ExclusiveStartKey": start} if start else {}),
            )
            stored += [
                (int(i["cursor"]["N"]), int(i["at"]["N"]), int(i.get("gen", {}).get("N", "0")), i["frame"]["S"])
                for i in page["Items"]
            ]
            start = page.get("LastEvaluatedKey")
            if not start:
                return stored

    def _store(self, snapshot: LogSnapshot, cursor: int, text: str, now: int) -> bool:
        """One conditional PutItem: the frame at ``cursor`` (with the ``gen`` of the list of
        connections it is posted to), unless another writer took it."""
        try:
            self.client.put_item(
                TableName=self.frames_table,
                Item={
                    "session_id": {"S": snapshot.session_id},
                    "cursor": {"N": str(cursor)},
                    "frame": {"S": text},
                    "at": {"N": str(now)},
                    "gen": {"N": str(snapshot.gen)},
                    "ttl": {"N": str(now + self.ttl_seconds)},
                },
                ConditionExpression="attribute_not_exists(#c)",
                ExpressionAttributeNames={"#c": "cursor"},
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
            return False
        return True


def _lease_attributes(lease: str, now: int) -> Dict[str, Any]:
    return {"pending": {"S": lease}, "pending_until": {"N": str(now + ACK_LEASE_SECONDS)}}
