"""Per-connection rate limit on sendMessage, shared by every Lambda instance.

A fixed window counter stored on the connection's own record in the connections
table (so it expires with the record's TTL): at most ``limit`` messages per
``window_seconds``. Two conditional updates, no read: the first counts within the
current window, the second opens a new one; when both conditions fail, the
connection is over its limit.
"""

import time
from typing import Optional

from botocore.exceptions import ClientError

from chalicelib import aws
from chalicelib.config import settings

__all__ = ["allow"]


def allow(connection_id: str, now: Optional[float] = None) -> bool:
    config = settings()
    limit, window = config.rate_limit_messages, config.rate_limit_window_seconds
    if limit <= 0:
        return True
    current = int((time.time() if now is None else now) // window)
    dynamodb = aws.client("dynamodb")
    key = {"connection_id": {"S": connection_id}}
    try:
        dynamodb.update_item(
            TableName=config.connections_table,
            Key=key,
            UpdateExpression="SET rl_count = rl_count + :one",
            ConditionExpression="rl_window = :window AND rl_count < :limit",
            ExpressionAttributeValues={":one": {"N": "1"}, ":window": {"N": str(current)}, ":limit": {"N": str(limit)}},
        )
        return True
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
            raise
    try:
        dynamodb.update_item(
            TableName=config.connections_table,
            Key=key,
            UpdateExpression="SET rl_window = :window, rl_count = :one, #ttl = if_not_exists(#ttl, :ttl)",
            ConditionExpression="attribute_not_exists(rl_window) OR rl_window < :window",
            ExpressionAttributeNames={"#ttl": "ttl"},
            ExpressionAttributeValues={
                ":one": {"N": "1"},
                ":window": {"N": str(current)},
                ":ttl": {"N": str(int(time.time()) + config.connection_ttl_seconds)},
            },
        )
        return True
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
            raise
    return False
