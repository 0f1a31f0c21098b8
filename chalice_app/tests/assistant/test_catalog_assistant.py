"""The catalog assistant's contract with chat_processor: streaming, products, sessions, replays."""

import uuid

from chalicelib.assistant import Delta, Reply, turn
from chalicelib.assistant.catalog import CatalogAssistant
from tests.assistant.conftest import Conversation


def test_text_streams_line_by_line_and_the_reply_is_their_concatenation(conversation):
    said = conversation.send("running shoes under $100")
    assert len(said.deltas) >= 3
    assert all(piece.endswith("\n") for piece in said.deltas[:-1])
    assert said.content == "".join(said.deltas)
    assert 1 <= len(said.products) <= 5
    for line, item in zip(said.deltas[1:], said.products, strict=False):
        assert item["name"] in line  # one line per product, in order


def test_the_reply_products_are_copies_of_catalog_products(conversation):
    from chalicelib import catalog

    said = conversation.send("tents")
    assert said.products[0] == catalog.product(said.ids[0])
    said.products[0]["price"] = 0
    assert catalog.product(said.ids[0])["price"] != 0


def test_a_reconnecting_client_continues_its_session(sessions):
    session_id = "reconnect-" + uuid.uuid4().hex[:6]
    first = Conversation(CatalogAssistant(), sessions, session_id=session_id)
    shown = first.send("smartwatches under 300")
    # A new assistant (another Lambda container) with the same session id.
    second = Conversation(CatalogAssistant(), sessions, session_id=session_id)
    said = second.send("tell me more about the second one")
    assert said.ids == [shown.ids[1]]


def test_sessions_do_not_leak_into_each_other(assistant, sessions):
    one, other = Conversation(assistant, sessions), Conversation(assistant, sessions)
    one.send("tents")
    one.send("add the first one to my cart")
    said = other.send("show my cart")
    assert "empty" in said.content and other.state().cart == {}


def test_a_redelivered_message_replays_its_reply_without_repeating_it(conversation):
    conversation.send("backpacks")
    message_id = str(uuid.uuid4())
    first = conversation.send("add the first one to my cart", message_id=message_id)
    again = conversation.send("add the first one to my cart", message_id=message_id)
    assert again.content == first.content and again.ids == first.ids
    assert list(conversation.state().cart.values()) == [1]
    assert len(conversation.state().history) == 2  # the replay is not a new turn
    third = conversation.send("add the first one to my cart")  # a new message: a real second add
    assert list(conversation.state().cart.values()) == [2] and third.content != first.content


def test_a_turn_without_a_message_id_is_answered(sessions):
    assistant = CatalogAssistant()
    events = list(turn.run(assistant, sessions, "no-id", None, "hi"))
    assert isinstance(events[-1], Reply) and all(isinstance(event, Delta) for event in events[:-1])
    assert list(turn.run(assistant, sessions, "no-id", None, "hi"))[-1].content == events[-1].content


def test_an_offer_not_taken_at_once_is_withdrawn(conversation):
    conversation.send("Hoka running shoes under $40")
    assert conversation.state().pending
    conversation.send("tents")
    assert conversation.state().pending is None
    said = conversation.send("yes")
    assert said.products == [] and "What else" in said.content


def test_cart_limits_are_explained(conversation):
    conversation.send("yoga mats")
    said = conversation.send("add 11 of the first one")
    assert "at most 10" in said.content and conversation.state().cart == {}


def test_references_out_of_range_are_explained(conversation):
    said = conversation.send("tell me more about the second one")
    assert "haven't shown" in said.content and said.products == []
    conversation.send("Hoka running shoes")
    said = conversation.send("compare 1 and 4")
    assert "only showed 2" in said.content
