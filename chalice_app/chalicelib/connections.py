"""The connections table: who is connected, from where, since when.

Records carry a ``ttl`` attribute so DynamoDB removes the ones whose
$disconnect never ran (API Gateway does not guarantee it).
"""

import time
from typing import Any, Dict, Optional

from chalicelib import aws
from chalicelib.config import settings

__all__ = ["register", "forget", "subject_of"]


def _table_name() -> str:
    return settings().connections_table


def register(
    connection_id: str,
    source_ip: Optional[str],
    user_agent: Optional[str],
    session_id: Optional[str],
    subject: Optional[str] = None,
) -> Dict[str, Any]:
    """Store the connection; ``subject`` (a signed token's) is what the per-subject rate limit counts."""
    now = time.time()
    item = {
        "connection_id": {"S": connection_id},
        "connected_at": {"N": str(int(now * 1000))},
        "ttl": {"N": str(int(now) + settings().connection_ttl_seconds)},
    }
    fields = (("source_ip", source_ip), ("user_agent", user_agent), ("session_id", session_id), ("subject", subject))
    for name, value in fields:
        if value:
            item[name] = {"S": value[:512]}
    aws.client("dynamodb").put_item(TableName=_table_name(), Item=item)
    return item


def forget(connection_id: str) -> Dict[str, Any]:
    """Delete the record; returns what it held (``{}`` if there was none)."""
    deleted = aws.client("dynamodb").delete_item(
        TableName=_table_name(), Key={"connection_id": {"S": connection_id}}, ReturnValues="ALL_OLD"
    )
    return deleted.get("Attributes") or {}


def subject_of(connection_id: str) -> Optional[str]:
    """The token subject stored at $connect (read only when no rate-limit update returned it)."""
    item = (
        aws.client("dynamodb")
        .get_item(TableName=_table_name(), Key={"connection_id": {"S": connection_id}}, ConsistentRead=True)
        .get("Item")
        or {}
    )
    return (item.get("subject") or {}).get("S")
