"""The Bedrock assistant, offline: botocore's Stubber answers converse_stream with event
streams encoded as the API sends them (tests/assistant/eventstream.py)."""

import copy
import uuid

import pytest
from botocore.exceptions import ClientError, EventStreamError
from botocore.stub import ANY, Stubber

from chalicelib import aws, catalog
from chalicelib.assistant import Delta, Reply, turn
from chalicelib.assistant.bedrock import BedrockAssistant
from chalicelib.assistant.bedrock.assistant import TOO_MANY_LOOKUPS
from chalicelib.assistant.bedrock.retry import backoff_seconds, is_retryable
from tests.assistant.eventstream import decode_streams, stream_response, text_events, tool_use_events

MODEL = "amazon.nova-lite-v1:0"
EXPECTED = {
    "modelId": MODEL,
    "messages": ANY,
    "system": ANY,
    "toolConfig": ANY,
    "inferenceConfig": {"maxTokens": 700, "temperature": 0.1},
}


@pytest.fixture
def bedrock(moto_tables):
    """The app's cached bedrock-runtime client, stubbed; ``requests`` records what was sent."""
    client = aws.client("bedrock-runtime")
    decode_streams(client)
    requests = []
    # A copy: the assistant keeps appending to the same messages list.
    client.meta.events.register(
        "before-parameter-build.bedrock-runtime.ConverseStream",
        lambda params, **_: requests.append(copy.deepcopy(params)),
    )
    with Stubber(client) as stubber:
        stubber.requests = requests
        yield stubber
        stubber.assert_no_pending_responses()


@pytest.fixture
def slept():
    return []


@pytest.fixture
def model(sessions, slept):
    model = BedrockAssistant(MODEL, max_tokens=700, temperature=0.1, sleep=slept.append)
    model.sessions = sessions  # the store ask() runs its turns with
    return model


def ask(model, message, session_id, message_id=None):
    events = list(turn.run(model, model.sessions, session_id, message_id or str(uuid.uuid4()), message))
    *deltas, reply = events
    assert isinstance(reply, Reply) and all(isinstance(event, Delta) for event in deltas)
    assert "".join(delta.text for delta in deltas) == reply.content
    return [delta.text for delta in deltas], reply


def session():
    return "bedrock-" + uuid.uuid4().hex[:8]


def test_plain_text_is_forwarded_as_it_arrives(bedrock, model, sessions):
    bedrock.add_response("converse_stream", stream_response(*text_events("Hi! ", "I can help you ", "shop.")), EXPECTED)
    session_id = session()

    deltas, reply = ask(model, "hello", session_id)

    assert deltas == ["Hi! ", "I can help you ", "shop."]
    assert reply == Reply(content="Hi! I can help you shop.", products=[])
    (request,) = bedrock.requests
    assert request["messages"] == [{"role": "user", "content": [{"text": "hello"}]}]
    assert [tool["toolSpec"]["name"] for tool in request["toolConfig"]["tools"]] == [
        "search_products",
        "get_product",
        "compare_products",
        "add_to_cart",
        "remove_from_cart",
        "view_cart",
    ]
    assert "No products shown yet" in request["system"][0]["text"]
    assert sessions.load(session_id).history[0]["assistant"] == "Hi! I can help you shop."


def test_a_tool_call_is_run_and_the_conversation_continued(bedrock, model, sessions):
    arguments = {"query": "waterproof hiking boots", "max_price": 200}
    bedrock.add_response(
        "converse_stream",
        stream_response(*tool_use_events("tool-1", "search_products", arguments, preface="Let me look.")),
        EXPECTED,
    )
    bedrock.add_response(
        "converse_stream", stream_response(*text_events("Here are waterproof boots under $200.")), EXPECTED
    )
    session_id = session()

    deltas, reply = ask(model, "waterproof boots under 200", session_id)

    assert deltas == ["Let me look.", "\n", "Here are waterproof boots under $200."]
    first, second = bedrock.requests
    assistant_turn, tool_results = second["messages"][-2:]
    assert assistant_turn == {
        "role": "assistant",
        "content": [
            {"text": "Let me look."},
            {"toolUse": {"toolUseId": "tool-1", "name": "search_products", "input": arguments}},
        ],
    }
    (block,) = tool_results["content"]
    result = block["toolResult"]
    assert (tool_results["role"], result["toolUseId"], result["status"]) == ("user", "tool-1", "success")
    found = result["content"][0]["json"]
    assert found["total_matches"] >= len(found["products"]) >= 1
    for item in found["products"]:
        assert item["price"] <= 200 and item["attributes"]["waterproof"] and item["category"] == "hiking boots"
    # The cards are the products the tool found; the session remembers them for "the second one".
    assert [item["id"] for item in reply.products] == [item["id"] for item in found["products"]]
    assert reply.products[0] == catalog.product(reply.products[0]["id"])
    assert sessions.load(session_id).last_result_ids == [item["id"] for item in found["products"]]


def test_the_next_message_sees_history_results_and_cart(bedrock, model, sessions):
    session_id = session()
    bedrock.add_response(
        "converse_stream",
        stream_response(*tool_use_events("t1", "search_products", {"query": "tents", "sort": "price_asc"})),
        EXPECTED,
    )
    bedrock.add_response("converse_stream", stream_response(*text_events("Cheapest tents first.")), EXPECTED)
    ask(model, "cheap tents", session_id)
    shown = sessions.load(session_id).last_result_ids

    bedrock.add_response(
        "converse_stream",
        stream_response(*tool_use_events("t2", "add_to_cart", {"product": "2", "quantity": 2})),
        EXPECTED,
    )
    bedrock.add_response("converse_stream", stream_response(*text_events("Added two.")), EXPECTED)
    _, reply = ask(model, "add two of the second one", session_id)

    third = bedrock.requests[2]
    assert [message["role"] for message in third["messages"]] == ["user", "assistant", "user"]
    assert third["messages"][1]["content"] == [{"text": "Cheapest tents first."}]
    assert f"2. {shown[1]}" in third["system"][0]["text"]
    result = bedrock.requests[3]["messages"][-1]["content"][0]["toolResult"]["content"][0]["json"]
    price = catalog.product(shown[1])["price"]
    assert result["cart"]["total"] == round(2 * price, 2) and result["quantity_in_cart"] == 2
    assert sessions.load(session_id).cart == {shown[1]: 2}
    assert [item["id"] for item in reply.products] == [shown[1]]


def test_throttling_is_retried_with_backoff(bedrock, model, slept):
    bedrock.add_client_error(
        "converse_stream",
        service_error_code="ThrottlingException",
        service_message="Too many requests",
        http_status_code=429,
        expected_params=EXPECTED,
    )
    bedrock.add_response("converse_stream", stream_response(*text_events("Hello again.")), EXPECTED)

    _, reply = ask(model, "hi", session())

    assert reply.content == "Hello again."
    assert len(slept) == 1 and 0.5 <= slept[0] <= 0.625


def test_an_error_inside_the_stream_before_any_text_is_retried(bedrock, model, slept):
    bedrock.add_response(
        "converse_stream",
        stream_response({"messageStart": {"role": "assistant"}}, error=("modelStreamErrorException", "stream broke")),
        EXPECTED,
    )
    bedrock.add_response("converse_stream", stream_response(*text_events("Recovered.")), EXPECTED)

    deltas, reply = ask(model, "hi", session())

    assert deltas == ["Recovered."] and len(slept) == 1


def test_an_error_after_text_was_forwarded_is_raised_not_retried(bedrock, model, sessions, slept):
    session_id = session()
    bedrock.add_response(
        "converse_stream",
        stream_response(*text_events("Half an ans")[:2], error=("throttlingException", "slow down")),
        EXPECTED,
    )

    with pytest.raises(EventStreamError) as raised:
        list(turn.run(model, model.sessions, session_id, "m-1", "hi"))

    assert raised.value.response["Error"]["Code"] == "throttlingException"
    assert slept == [] and sessions.load(session_id).history == []  # nothing saved: a retry starts clean


def test_retries_are_bounded(bedrock, model, slept):
    for _ in range(4):
        bedrock.add_client_error(
            "converse_stream",
            service_error_code="ServiceUnavailableException",
            service_message="busy",
            http_status_code=503,
            expected_params=EXPECTED,
        )
    with pytest.raises(ClientError, match="ServiceUnavailableException"):
        ask(model, "hi", session())
    assert len(slept) == 3 and slept == sorted(slept)


def test_a_non_retryable_error_is_raised_at_once(bedrock, model, slept):
    bedrock.add_client_error(
        "converse_stream",
        service_error_code="ValidationException",
        service_message="model not found",
        http_status_code=400,
        expected_params=EXPECTED,
    )
    with pytest.raises(ClientError, match="ValidationException"):
        ask(model, "hi", session())
    assert slept == []


def test_a_bad_tool_call_gets_an_error_result_the_model_can_read(bedrock, model):
    bedrock.add_response(
        "converse_stream", stream_response(*tool_use_events("t1", "get_product", {"product": "XYZ-999"})), EXPECTED
    )
    bedrock.add_response("converse_stream", stream_response(*text_events("I can't find that one.")), EXPECTED)

    _, reply = ask(model, "tell me about XYZ-999", session())

    result = bedrock.requests[1]["messages"][-1]["content"][0]["toolResult"]
    assert result["status"] == "error" and "XYZ-999" in result["content"][0]["json"]["error"]
    assert reply.products == []


def test_a_model_that_keeps_calling_tools_is_stopped(bedrock, sessions, slept):
    model = BedrockAssistant(MODEL, max_tokens=700, temperature=0.1, max_tool_rounds=2, sleep=slept.append)
    model.sessions = sessions
    for number in range(3):
        bedrock.add_response(
            "converse_stream", stream_response(*tool_use_events(f"t{number}", "view_cart", {})), EXPECTED
        )

    _, reply = ask(model, "what's in my cart?", session())

    assert reply.content == TOO_MANY_LOOKUPS


def test_a_redelivered_message_is_replayed_without_calling_the_model(bedrock, model):
    session_id, message_id = session(), str(uuid.uuid4())
    bedrock.add_response("converse_stream", stream_response(*text_events("Once.\n", "Only once.")), EXPECTED)
    first = ask(model, "hi", session_id, message_id)
    again = ask(model, "hi", session_id, message_id)  # the Stubber would fail on a second call
    assert again == (["Once.\n", "Only once."], first[1])


def test_retryable_errors():
    def error(code):
        return ClientError({"Error": {"Code": code, "Message": ""}}, "ConverseStream")

    for code in (
        "ThrottlingException",
        "throttlingException",
        "ModelStreamErrorException",
        "serviceUnavailableException",
        "InternalServerException",
    ):
        assert is_retryable(error(code)), code
    for code in ("ValidationException", "AccessDeniedException", "ResourceNotFoundException"):
        assert not is_retryable(error(code)), code
    assert not is_retryable(ValueError("no"))
    assert backoff_seconds(1) < backoff_seconds(2) * 0.9 and backoff_seconds(30) <= 10


def test_a_stop_closes_the_converse_stream_and_no_token_follows(bedrock, model, monkeypatch):
    """The stop comes from another thread (chat_processor's): the stream is closed at once."""
    from botocore.eventstream import EventStream

    from chalicelib.assistant import cancel

    closed = []
    real_close = EventStream.close
    monkeypatch.setattr(EventStream, "close", lambda self: (closed.append(self), real_close(self))[1])
    bedrock.add_response("converse_stream", stream_response(*text_events("One ", "two ", "three.")), EXPECTED)
    stopping = cancel.Cancellation()
    seen = []
    with cancel.scope(stopping):
        events = turn.run(model, model.sessions, session(), str(uuid.uuid4()), "hello")
        for event in events:
            seen.append(event)
            if len(seen) == 1:
                stopping.cancel()  # what stoppable.run does when the shopper stops the reply
                closed_by_the_stop = list(closed)  # before the generator itself is closed
                break
        events.close()
    assert [event.text for event in seen] == ["One "]
    assert closed_by_the_stop, "the stop did not close the ConverseStream"
