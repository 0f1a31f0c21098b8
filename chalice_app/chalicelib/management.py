"""Posting frames to clients through the API Gateway Management API.

The client is built directly from the domain and stage of the WebSocket API
(``https://{domain}/{stage}``), never through ``app.websocket_api``: Chalice only
configures that inside websocket handlers, and chat_processor is an SQS handler.
``WEBSOCKET_DOMAIN`` / ``WEBSOCKET_STAGE`` override what the event carried, and
``WEBSOCKET_ENDPOINT_URL`` replaces the whole endpoint (the local runtime).

It posts text it is given: building and encoding frames is ``chalicelib.outbox``'s.

Raises ``ConnectionGoneError`` (chalicelib.errors) when the client has
disconnected (HTTP 410 GoneException): never worth a retry. Raises
``ConnectionBusyError`` at once when the client's outgoing buffer is full (HTTP 429
``LimitExceededException``): botocore's retry (which backs off for seconds on a
throttling error) is skipped for it, because waiting would only stall the sender and
everyone it serves; the frame is in the frame log, and the client gets it by ``resume``.
A missing endpoint is a ``ConfigError``.
"""

from typing import Any, Optional

from botocore.exceptions import ClientError

from chalicelib import aws
from chalicelib.config import settings
from chalicelib.errors import ConfigError, ConnectionBusyError, ConnectionGoneError, ShoppingAssistantError

__all__ = [
    "ConnectionBusyError",
    "ConnectionGoneError",
    "ManagementApi",
    "endpoint_url",
    "for_endpoint",
    "SENT",
    "GONE",
    "BUSY",
]

# What became of one post (ManagementApi.deliver).
SENT, GONE, BUSY = "sent", "gone", "busy"
_RETRY_EVENT = "needs-retry.apigatewaymanagementapi"


def endpoint_url(domain: Optional[str], stage: Optional[str]) -> str:
    config = settings()
    if config.websocket_endpoint_url:
        return config.websocket_endpoint_url.rstrip("/")
    domain = config.websocket_domain or domain
    stage = config.websocket_stage or stage
    if not domain or not stage:
        raise ConfigError(
            "cannot build the Management API endpoint: the event has no domain/stage; "
            "set WEBSOCKET_DOMAIN and WEBSOCKET_STAGE"
        )
    return f"https://{domain}/{stage}"


def _is_gone(exc: ClientError) -> bool:
    error = exc.response.get("Error", {})
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return error.get("Code") == "GoneException" or status == 410


def _is_busy(exc: ClientError) -> bool:
    error = exc.response.get("Error", {})
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return error.get("Code") == "LimitExceededException" or status == 429


class _BufferFullError(ShoppingAssistantError):
    """Raised from botocore's needs-retry event, before its retry handler, on a 429."""


def _no_retry_when_busy(response: Any = None, **_: Any) -> None:
    http = response[0] if response else None
    if getattr(http, "status_code", None) == 429:
        raise _BufferFullError()


class ManagementApi:
    """The @connections API of one WebSocket API stage."""

    def __init__(self, endpoint: str):
        self.endpoint = endpoint
        self._client = aws.client("apigatewaymanagementapi", endpoint)
        # Once per (cached) client: the unique id makes a second registration a no-op.
        self._client.meta.events.register_first(_RETRY_EVENT, _no_retry_when_busy, unique_id="no-retry-when-busy")

    def post(self, connection_id: str, text: str) -> None:
        """Send one encoded frame; raises ConnectionGoneError if the client has left,
        ConnectionBusyError if it is not reading (its outgoing buffer is full)."""
        data = text.encode("utf-8")
        try:
            self._client.post_to_connection(ConnectionId=connection_id, Data=data)
        except _BufferFullError:
            raise ConnectionBusyError(connection_id) from None
        except ClientError as exc:
            if _is_gone(exc):
                raise ConnectionGoneError(connection_id) from None
            if _is_busy(exc):
                raise ConnectionBusyError(connection_id) from None
            raise

    def deliver(self, connection_id: str, text: str) -> str:
        """Send one encoded frame: ``SENT``, or ``GONE`` (the client left) or ``BUSY`` (not sent:
        the client is not reading; the caller moves on)."""
        try:
            self.post(connection_id, text)
        except ConnectionGoneError:
            return GONE
        except ConnectionBusyError:
            return BUSY
        return SENT

    def try_post(self, connection_id: str, text: str) -> bool:
        """Send one encoded frame if the client is there and reading; False if not (it was not sent)."""
        return self.deliver(connection_id, text) == SENT

    def is_connected(self, connection_id: str) -> bool:
        try:
            self._client.get_connection(ConnectionId=connection_id)
            return True
        except ClientError as exc:
            if _is_gone(exc):
                return False
            raise


def for_endpoint(domain: Optional[str], stage: Optional[str]) -> ManagementApi:
    return ManagementApi(endpoint_url(domain, stage))
