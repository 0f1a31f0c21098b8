"""Posting frames to clients through the API Gateway Management API.

The client is built directly from the domain and stage of the WebSocket API
(``https://{domain}/{stage}``), never through ``app.websocket_api``: Chalice only
configures that inside websocket handlers, and chat_processor is an SQS handler.
``WEBSOCKET_DOMAIN`` / ``WEBSOCKET_STAGE`` override what the event carried, and
``WEBSOCKET_ENDPOINT_URL`` replaces the whole endpoint (the local runtime).

It posts text it is given: building and encoding frames is ``chalicelib.outbox``'s.

Raises ``ConnectionGoneError`` (chalicelib.errors) when the client has
disconnected (HTTP 410 GoneException): never worth a retry. A missing endpoint is a
``ConfigError``.
"""

from typing import Optional

from botocore.exceptions import ClientError

from chalicelib import aws
from chalicelib.config import settings
from chalicelib.errors import ConfigError, ConnectionGoneError

__all__ = ["ConnectionGoneError", "ManagementApi", "endpoint_url", "for_endpoint"]


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


class ManagementApi:
    """The @connections API of one WebSocket API stage."""

    def __init__(self, endpoint: str):
        self.endpoint = endpoint
        self._client = aws.client("apigatewaymanagementapi", endpoint)

    def post(self, connection_id: str, text: str) -> None:
        """Send one encoded frame; raises ConnectionGoneError if the client has left."""
        data = text.encode("utf-8")
        try:
            self._client.post_to_connection(ConnectionId=connection_id, Data=data)
        except ClientError as exc:
            if _is_gone(exc):
                raise ConnectionGoneError(connection_id) from None
            raise

    def try_post(self, connection_id: str, text: str) -> bool:
        """Send one encoded frame if the client is still there; False if it has gone."""
        try:
            self.post(connection_id, text)
            return True
        except ConnectionGoneError:
            return False

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
