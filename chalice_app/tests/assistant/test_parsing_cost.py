"""Parsing cost: linear in the message length, every number finite and bounded.

The benchmark prints how long a 4,000-character message takes to parse (the pure
parser, then the whole classification against a session with results on screen)
for digits, words and mixed content, against the issue's target of 20 ms (the figure
to read, as the best of five runs). The bound asserted is 5 x that, so a loaded machine
(CI shares 2 cores) does not fail it while the quadratic patterns this guards against
(2,500 ms) still do.
"""

import math
import random
import time

import pytest

from chalicelib import catalog
from chalicelib.assistant.catalog import intents
from chalicelib.assistant.catalog.intents import classify
from chalicelib.assistant.catalog.parsing import MAX_AMOUNT, extract_constraints
from chalicelib.sessions import SessionState

SIZE = 4000
_rng = random.Random(13)
_PIECES = (
    "under $",
    "9",
    "99",
    ",",
    " ",
    "1.5k",
    "between ",
    " and ",
    "4+",
    " stars ",
    "Nike ",
    "not ",
    "$",
    "-",
    "the second one ",
    "compare 2 and ",
    "x",
    ".",
    "  ",
    "tents ",
    "over ",
    "a hundred bucks ",
)

MESSAGES = {
    "digits": ("1234567890" * SIZE)[:SIZE],
    "nines after under $": ("under $" + "9" * SIZE)[:SIZE],
    "commas": ("1," * SIZE)[:SIZE],
    "spaces": ("under" + " " * SIZE)[: SIZE - 2] + "$5",
    "words": ("cheap waterproof running shoes from Nike but not Adidas or Puma under a hundred bucks " * 60)[:SIZE],
    "mixed": "".join(_rng.choice(_PIECES) for _ in range(SIZE))[:SIZE],
}
# Every word the catalog knows, shuffled: each brand, category and product name pattern gets tried.
_VOCABULARY = sorted(catalog.vocabulary.words()) + [name for name in catalog.brands()]
MESSAGES["catalog words"] = " ".join(_rng.sample(_VOCABULARY, len(_VOCABULARY)) * 3)[:SIZE]
# One long word; and 500 different words each with a number (every amount pattern has a go).
MESSAGES["one word"] = "a" * SIZE
MESSAGES["words with numbers"] = " ".join(
    "qwertyuiopasdfghjklzxcvbnm"[index % 26] * 7 + str(index) for index in range(SIZE)
)[:SIZE]
# Phrases repeated until the message is full: positions, references, cart lists, bounds.
for _kind, _piece in (
    ("positions", "1 2 3 4 "),
    ("numbered", "#1 #2 "),
    ("references", "the first one and "),
    ("cart list", "add 1 and "),
    ("negated list", "not Nike or "),
    ("bounds", "over 500 but under 100 "),
):
    MESSAGES[_kind] = (_piece * SIZE)[:SIZE]
# Every word the assistant's own phrases use ("cheapest", "compare", "remove", "the", "one"...), shuffled.
_OWN = sorted(intents._own_words())
MESSAGES["assistant words"] = " ".join(_rng.choice(_OWN) for _ in range(SIZE))[:SIZE]


def _best_of(function, message: str, *args) -> float:
    """The fastest of five runs, each on a message of its own (so no cache of the last run helps)."""
    times = []
    for last in "vwxyz":
        variant = message[:-1] + last
        started = time.perf_counter()
        function(variant, *args)
        times.append(time.perf_counter() - started)
    return min(times)


def _state() -> SessionState:
    return SessionState("bench", last_result_ids=[item["id"] for item in catalog.products()[:5]])


TARGET_SECONDS = 0.020


@pytest.mark.parametrize("kind", list(MESSAGES))
def test_a_4000_character_message_parses_in_under_20_ms(kind, capsys):
    message = MESSAGES[kind]
    assert len(message) == SIZE
    extract_constraints(message), classify(message, _state())  # warm the caches
    parse = _best_of(extract_constraints, message)
    whole = _best_of(classify, message, _state())
    with capsys.disabled():
        print(f"\n{SIZE} chars of {kind}: constraints {parse * 1000:.2f} ms, whole message {whole * 1000:.2f} ms")
    assert whole < TARGET_SECONDS * 5, f"{kind}: {whole * 1000:.1f} ms (target {TARGET_SECONDS * 1000:.0f} ms)"


@pytest.mark.parametrize("kind", list(MESSAGES))
def test_every_parsed_number_is_finite_and_bounded(kind):
    found = extract_constraints(MESSAGES[kind])
    for value in (found.min_price, found.max_price, found.min_rating):
        assert value is None or (math.isfinite(value) and 0 <= value <= MAX_AMOUNT)


def test_under_four_hundred_nines_is_a_bounded_budget():
    found = extract_constraints("under $" + "9" * 400)
    assert found.max_price is not None and math.isfinite(found.max_price) and found.max_price <= MAX_AMOUNT


def test_under_four_hundred_nines_gets_a_normal_answer(conversation):
    said = conversation.send("headphones under $" + "9" * 400)
    assert said.products and all(item["category"] == "headphones" for item in said.products)
    filters = conversation.state().filters
    assert math.isfinite(filters["max_price"]) and filters["max_price"] <= MAX_AMOUNT
