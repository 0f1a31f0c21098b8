"""The SQS message that carries one acknowledged chat message to chat_processor.

The connection id, domain and stage come from the API Gateway request context,
never from the client's frame, so no client can route a reply elsewhere.
"""

import json
from dataclasses import asdict, dataclass
from typing import Optional

from chalicelib.errors import EnvelopeError

__all__ = ["ENVELOPE_VERSION", "EnvelopeError", "ChatEnvelope"]

ENVELOPE_VERSION = 1


@dataclass(frozen=True)
class ChatEnvelope:
    message_id: str
    connection_id: str
    session_id: str
    message: str
    domain: str
    stage: str
    received_at_ms: int
    client_message_id: Optional[str] = None
    owner: Optional[str] = None  # who the session belongs to (sessions.owner_of), checked again at pickup
    ack_cursor: Optional[int] = (
        None  # unused since cursors are taken on the session's head; kept so envelopes queued by an older version parse
    )
    version: int = ENVELOPE_VERSION

    def to_json(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"), ensure_ascii=False)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, body: str) -> "ChatEnvelope":
        try:
            data = json.loads(body)
            if data.get("version") != ENVELOPE_VERSION:
                raise EnvelopeError(f"unsupported envelope version {data.get('version')!r}")
            return cls(**data)
        except EnvelopeError:
            raise
        except (ValueError, TypeError, AttributeError) as exc:
            raise EnvelopeError(f"malformed chat envelope: {exc}") from None
