"""Shopper language read through the catalog's schema: measures with units, positions, meta
commands, comparatives over the products shown, casual cart words, typos and describing words.

Generated where it fits (every numeric attribute x unit synonyms x number forms), so a rule
that only fits its examples fails here.
"""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chalicelib import catalog
from chalicelib.assistant.catalog import describing, positions
from chalicelib.assistant.catalog.intents import correct_typos
from chalicelib.assistant.catalog.parsing import extract_constraints
from chalicelib.catalog import measures
from chalicelib.catalog.filters import SearchRequest
from chalicelib.catalog.text import fold
from tests.assistant.conftest import Conversation

# How a shopper may write each attribute unit (suffix -> spellings), and numbers in words.
_SPELLINGS = {
    "g": ["g", "grams", "gram", "gr"],
    "kg": ["kg", "kilos", "kilograms", "kgs"],
    "mm": ["mm", "millimetres", "millimeters"],
    "cm": ["cm", "centimetres", "centimeters"],
    "in": ["inch", "inches", "in"],
    "l": ["l", "liters", "litres", "litre"],
    "hours": ["hours", "hrs", "h", "hour"],
    "days": ["days", "day"],
    "minutes": ["minutes", "mins", "min"],
    "people": ["people", "persons", "person"],
    "gb": ["gb", "gigs", "gigabytes"],
    "cups": ["cups"],
    "bar": ["bar"],
    "atm": ["atm"],
}
_WORDS = {2: "two", 3: "three", 4: "four", 5: "five", 6: "six", 8: "eight", 10: "ten", 12: "twelve"}


def _numeric_attributes():
    found = {}
    for item in catalog.products():
        for key, value in item["attributes"].items():
            if measures.dimension(key) and not isinstance(value, bool):
                found.setdefault((item["category"], key), []).append(value)
    return sorted(found.items())


ATTRIBUTES = _numeric_attributes()


def test_every_numeric_attribute_has_a_known_unit():
    assert ATTRIBUTES, "no measured attribute in the catalog"
    suffixes = {key.rpartition("_")[2] for (_, key), _ in ATTRIBUTES}
    assert suffixes <= set(_SPELLINGS), suffixes - set(_SPELLINGS)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_at_least_n_units_bounds_that_attribute_and_never_the_price(data):
    (category, key), values = data.draw(st.sampled_from(ATTRIBUTES))
    value = data.draw(st.sampled_from(sorted({value for value in values if value > 0})))
    unit = data.draw(st.sampled_from(_SPELLINGS[key.rpartition("_")[2]]))
    in_words = data.draw(st.booleans()) and value in _WORDS and len(unit) > 2  # "four h" is no one's unit
    number = _WORDS[value] if in_words else f"{value:g}"
    lead = data.draw(st.sampled_from(["at least", "more than", "over", "minimum"]))
    noun = catalog.categories.by_name(category).singular
    message = data.draw(st.sampled_from(["{n} with {b} {v} {u}", "a {n}, {b} {v}{u} please", "{n} {b} {v} {u}"]))
    found = extract_constraints(message.format(n=noun, b=lead, v=number, u=unit))
    assert found.min_price is None and found.max_price is None, found
    assert len(found.measures) == 1, found
    request = SearchRequest(category=category, measures=found.measures)
    shown = [item for item in catalog.products() if catalog.matches(item, request)]
    strict = lead in ("more than", "over")
    expected = [
        item for item in catalog.products() if item["category"] == category and _above(item, key, value, strict)
    ]
    assert {item["id"] for item in shown} == {item["id"] for item in expected}, (message, found.measures)


def _above(item, key, bound, strict):
    got = item["attributes"].get(key)
    return got is not None and (float(got) > bound if strict else float(got) >= bound)


@pytest.mark.parametrize(
    "message, dimension, op, value",
    [
        ("a tent that sleeps three", "people", "default", 3),
        ("a pack around 25 liters", "volume", "near", 25),
        ("a watch that lasts ten days", "time", "default", 240),
        ("a mat at least 5 millimetres thick", "length", "min", 5),
        ("30+ hours of battery", "time", "min", 30),
        ("32 gigs of ram", "data", "default", 32),
        ("lighter than 1.3 kilos", "mass", "below", 1300),
        ("up to 2 kg", "mass", "max", 2000),
        ("a 14 inch laptop", "length", "default", 355.6),
        ("a 1 tb laptop", "data", "default", 1024),
        ("a tent for a dozen people", "people", "default", 12),
    ],
)
def test_measure_forms(message, dimension, op, value):
    found = extract_constraints(message)
    assert [(m[0], m[2], round(m[3], 3)) for m in found.measures] == [(dimension, op, value)]
    assert not found.has_price


@pytest.mark.parametrize("message", ["I want one in blue", "the one in the middle", "a p", "give me a h", "one m"])
def test_a_number_word_before_a_one_letter_unit_is_not_a_measure(message):
    assert extract_constraints(message).measures == ()


def test_a_measure_survives_the_session_store(conversation):
    conversation.send("tents that sleep at least 4")
    conversation.send("under 400")
    filters = SearchRequest.from_dict(conversation.state().filters)
    assert filters.measures and filters.measures[0][:3] == ("people", "", "min"), filters
    assert filters.max_price is not None
    for item in conversation.said[-1].products:
        assert item["attributes"]["capacity_people"] >= 4 and item["price"] < 400


@pytest.mark.parametrize("count", [1, 2, 3, 4, 5])
def test_positions_in_every_form(count):
    forms = {
        "the final option": count,
        "the one at the bottom": count,
        "the last one": count,
        "first from the top": 1,
        "the one at the top": 1,
        f"{_WORDS.get(count, 'one') if count > 1 else 'first'} from the bottom": 1 if count > 1 else 1,
        "#1": 1,
        "number one": 1,
    }
    if count >= 2:
        forms["the penultimate one"] = count - 1
        forms["second from the bottom"] = count - 1
    if count % 2:
        forms["the one in the centre"] = (count + 1) // 2
    for said, position in forms.items():
        text, unsure = positions.normalize(said, count)
        assert not unsure and f"the {positions._SPELLED[position]} one" in text, (said, count, text)


@pytest.mark.parametrize("said", ["the umpteenth one", "the seventh option", "the middle one", "the 9th one"])
def test_an_unknown_or_impossible_position_asks(said):
    assert positions.normalize(said, 4)[1], said


def test_an_unknown_position_asks_in_a_conversation(conversation):
    conversation.send("tents")
    said = conversation.send("tell me about the umpteenth one")
    assert said.products == [] and conversation.state().last_turn["outcome"] == "clarify"
    assert conversation.state().last_turn["confidence"] <= 0.5


@pytest.mark.parametrize("command", ["start again", "new chat", "let's start over", "Start over please", "reset"])
def test_start_again_clears_the_cart_and_the_context_and_says_so(conversation, command):
    conversation.send("tents")
    conversation.send("add the first one")
    assert conversation.state().cart
    said = conversation.send(command)
    state = conversation.state()
    assert state.cart == {} and state.filters is None and state.last_result_ids == []
    assert "cart" in said.content and "start" in said.content.lower() and said.products == []
    assert state.last_turn["outcome"] == "reset"


@pytest.mark.parametrize("said", ["stop", "Stop!", "stop please", "cancel", "STOP"])
def test_stop_alone_is_never_a_search(conversation, said):
    conversation.send("laptops")
    reply = conversation.send(said)
    assert reply.products == [] and conversation.state().last_turn["outcome"] == "stop"
    assert conversation.state().filters, "the search is kept"


@pytest.mark.parametrize("said", ["who am I talking to?", "are you a real person?", "who are you"])
def test_who_am_i_talking_to(conversation, said):
    reply = conversation.send(said)
    assert reply.products == [] and "assistant" in reply.content


_EXTREMES = [
    ("lightest", "weight", False),
    ("heaviest", "weight", True),
    ("roomiest", "capacity", True),
    ("thickest", "thickness", True),
]


@pytest.mark.parametrize("category", catalog.category_names())
@pytest.mark.parametrize("word, stem, highest", _EXTREMES)
def test_superlatives_answer_from_the_products_shown(assistant, category, word, stem, highest):
    conversation = Conversation(assistant)
    shown = conversation.send(category).products
    values = {item["id"]: _measured(item, stem) for item in shown}
    reply = conversation.send(f"which is the {word} of these?")
    assert set(reply.ids) <= set(values), "a question about the products shown is never a new search"
    if not any(value is not None for value in values.values()):
        assert conversation.state().last_turn["outcome"] == "clarify"
        return
    best = (max if highest else min)(value for value in values.values() if value is not None)
    assert values[reply.ids[0]] == best, (word, reply.content)
    assert conversation.state().focus_id == reply.ids[0]


def _measured(item, stem):
    for key, value in item["attributes"].items():
        if key.startswith(stem) and measures.dimension(key) and not isinstance(value, bool):
            return float(value) * measures.UNITS[key.rpartition("_")[2]][1]
    return None


@pytest.mark.parametrize("said", ["which is the quietest?", "which one is the sturdiest", "the comfiest of these"])
def test_a_superlative_the_catalog_cannot_measure_asks(conversation, said):
    conversation.send("headphones")
    reply = conversation.send(said)
    assert reply.products == [] and conversation.state().last_turn["outcome"] == "clarify"


@pytest.mark.parametrize(
    "said",
    ["ignore the price limit", "I can go up to 300 now", "sets up fastest", "go", "whatever", "start", "new chat"],
)
def test_an_unknown_verb_or_adjective_is_never_not_carried(conversation, said):
    conversation.send("tents under 150")
    conversation.send(said)
    assert conversation.state().last_turn["outcome"] != "not_carried"


@pytest.mark.parametrize("said", ["I want a blender", "do you sell kayaks?", "a surfboard under 300", "mountain bikes"])
def test_a_product_noun_not_in_the_catalog_is_not_carried(conversation, said):
    conversation.send(said)
    assert conversation.state().last_turn["outcome"] == "not_carried"


@pytest.mark.parametrize(
    "verb", ["pop the {b} in my bag", "stick the {b} in my basket", "throw the {b} in the cart", "I'll take the {b}"]
)
def test_casual_put_in_words(conversation, verb):
    shown = conversation.send("smartwatches with gps").products
    brands = [item["brand"] for item in shown]
    once = next(item for item in shown if brands.count(item["brand"]) == 1)
    conversation.send(verb.format(b=once["brand"]))
    assert conversation.state().cart == {once["id"]: 1}
    assert "Total" in conversation.send("how much am I spending").content


def test_an_ambiguous_brand_asks_and_leaves_the_cart(conversation):
    shown = conversation.send("Garmin smartwatches").products
    assert len(shown) >= 2
    reply = conversation.send("pop the Garmin in my bag")
    assert conversation.state().cart == {} and conversation.state().last_turn["outcome"] == "clarify"
    assert shown[0]["name"] in reply.content


def test_swap_replaces_one_product_with_another(conversation):
    shown = conversation.send("yoga mats").products
    conversation.send("add the second one")
    conversation.send("swap it for the fourth one")
    assert conversation.state().cart == {shown[3]["id"]: 1}


@pytest.mark.parametrize("said", ["add the green one", "remove the purple one", "put the blue one in my bag"])
def test_an_unresolved_reference_never_changes_the_cart(conversation, said):
    conversation.send("jackets")
    conversation.send("add the first one")
    before = dict(conversation.state().cart)
    conversation.send(said)
    assert conversation.state().cart == before and conversation.state().last_turn["outcome"] == "clarify"


@pytest.mark.parametrize("category", catalog.category_names())
def test_tell_me_more_after_a_comparison_is_about_that_product(assistant, category):
    conversation = Conversation(assistant)
    shown = conversation.send(category).products
    for item in shown:
        conversation.send("compare 1 and 2")
        reply = conversation.send(f"tell me more about {item['name']}")  # what the page's button sends
        assert reply.ids[:1] == [item["id"]], reply.content


def test_every_describing_word_maps_to_catalog_words():
    for _, said in describing.DESCRIBES:
        for word in said.split():
            assert catalog.is_known(word) or word.isdigit(), word


def _one_typo(word, at, kind):
    if kind == "drop":
        return word[:at] + word[at + 1 :]
    if kind == "swap" and at + 1 < len(word):
        return word[:at] + word[at + 1] + word[at] + word[at + 2 :]
    return word[:at] + word[at] + word[at:]  # a doubled letter


_BRANDS = sorted({item["brand"] for item in catalog.products() if len(item["brand"]) >= 6 and item["brand"].isalpha()})


@settings(max_examples=80, deadline=None)
@given(st.sampled_from(_BRANDS), st.integers(1, 4), st.sampled_from(["drop", "swap", "double"]))
def test_a_brand_one_letter_off_next_to_its_kind_is_read_as_the_brand(brand, at, kind):
    typo = _one_typo(brand.lower(), at, kind)
    if catalog.is_known(typo) or typo == brand.lower():
        return
    category = next(item["category"] for item in catalog.products() if item["brand"] == brand)
    fixed, corrected = correct_typos(f"{typo} {category}")
    assert fold(brand) in fold(fixed), (typo, fixed, corrected)


@pytest.mark.parametrize("said, category", [("hedfones", "headphones"), ("smartwach", "smartwatches")])
def test_typed_by_ear(conversation, said, category):
    reply = conversation.send(said)
    assert reply.products and {item["category"] for item in reply.products} == {category}


@pytest.mark.parametrize("said", ["what kinds of things do you have", "do you have other types", "any other stuff?"])
def test_a_generic_noun_is_never_something_we_dont_carry(conversation, said):
    conversation.send(said)
    assert conversation.state().last_turn["outcome"] != "not_carried"


_REWRITES = (
    lambda text: text.upper(),
    lambda text: f"hey, um, {text} pls",
    lambda text: f"{text} \U0001f60a\U0001f44d",
    lambda text: f"i'm looking for {text}!!",
    lambda text: text.replace(" ", "  "),
    lambda text: f"could you find me {text}?",
)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_casual_rewrites_keep_the_reading(data):
    """Caps, fillers, emoji, politeness and spacing change nothing the parser reads."""
    (category, key), values = data.draw(st.sampled_from(ATTRIBUTES))
    value = data.draw(st.sampled_from(sorted({value for value in values if value > 0})))
    unit = data.draw(st.sampled_from(_SPELLINGS[key.rpartition("_")[2]]))
    noun = catalog.categories.by_name(category).singular
    plain = f"{noun} with at least {value:g} {unit}"
    rewrite = data.draw(st.sampled_from(_REWRITES))
    expected, got = extract_constraints(plain), extract_constraints(rewrite(plain))
    assert got.measures == expected.measures and not got.has_price, (rewrite(plain), got)
    assert catalog.pick_category(got.text) == category, (rewrite(plain), got.text)


@pytest.mark.parametrize("verb", ["clear", "empty", "get rid of", "ditch", "remove", "take out", "bin", "scrap"])
@pytest.mark.parametrize("whole", ["everything", "it all", "the lot", "all of it"])
@pytest.mark.parametrize("tail", ["", " out", " please"])
def test_a_take_out_verb_over_everything_empties_the_cart(conversation, verb, whole, tail):
    conversation.send("tents")
    conversation.send("add the first one")
    conversation.send("add the second one")
    said = conversation.send(f"{verb} {whole}{tail}")
    assert conversation.state().cart == {}, said.reply.content
    assert "removed 2 items" in said.reply.content
    again = conversation.send(f"{verb} {whole}{tail}")  # nothing left: said so, never a search
    assert "cart is empty" in again.reply.content.lower() and not again.reply.products


@pytest.mark.parametrize(
    "said",
    ["something less pricey?", "anything not as expensive", "any less costly ones?", "something lower-cost",
     "anything more budget friendly?", "something not so pricey"],
)  # fmt: skip
def test_a_cheaper_refinement_in_other_words_narrows_the_price_of_what_is_shown(conversation, said):
    shown = conversation.send("running shoes").reply.products
    reply = conversation.send(said).reply
    assert reply.products and max(p["price"] for p in reply.products) < max(p["price"] for p in shown), reply.content
    assert "don't have anything" not in reply.content


@pytest.mark.parametrize(
    "said", ["any other options?", "any more options", "what other options are there?", "what else have you got?"]
)
def test_asking_for_other_options_shows_the_next_results(conversation, said):
    first = {p["id"] for p in conversation.send("running shoes").reply.products}
    reply = conversation.send(said).reply
    assert reply.products and not first & {p["id"] for p in reply.products}, reply.content


@pytest.mark.parametrize(
    "said",
    ["thanks, that's everything", "that's it for now", "ok I'm all set, thanks", "okay that's everything",
     "that will be all", "alright, thanks", "I'm done for today, thank you"],
)  # fmt: skip
def test_a_goodbye_after_results_is_a_goodbye_never_a_search(conversation, said):
    conversation.send("laptops")
    reply = conversation.send(said).reply
    assert reply.products == [] and "welcome" in reply.content.lower(), reply.content
