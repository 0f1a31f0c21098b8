"""chalicelib.management against a real botocore client, stubbed with botocore's Stubber."""

import json

import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber

from chalicelib import aws, management, protocol
from chalicelib.errors import ConfigError
from tests.unit.support import DOMAIN, ENDPOINT, STAGE


@pytest.fixture
def stubbed():
    """(ManagementApi, Stubber) for the stage endpoint; every expected call must happen."""
    api = management.ManagementApi(ENDPOINT)
    assert api._client is aws.client("apigatewaymanagementapi", ENDPOINT)
    with Stubber(api._client) as stubber:
        yield api, stubber
        stubber.assert_no_pending_responses()


PONG = '{"type":"pong","timestamp":1}'


def test_post_sends_the_encoded_frame_as_utf8_bytes(stubbed):
    api, stubber = stubbed
    frame = {"type": "chunk", "message_id": "m1", "seq": 0, "delta": "Größe"}
    stubber.add_response(
        "post_to_connection",
        {},
        {"ConnectionId": "Abc123=", "Data": json.dumps(frame, separators=(",", ":"), ensure_ascii=False).encode()},
    )

    api.post("Abc123=", protocol.encode(frame))


def test_post_to_a_gone_connection_raises_connection_gone(stubbed):
    api, stubber = stubbed
    stubber.add_client_error(
        "post_to_connection", service_error_code="GoneException", http_status_code=410, service_message=""
    )

    with pytest.raises(management.ConnectionGoneError) as raised:
        api.post("Left=", PONG)

    assert raised.value.connection_id == "Left="


def test_a_bare_410_counts_as_gone(stubbed):
    api, stubber = stubbed
    stubber.add_client_error("post_to_connection", service_error_code="Gone", http_status_code=410)

    assert api.try_post("Left=", PONG) is False


def test_try_post_reports_delivery(stubbed):
    api, stubber = stubbed
    stubber.add_response("post_to_connection", {})
    stubber.add_client_error("post_to_connection", service_error_code="GoneException", http_status_code=410)

    assert api.try_post("Here=", PONG) is True
    assert api.try_post("Left=", PONG) is False


def test_a_429_is_busy_not_gone_and_not_an_error(stubbed):
    """The client's outgoing buffer is full: the frame was not sent, the connection is still there."""
    api, stubber = stubbed
    stubber.add_client_error("post_to_connection", service_error_code="LimitExceededException", http_status_code=429)
    stubber.add_client_error("post_to_connection", service_error_code="LimitExceededException", http_status_code=429)

    assert api.deliver("Full=", PONG) == management.BUSY
    assert api.try_post("Full=", PONG) is False


@pytest.mark.parametrize(("code", "status"), [("ForbiddenException", 403), ("InternalServerError", 500)])
def test_other_errors_are_not_mistaken_for_gone(stubbed, code, status):
    api, stubber = stubbed
    stubber.add_client_error("post_to_connection", service_error_code=code, http_status_code=status)

    with pytest.raises(ClientError) as raised:
        api.try_post("Here=", PONG)

    assert raised.value.response["Error"]["Code"] == code


def test_is_connected(stubbed):
    api, stubber = stubbed
    stubber.add_response(
        "get_connection",
        {"ConnectedAt": "2024-01-01T00:00:00Z", "Identity": {"SourceIp": "203.0.113.7", "UserAgent": "ua"}},
        {"ConnectionId": "Here="},
    )
    stubber.add_client_error("get_connection", service_error_code="GoneException", http_status_code=410)
    stubber.add_client_error("get_connection", service_error_code="ForbiddenException", http_status_code=403)

    assert api.is_connected("Here=") is True
    assert api.is_connected("Left=") is False
    with pytest.raises(ClientError):
        api.is_connected("Who=")


# --- the endpoint ------------------------------------------------------------------


def test_endpoint_comes_from_the_event_domain_and_stage():
    assert management.endpoint_url(DOMAIN, STAGE) == ENDPOINT
    assert management.for_endpoint(DOMAIN, STAGE).endpoint == ENDPOINT


def test_clients_are_built_for_that_endpoint_and_reused():
    api = management.for_endpoint(DOMAIN, STAGE)

    assert api._client.meta.endpoint_url == ENDPOINT
    assert management.for_endpoint(DOMAIN, STAGE)._client is api._client


def test_websocket_domain_and_stage_override_the_event(set_env):
    set_env(WEBSOCKET_DOMAIN="chat.example.com", WEBSOCKET_STAGE="v1")

    assert management.endpoint_url(DOMAIN, STAGE) == "https://chat.example.com/v1"


def test_websocket_endpoint_url_replaces_the_whole_endpoint(set_env):
    set_env(WEBSOCKET_ENDPOINT_URL="http://127.0.0.1:8000/api/")

    assert management.endpoint_url(DOMAIN, STAGE) == "http://127.0.0.1:8000/api"
    assert management.endpoint_url(None, None) == "http://127.0.0.1:8000/api"


@pytest.mark.parametrize(("domain", "stage"), [(None, STAGE), (DOMAIN, None), ("", "")])
def test_missing_domain_or_stage_is_explained(domain, stage):
    with pytest.raises(ConfigError, match="WEBSOCKET_DOMAIN"):
        management.endpoint_url(domain, stage)
