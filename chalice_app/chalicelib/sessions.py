"""Sessions: the conversation state a follow-up needs, and the ids that name sessions.

In the sessions table (its one hash key ``session_id``), the item ``<id>``
(``SessionState``, ``SessionStore``) holds the products last shown (so "the second
one" means something), the active search, the cart, a capped history and the last
turn (so a retried message replays its reply instead of, say, adding to the cart
twice). Turns of one session run one at a time (the FIFO queue's message group is
the session), so a plain put is safe. The session's frame log (its head ``<id>#log``
and its kept frames) is ``framelog``'s.

``ttl`` lets DynamoDB delete idle items; an item past its ttl that DynamoDB has not
deleted yet is treated as gone.
"""

import secrets
import time
from dataclasses import asdict, dataclass, field, fields
from decimal import Decimal
from typing import Any, Dict, List, Optional

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

from chalicelib import aws
from chalicelib.framelog import NO_OWNER, owner_of

__all__ = [
    "SessionState",
    "SessionStore",
    "USER_TEXT_LIMIT",
    "ASSISTANT_TEXT_LIMIT",
    "SESSION_ID_BYTES",
    "NO_OWNER",
    "issue_session_id",
    "owner_of",
]

# 128 bits from the OS's CSPRNG: an id nobody can guess (token_urlsafe: 22 characters of A-Z a-z 0-9 _ -).
SESSION_ID_BYTES = 16
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


# --- session ids ---------------------------------------------------------------------------


def issue_session_id() -> str:
    """A new session id: 128 random bits, URL-safe base64 (matches protocol.SESSION_ID_PATTERN)."""
    return secrets.token_urlsafe(SESSION_ID_BYTES)
