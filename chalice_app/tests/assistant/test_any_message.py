"""Any message, however odd, gets an answer: no exception, at most 5 products, and a session
whose every number is finite (DynamoDB refuses infinity and NaN)."""

import math

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chalicelib import catalog
from chalicelib.assistant.catalog import CatalogAssistant
from chalicelib.sessions import SessionState

_WORDS = [
    "under",
    "over",
    "$",
    "9",
    "1.5k",
    "not",
    "nike",
    "or",
    "and",
    "the",
    "second",
    "one",
    "compare",
    "add",
    "remove",
    "make",
    "it",
    "two",
    "of",
    "those",
    "cheapest",
    "best",
    "rated",
    "tents",
    "boots",
    "without",
    "gps",
    "except",
    "jackets",
    "a",
    "hundred",
    "bucks",
    "from",
    "most",
    "to",
    "least",
    "expensive",
    "hi",
    "please",
    "bikes",
    "backpak",
    "between",
    "-",
    ",",
    "?",
    "!",
    "4+",
    "stars",
    "#3",
]


def _numbers(value):
    if isinstance(value, float):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _numbers(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _numbers(item)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.lists(st.one_of(st.sampled_from(_WORDS), st.text(max_size=6)), max_size=12), min_size=1, max_size=4))
def test_any_conversation_gets_answers_and_a_storable_session(messages):
    assistant = CatalogAssistant()
    state = SessionState("any")
    for words in messages:
        answer = assistant.answer(" ".join(words), state)
        assert answer.lines and all(isinstance(line, str) for line in answer.lines)
        assert all(catalog.product(item["id"]) is item for item in answer.products)
        for number in _numbers(state.filters or {}):
            assert math.isfinite(number)
