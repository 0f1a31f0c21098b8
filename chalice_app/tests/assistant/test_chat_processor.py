"""The catalog assistant behind the real handlers: $connect, sendMessage, then chat_processor
from the SQS queue (Chalice's test client, moto), frames captured at the Management API."""

import json

from botocore.exceptions import ClientError
from botocore.stub import ANY, Stubber

from chalicelib import aws, protocol
from chalicelib.assistant.bedrock.assistant import BedrockAssistant
from chalicelib.config import settings
from chalicelib.framelog import NO_OWNER, FrameLog
from chalicelib.sessions import SessionStore
from tests.assistant.conftest import PRODUCT_FIELDS
from tests.conftest import clear_caches
from tests.unit.support import (
    drain_queue,
    make_envelope,
    new_connection_id,
    session_envelope,
    sqs_event,
    sqs_record,
    sqs_record_from_message,
    ws_event,
)


def chat(client, mock_aws, message: str, session_id=None):
    """One message from a fresh connection, all the way through chat_processor; its frames.

    ``session_id``: one the server issued (in an earlier ack), or None for a new session."""
    connection_id = new_connection_id()
    client.lambda_.invoke("connect", ws_event("$connect", connection_id))
    body = {"action": "sendMessage", "message": message}
    if session_id:
        body["session_id"] = session_id
    client.lambda_.invoke("message", ws_event("$default", connection_id, body))
    (queued,) = drain_queue(mock_aws.queue_url, delete=True)  # done, as the event source would
    payload = client.lambda_.invoke("chat_processor", sqs_event(sqs_record_from_message(queued, mock_aws.queue_arn)))
    assert payload.payload == {"batchItemFailures": []}
    return connection_id


def answer(frames, connection_id):
    sent = frames.to(connection_id)
    ack, status, *chunks, final = sent
    assert (ack["type"], status["type"], final["type"]) == ("ack", "status", "response")
    assert [chunk["type"] for chunk in chunks] == ["chunk"] * len(chunks) and chunks
    assert [chunk["seq"] for chunk in chunks] == list(range(len(chunks)))
    assert "".join(chunk["delta"] for chunk in chunks) == final["content"]
    return final


def test_products_reach_the_response_and_the_session_continues(client, mock_aws, frames):
    first = answer(frames, chat(client, mock_aws, "running shoes under $100"))
    shopper_1 = first["session_id"]
    assert 2 <= len(first["products"]) <= 5
    for product in first["products"]:
        assert set(product) == PRODUCT_FIELDS
        assert product["category"] == "running shoes" and product["price"] < 100

    # Another connection (the client reconnected) with the same session id.
    second = answer(frames, chat(client, mock_aws, "tell me more about the second one", shopper_1))
    assert [product["id"] for product in second["products"]] == [first["products"][1]["id"]]
    assert first["products"][1]["name"] in second["content"]

    other = answer(frames, chat(client, mock_aws, "tell me more about the second one"))
    assert other["products"] == [] and "haven't shown" in other["content"]


def test_a_retry_after_a_failed_response_replays_instead_of_adding_twice(client, mock_aws, frames, monkeypatch):
    shopper_3 = answer(frames, chat(client, mock_aws, "backpacks"))["session_id"]
    envelope = make_envelope(new_connection_id(), "add the first one to my cart", session_id=shopper_3)
    FrameLog.from_settings(settings()).attach(shopper_3, NO_OWNER, envelope.connection_id)
    original = frames.client_for("x").__class__.post_to_connection
    failures = []

    def flaky(self, *, ConnectionId, Data):  # noqa: N803 (boto3 names)
        if json.loads(Data)["type"] == "response" and not failures:
            failures.append(ConnectionId)
            raise ClientError(
                {
                    "Error": {"Code": "InternalServerErrorException", "Message": "try again"},
                    "ResponseMetadata": {"HTTPStatusCode": 500},
                },
                "PostToConnection",
            )
        return original(self, ConnectionId=ConnectionId, Data=Data)

    monkeypatch.setattr(frames.client_for("x").__class__, "post_to_connection", flaky)
    record = sqs_record(envelope)
    failed = client.lambda_.invoke("chat_processor", sqs_event(record)).payload
    assert failed == {"batchItemFailures": [{"itemIdentifier": record["messageId"]}]}

    again = sqs_record(envelope, sqs_message_id=record["messageId"], receive_count=2)
    assert client.lambda_.invoke("chat_processor", sqs_event(again)).payload == {"batchItemFailures": []}

    responses = [frame for frame in frames.to(envelope.connection_id) if frame["type"] == "response"]
    assert len(responses) == 1 and "Total:" in responses[0]["content"]
    state = SessionStore("shopping-assistant-sessions", 3600, 10).load(shopper_3)
    assert list(state.cart.values()) == [1]


def test_bedrock_failing_on_the_last_attempt_ends_in_processing_failed(client, mock_aws, frames, monkeypatch):
    monkeypatch.setenv("ASSISTANT_BACKEND", "bedrock")
    clear_caches()
    monkeypatch.setattr(BedrockAssistant, "__init__", _no_sleep(BedrockAssistant.__init__))
    envelope = session_envelope(new_connection_id(), "hi")
    with Stubber(aws.client("bedrock-runtime")) as stubber:
        stubber.add_client_error(
            "converse_stream",
            service_error_code="AccessDeniedException",
            service_message="no model access",
            http_status_code=403,
            expected_params={"modelId": ANY, "messages": ANY, "system": ANY, "toolConfig": ANY, "inferenceConfig": ANY},
        )
        record = sqs_record(envelope, receive_count=5)  # the last of MAX_RECEIVE_COUNT's default 5
        payload = client.lambda_.invoke("chat_processor", sqs_event(record)).payload

    assert payload == {"batchItemFailures": [{"itemIdentifier": record["messageId"]}]}
    status, error = frames.to(envelope.connection_id)
    assert status["type"] == "status"
    assert (error["type"], error["code"], error["message_id"]) == (
        "error",
        protocol.PROCESSING_FAILED,
        envelope.message_id,
    )


def _no_sleep(init):
    def patched(self, *args, **kwargs):
        kwargs["sleep"] = lambda seconds: None
        init(self, *args, **kwargs)

    return patched
