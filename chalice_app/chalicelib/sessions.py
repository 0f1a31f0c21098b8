"""Sessions in the DynamoDB sessions table: the conversation state and the frame log.

Two items per session, keyed by the table's one hash key ``session_id``:

``<id>`` (``SessionState``, ``SessionStore``)
    what a follow-up needs: the products last shown (so "the second one" means
    something), the active search, the cart, a capped history and the last turn
    (so a retried message replays its reply instead of, say, adding to the cart
    twice). Turns of one session run one at a time (the FIFO queue's message
    group is the session), so a plain put is safe.

``<id>#log`` (``SessionLog``, ``LogSnapshot``)
    who owns the session, the connections attached to it, its frame ``cursor`` and
    the frames of the last ``RESUME_WINDOW_SECONDS`` (a map cursor -> frame), for
    ``resume``. Created by the ack of a session's first message, so an id without a
    log item was never issued. Every frame is one conditional ``UpdateItem``
    (``cursor = <the cursor the writer last saw>``): it stores the frame, moves the
    cursor by exactly 1 and drops frames older than the window, so two writers (the
    gateway acking a new message while chat_processor streams the previous one) can
    never take the same cursor; the loser re-reads and tries the next one.

``ttl`` lets DynamoDB delete idle items; an item past its ttl that DynamoDB has not
deleted yet is treated as gone (for a log: ``invalid_session``).
"""

import secrets
import time
from dataclasses import asdict, dataclass, field, fields
from decimal import Decimal
from typing import Any, Callable, Dict, FrozenSet, Iterable, List, Optional, Tuple

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from chalicelib import aws
from chalicelib.errors import InvalidSessionError

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
    "stale_cursors",
    "replay_after",
]

# 128 bits from the OS's CSPRNG: an id nobody can guess (token_urlsafe: 22 characters of A-Z a-z 0-9 _ -).
SESSION_ID_BYTES = 16
# The owner of a session made without auth (or with an API key): whoever holds the id.
NO_OWNER = "-"
# Writers that lose the race for a cursor retry; a few at most in practice (two writers per session).
_MAX_CURSOR_ATTEMPTS = 50
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


def stale_cursors(kept_at: Dict[int, int], now: float, window_seconds: int) -> List[int]:
    """Cursors of frames stored more than ``window_seconds`` ago: dropped at the next write."""
    return sorted(cursor for cursor, stored in kept_at.items() if stored < now - window_seconds)


def replay_after(frames: Dict[int, str], after: int) -> List[Tuple[int, str]]:
    """The kept frames with cursor > ``after``, in cursor order."""
    return sorted((cursor, text) for cursor, text in frames.items() if cursor > after)


@dataclass(frozen=True)
class LogSnapshot:
    """A session's log item as one read (or one write) returned it."""

    session_id: str
    owner: str
    cursor: int
    connections: FrozenSet[str]
    frames: Dict[int, str]  # cursor -> the encoded frame, cursor included
    kept_at: Dict[int, int]  # cursor -> when it was stored (epoch s)

    @classmethod
    def from_item(cls, session_id: str, item: Dict[str, Any]) -> "LogSnapshot":
        frames = {int(key): value["S"] for key, value in (item.get("frames") or {}).get("M", {}).items()}
        kept_at = {int(key): int(value["N"]) for key, value in (item.get("kept_at") or {}).get("M", {}).items()}
        return cls(
            session_id=session_id,
            owner=item.get("owner", {}).get("S", NO_OWNER),
            cursor=int(item.get("cursor", {}).get("N", "0")),
            connections=frozenset((item.get("conns") or {}).get("SS", [])),
            frames=frames,
            kept_at=kept_at,
        )


class SessionLog:
    """The ``<id>#log`` items: owners, attached connections, cursors and kept frames."""

    def __init__(self, table_name: str, ttl_seconds: int, window_seconds: int, client: Any = None):
        self.table_name, self.ttl_seconds, self.window_seconds = table_name, ttl_seconds, window_seconds
        self._client = client

    @classmethod
    def from_settings(cls, config: Any) -> "SessionLog":
        ttl = max(config.session_ttl_seconds, config.resume_window_seconds)
        return cls(config.sessions_table, ttl, config.resume_window_seconds)

    @property
    def client(self) -> Any:
        return self._client or aws.client("dynamodb")

    def read(self, session_id: str) -> Optional[LogSnapshot]:
        """The log as it is now (a consistent read), or None when there is none or it expired."""
        item = self.client.get_item(
            TableName=self.table_name, Key={"session_id": {"S": log_key(session_id)}}, ConsistentRead=True
        ).get("Item")
        if not item or int(item.get("ttl", {}).get("N", "0")) <= time.time():
            return None
        return LogSnapshot.from_item(session_id, item)

    def open(self, session_id: str, owner: str) -> LogSnapshot:
        """The log of a session ``owner`` may use; raises InvalidSessionError otherwise."""
        snapshot = self.read(session_id)
        if snapshot is None or not secrets.compare_digest(snapshot.owner, owner):
            raise InvalidSessionError(session_id)
        return snapshot

    def create(self, session_id: str, owner: str, render: Render, connection_id: str) -> LogSnapshot:
        """Start a new session's log with its first frame (cursor 1), ``connection_id`` attached."""
        now = int(time.time())
        text = render(1)
        item = {
            "session_id": {"S": log_key(session_id)},
            "owner": {"S": owner},
            "cursor": {"N": "1"},
            "conns": {"SS": [connection_id]},
            "frames": {"M": {"1": {"S": text}}},
            "kept_at": {"M": {"1": {"N": str(now)}}},
            "ttl": {"N": str(now + self.ttl_seconds)},
        }
        # attribute_not_exists: a random 128-bit id never collides, but a put must never take over a log.
        self.client.put_item(
            TableName=self.table_name, Item=item, ConditionExpression="attribute_not_exists(session_id)"
        )
        return LogSnapshot.from_item(session_id, item)

    def append(
        self,
        snapshot: LogSnapshot,
        render: Render,
        owner: Optional[str] = None,
        attach: Optional[str] = None,
    ) -> LogSnapshot:
        """Store ``render(cursor)`` at the next cursor; returns the log after it (its ``cursor`` is the frame's).

        ``owner`` (when given) must still own the session, ``attach`` is a connection to
        attach in the same write. Raises InvalidSessionError if the log is gone or not the owner's.
        """
        for _ in range(_MAX_CURSOR_ATTEMPTS):
            written = self._write(snapshot, render, owner, attach)
            if written is not None:
                return written
            fresh = self.read(snapshot.session_id)
            if fresh is None or (owner is not None and not secrets.compare_digest(fresh.owner, owner)):
                raise InvalidSessionError(snapshot.session_id)
            snapshot = fresh
        raise RuntimeError(f"session {snapshot.session_id}: no free cursor after {_MAX_CURSOR_ATTEMPTS} attempts")

    def attach(self, session_id: str, owner: str, connection_id: str) -> LogSnapshot:
        """Attach ``connection_id`` (resume); raises InvalidSessionError for an id ``owner`` may not use."""
        try:
            item = self.client.update_item(
                TableName=self.table_name,
                Key={"session_id": {"S": log_key(session_id)}},
                UpdateExpression="ADD conns :conn",
                ConditionExpression="attribute_exists(session_id) AND #owner = :owner AND #ttl > :now",
                ExpressionAttributeNames={"#owner": "owner", "#ttl": "ttl"},
                ExpressionAttributeValues={
                    ":conn": {"SS": [connection_id]},
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

    def _write(
        self, snapshot: LogSnapshot, render: Render, owner: Optional[str], attach: Optional[str]
    ) -> Optional[LogSnapshot]:
        """One conditional UpdateItem for the cursor after ``snapshot``'s; None if another writer took it."""
        now = int(time.time())
        cursor = snapshot.cursor + 1
        names = {"#frames": "frames", "#kept": "kept_at", "#c": str(cursor), "#cursor": "cursor", "#ttl": "ttl"}
        values: Dict[str, Any] = {
            ":frame": {"S": render(cursor)},
            ":at": {"N": str(now)},
            ":cursor": {"N": str(cursor)},
            ":seen": {"N": str(snapshot.cursor)},
            ":ttl": {"N": str(now + self.ttl_seconds)},
        }
        update = "SET #frames.#c = :frame, #kept.#c = :at, #cursor = :cursor, #ttl = :ttl"
        removed = []
        for index, old in enumerate(stale_cursors(snapshot.kept_at, now, self.window_seconds)):
            names[f"#o{index}"] = str(old)
            removed += [f"#frames.#o{index}", f"#kept.#o{index}"]
        if removed:
            update += " REMOVE " + ", ".join(removed)
        if attach:
            update += " ADD conns :conn"
            values[":conn"] = {"SS": [attach]}
        condition = "#cursor = :seen"
        if owner is not None:
            condition += " AND #owner = :owner"
            names["#owner"] = "owner"
            values[":owner"] = {"S": owner}
        try:
            item = self.client.update_item(
                TableName=self.table_name,
                Key={"session_id": {"S": log_key(snapshot.session_id)}},
                UpdateExpression=update,
                ConditionExpression=condition,
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
                ReturnValues="ALL_NEW",
            )["Attributes"]
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
            return None
        return LogSnapshot.from_item(snapshot.session_id, item)
