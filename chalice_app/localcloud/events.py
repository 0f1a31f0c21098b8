"""Lambda events and contexts shaped exactly as API Gateway and the SQS poller send them.

No I/O here: the gateway and the poller build events with these functions and
hand them to the Lambda service (``localcloud.lambdaservice``).
"""

import base64
import secrets
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Dict, List, Optional

__all__ = [
    "new_connection_id",
    "new_api_id",
    "ConnectionInfo",
    "websocket_event",
    "sqs_event",
]

ACCOUNT_ID = "123456789012"


def new_connection_id() -> str:
    """An unguessable id in API Gateway's style (16 characters, base64, e.g. ``L0SM9cOFvHcCIhw=``)."""
    return base64.b64encode(secrets.token_bytes(11)).decode("ascii")


def new_api_id() -> str:
    alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
    return "".join(secrets.choice(alphabet) for _ in range(10))


def _request_time(epoch_ms: int) -> str:
    # API Gateway's requestTime format: 26/Nov/2026:14:32:23 +0000
    return datetime.fromtimestamp(epoch_ms / 1000, UTC).strftime("%d/%b/%Y:%H:%M:%S +0000")


@dataclass
class ConnectionInfo:
    """What API Gateway knows about one connection (also what GetConnection returns)."""

    connection_id: str
    api_id: str
    domain: str
    stage: str
    source_ip: str
    user_agent: str
    connected_at_ms: int = field(default_factory=lambda: int(time.time() * 1000))
    last_active_ms: int = 0
    headers: Dict[str, str] = field(default_factory=dict)
    query: Dict[str, str] = field(default_factory=dict)

    def touch(self) -> None:
        self.last_active_ms = int(time.time() * 1000)


_EVENT_TYPES = {"$connect": "CONNECT", "$disconnect": "DISCONNECT", "$default": "MESSAGE"}


def websocket_event(
    route_key: str,
    connection: ConnectionInfo,
    body: Optional[str] = None,
    is_base64: bool = False,
    disconnect_code: Optional[int] = None,
    disconnect_reason: str = "",
) -> Dict[str, Any]:
    now_ms = int(time.time() * 1000)
    context: Dict[str, Any] = {
        "routeKey": route_key,
        "eventType": _EVENT_TYPES[route_key],
        "extendedRequestId": uuid.uuid4().hex[:16] + "=",
        "requestTime": _request_time(now_ms),
        "messageDirection": "IN",
        "stage": connection.stage,
        "connectedAt": connection.connected_at_ms,
        "requestTimeEpoch": now_ms,
        "identity": {"sourceIp": connection.source_ip, "userAgent": connection.user_agent},
        "requestId": uuid.uuid4().hex[:16] + "=",
        "domainName": connection.domain,
        "connectionId": connection.connection_id,
        "apiId": connection.api_id,
    }
    event: Dict[str, Any] = {"requestContext": context, "isBase64Encoded": is_base64}
    if route_key == "$connect":
        event["headers"] = dict(connection.headers)
        event["multiValueHeaders"] = {key: [value] for key, value in connection.headers.items()}
        if connection.query:
            event["queryStringParameters"] = dict(connection.query)
            event["multiValueQueryStringParameters"] = {key: [value] for key, value in connection.query.items()}
    elif route_key == "$disconnect":
        event["headers"] = {"Host": connection.domain, "x-api-key": "", "x-restapi": ""}
        context["disconnectStatusCode"] = disconnect_code
        context["disconnectReason"] = disconnect_reason
    else:
        context["messageId"] = uuid.uuid4().hex[:16] + "="
        event["body"] = body
    return event


def sqs_event(messages: List[Dict[str, Any]], queue_arn: str, region: str) -> Dict[str, Any]:
    """The event Lambda's SQS poller sends for messages from ``receive_message``."""
    records = []
    for message in messages:
        records.append(
            {
                "messageId": message["MessageId"],
                "receiptHandle": message["ReceiptHandle"],
                "body": message["Body"],
                "attributes": dict(message.get("Attributes", {})),
                "messageAttributes": _record_attributes(message.get("MessageAttributes", {})),
                "md5OfBody": message.get("MD5OfBody", ""),
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": region,
            }
        )
    return {"Records": records}


def _record_attributes(attributes: Dict[str, Any]) -> Dict[str, Any]:
    # Lambda lower-cases the first letter of each key of a message attribute.
    converted = {}
    for name, value in attributes.items():
        converted[name] = {key[0].lower() + key[1:]: item for key, item in value.items()}
    return converted
