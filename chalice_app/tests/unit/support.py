"""Builders for realistic Lambda events, and a recorder for posted frames.

``ws_event`` makes API Gateway WebSocket proxy events, ``sqs_record``/``sqs_event``
Lambda SQS events; ``FrameRecorder`` replaces the apigatewaymanagementapi client.
"""

import base64
import hashlib
import json
import os
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any, Dict, List, Optional

import boto3
from botocore.exceptions import ClientError

from chalicelib import logs
from chalicelib.envelope import ChatEnvelope
from tests.conftest import REGION

API_ID = "a1b2c3d4e5"
STAGE = "dev"
DOMAIN = f"{API_ID}.execute-api.{REGION}.amazonaws.com"
ENDPOINT = f"https://{DOMAIN}/{STAGE}"
SOURCE_IP = "203.0.113.7"
USER_AGENT = "Mozilla/5.0 (X11; Linux x86_64) shopping-assistant-tests/1.0"

# --- API Gateway WebSocket events ------------------------------------------------


def new_connection_id() -> str:
    """A fresh id shaped like API Gateway's, e.g. ``L0SM9cOFvHcCIhw=``."""
    return base64.b64encode(os.urandom(11)).decode("ascii")


def ws_event(
    route: str,
    connection_id: str,
    body: Any = None,
    *,
    query: Optional[Dict[str, str]] = None,
    is_base64: bool = False,
    source_ip: str = SOURCE_IP,
    user_agent: str = USER_AGENT,
) -> Dict[str, Any]:
    """An API Gateway WebSocket proxy event for ``$connect``, ``$default`` or ``$disconnect``.

    A dict ``body`` is sent as its JSON text, as a browser client would.
    """
    event_type = {"$connect": "CONNECT", "$disconnect": "DISCONNECT"}.get(route, "MESSAGE")
    now_ms = int(time.time() * 1000)
    context: Dict[str, Any] = {
        "routeKey": route,
        "eventType": event_type,
        "extendedRequestId": uuid.uuid4().hex[:16] + "=",
        "requestTime": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime()),
        "messageDirection": "IN",
        "stage": STAGE,
        "connectedAt": now_ms - 1000,
        "requestTimeEpoch": now_ms,
        "identity": {"sourceIp": source_ip, "userAgent": user_agent},
        "requestId": uuid.uuid4().hex[:16] + "=",
        "domainName": DOMAIN,
        "connectionId": connection_id,
        "apiId": API_ID,
    }
    event: Dict[str, Any] = {"requestContext": context, "isBase64Encoded": is_base64}
    if event_type == "MESSAGE":
        context["messageId"] = uuid.uuid4().hex[:16] + "="
        event["body"] = json.dumps(body) if isinstance(body, dict) else body
    if event_type == "CONNECT":
        event["headers"] = {
            "Host": DOMAIN,
            "Sec-WebSocket-Key": base64.b64encode(os.urandom(16)).decode("ascii"),
            "Sec-WebSocket-Version": "13",
            "User-Agent": user_agent,
            "X-Forwarded-For": source_ip,
            "X-Forwarded-Port": "443",
            "X-Forwarded-Proto": "https",
        }
        event["multiValueHeaders"] = {name: [value] for name, value in event["headers"].items()}
        if query:
            event["queryStringParameters"] = dict(query)
            event["multiValueQueryStringParameters"] = {name: [value] for name, value in query.items()}
    if event_type == "DISCONNECT":
        context["disconnectStatusCode"] = 1001
        context["disconnectReason"] = "Going away"
        event["headers"] = {"Host": DOMAIN, "x-api-key": "", "x-restapi": ""}
    return event


# --- SQS events --------------------------------------------------------------


def make_envelope(connection_id: str, message: str = "show me running shoes", **overrides: Any) -> ChatEnvelope:
    fields: Dict[str, Any] = {
        "message_id": str(uuid.uuid4()),
        "connection_id": connection_id,
        "session_id": uuid.uuid4().hex,
        "message": message,
        "domain": DOMAIN,
        "stage": STAGE,
        "received_at_ms": int(time.time() * 1000),
        "client_message_id": None,
    }
    fields.update(overrides)
    return ChatEnvelope(**fields)


def open_session(envelope: ChatEnvelope, *attached: str) -> ChatEnvelope:
    """Give the envelope's session a log, as the gateway's ack does (cursor 1: an ack),
    with the envelope's connection (and ``attached``) attached. Needs the tables (mock_aws)."""
    from chalicelib import protocol
    from chalicelib.config import settings
    from chalicelib.framelog import NO_OWNER, FrameLog

    log = FrameLog.from_settings(settings())
    owner = envelope.owner or NO_OWNER
    ack = protocol.ack(envelope.message_id, envelope.session_id, envelope.client_message_id, envelope.message)
    log.create(envelope.session_id, owner, envelope.connection_id, envelope.message_id)
    log.store(envelope.session_id, 1, protocol.encode(protocol.with_cursor(ack, envelope.session_id, 1)))
    log.end_ack(envelope.session_id, envelope.message_id)
    for connection_id in attached:
        log.attach(envelope.session_id, owner, connection_id)
    return envelope


def session_envelope(connection_id: str, message: str = "show me running shoes", **overrides: Any) -> ChatEnvelope:
    """``make_envelope`` for a session the server issued (``open_session``)."""
    return open_session(make_envelope(connection_id, message, **overrides))


def bare(frame: Dict[str, Any]) -> Dict[str, Any]:
    """A message frame without what the outbox adds (``cursor``; ``session_id`` where the
    frame type has none of its own), to compare with a ``protocol`` builder's frame."""
    own_session = frame.get("type") in ("ack", "response", "resumed")
    return {k: v for k, v in frame.items() if k != "cursor" and (own_session or k != "session_id")}


def sqs_record(
    body: Any,
    *,
    receive_count: int = 1,
    sqs_message_id: Optional[str] = None,
    queue_arn: str = f"arn:aws:sqs:{REGION}:123456789012:ChatProcessingQueue",
) -> Dict[str, Any]:
    """One record of a Lambda SQS event; ``body`` may be a ChatEnvelope or raw text."""
    text = body.to_json() if isinstance(body, ChatEnvelope) else body
    now_ms = int(time.time() * 1000)
    return {
        "messageId": sqs_message_id or str(uuid.uuid4()),
        "receiptHandle": base64.b64encode(os.urandom(48)).decode("ascii"),
        "body": text,
        "attributes": {
            "ApproximateReceiveCount": str(receive_count),
            "SentTimestamp": str(now_ms - 50),
            "SenderId": "AIDAIENQZJOLO23YVJ4VO",
            "ApproximateFirstReceiveTimestamp": str(now_ms - 20),
        },
        "messageAttributes": {},
        "md5OfBody": hashlib.md5(text.encode("utf-8")).hexdigest(),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": REGION,
    }


def sqs_record_from_message(message: Dict[str, Any], queue_arn: str) -> Dict[str, Any]:
    """The Lambda record for a message received from a (moto) queue."""
    record = sqs_record(message["Body"], sqs_message_id=message["MessageId"], queue_arn=queue_arn)
    record["receiptHandle"] = message["ReceiptHandle"]
    record["md5OfBody"] = message["MD5OfBody"]
    record["attributes"].update(message.get("Attributes", {}))
    return record


def sqs_event(*records: Dict[str, Any]) -> Dict[str, Any]:
    return {"Records": list(records)}


def drain_queue(queue_url: str, delete: bool = False) -> List[Dict[str, Any]]:
    """Every message currently visible on the queue (received; deleted if ``delete``).

    On a FIFO queue a message group stays locked while one of it is in flight: ``delete``
    lets a later message of the same session be received."""
    sqs = boto3.client("sqs", region_name=REGION)
    messages: List[Dict[str, Any]] = []
    while True:
        batch = sqs.receive_message(
            QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0, MessageSystemAttributeNames=["All"]
        ).get("Messages", [])
        if not batch:
            return messages
        messages.extend(batch)
        for message in batch if delete else ():
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])


# --- the Management API ----------------------------------------------------------


@dataclass(frozen=True)
class Posted:
    endpoint: str
    connection_id: str
    frame: Dict[str, Any]


class FrameRecorder:
    """Records what the app posts to clients; connections in ``gone`` answer 410.

    Its ``client_for(endpoint)`` objects replace the boto3 apigatewaymanagementapi
    client inside ``ManagementApi``.
    """

    def __init__(self) -> None:
        self.posted: List[Posted] = []
        self.gone: set = set()
        self.busy: set = set()  # connections answering 429 LimitExceededException (not reading)
        self._lock = threading.Lock()

    def client_for(self, endpoint: str) -> "_RecordingClient":
        return _RecordingClient(self, endpoint)

    def bare_to(self, connection_id: str) -> List[Dict[str, Any]]:
        """``to`` with each frame ``bare``."""
        return [bare(frame) for frame in self.to(connection_id)]

    def to(self, connection_id: str) -> List[Dict[str, Any]]:
        with self._lock:
            return [post.frame for post in self.posted if post.connection_id == connection_id]

    def types(self, connection_id: str) -> List[str]:
        return [frame["type"] for frame in self.to(connection_id)]

    def _record(self, endpoint: str, connection_id: str, data: bytes) -> None:
        with self._lock:
            self.posted.append(Posted(endpoint, connection_id, json.loads(data.decode("utf-8"))))


def gone_error(operation: str) -> ClientError:
    return ClientError(
        {
            "Error": {"Code": "GoneException", "Message": ""},
            "ResponseMetadata": {"HTTPStatusCode": 410},
        },
        operation,
    )


class _RecordingClient:
    def __init__(self, recorder: FrameRecorder, endpoint: str):
        self.recorder, self.endpoint = recorder, endpoint

    def post_to_connection(self, *, ConnectionId: str, Data: bytes) -> Dict[str, Any]:  # boto3 parameter names
        # Mirrors botocore's parameter validation: Data is a blob, not a str.
        assert isinstance(Data, (bytes, bytearray)), f"Data must be bytes, got {type(Data).__name__}"
        if ConnectionId in self.recorder.gone:
            raise gone_error("PostToConnection")
        if ConnectionId in self.recorder.busy:
            error = {"Code": "LimitExceededException", "Message": ""}
            raise ClientError({"Error": error, "ResponseMetadata": {"HTTPStatusCode": 429}}, "PostToConnection")
        self.recorder._record(self.endpoint, ConnectionId, bytes(Data))
        return {"ResponseMetadata": {"HTTPStatusCode": 200}}

    def get_connection(self, *, ConnectionId: str) -> Dict[str, Any]:
        if ConnectionId in self.recorder.gone:
            raise gone_error("GetConnection")
        return {"ConnectedAt": time.time(), "Identity": {"SourceIp": SOURCE_IP, "UserAgent": USER_AGENT}}


def log_events(caplog, event: Optional[str] = None) -> List[Dict[str, Any]]:
    """The structured (JSON) log events chalicelib emitted, optionally of one kind."""
    found = []
    for record in caplog.records:
        data = logs.fields_of(record) if record.name == logs.SERVICE else {}
        if "event" in data and (event is None or data["event"] == event):
            found.append(data)
    return found
