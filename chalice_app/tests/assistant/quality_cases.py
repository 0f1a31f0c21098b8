"""The catalog assistant's quality set: shopper requests and what must hold for each.

A case is a short conversation (one session): steps of (message, checks). A message
may be a function of the conversation so far (to name a product it was shown). A
check gets the conversation after the step and raises AssertionError with a reason.
"""

import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Callable, List, Sequence, Tuple, Union

from chalicelib import catalog

Message = Union[str, Callable[[Any], str]]
Position = Union[int, Callable[[List[dict]], dict]]
Check = Callable[[Any], None]


@dataclass(frozen=True)
class Case:
    name: str
    steps: Tuple[Tuple[Message, Tuple[Check, ...]], ...]


def case(name: str, *steps: Tuple[Message, Sequence[Check]]) -> Case:
    return Case(name, tuple((message, tuple(checks)) for message, checks in steps))


# --- checks: each returns a function of the conversation (its last reply is ``said[-1]``) ------


def _last(conversation):
    return conversation.said[-1]


def some_products(minimum: int = 1) -> Check:
    def check(conversation):
        found = len(_last(conversation).products)
        assert found >= minimum, f"expected at least {minimum} products, got {found}"

    check.__name__ = f"some_products({minimum})"
    return check


def no_products(conversation) -> None:
    assert _last(conversation).products == [], f"expected no products, got {_last(conversation).ids}"


def every(description: str, predicate: Callable[[dict], bool]) -> Check:
    """Every product of the last reply satisfies ``predicate`` (and there is at least one)."""

    def check(conversation):
        products = _last(conversation).products
        assert products, f"expected products {description}, got none: {_last(conversation).content!r}"
        bad = [(item["id"], item["name"], item["price"], item["brand"]) for item in products if not predicate(item)]
        assert not bad, f"not {description}: {bad}"

    check.__name__ = f"every({description})"
    return check


def category(name: str) -> Check:
    return every(f"in {name}", lambda item: item["category"] == name)


def price_below(limit: float) -> Check:
    return every(f"under ${limit}", lambda item: item["price"] < limit)


def price_at_most(limit: float) -> Check:
    return every(f"at most ${limit}", lambda item: item["price"] <= limit)


def price_at_least(limit: float) -> Check:
    return every(f"at least ${limit}", lambda item: item["price"] >= limit)


def brand_is(*brands: str) -> Check:
    return every(f"by {' or '.join(brands)}", lambda item: item["brand"] in brands)


def brand_is_not(brand: str) -> Check:
    return every(f"not by {brand}", lambda item: item["brand"] != brand)


def rating_at_least(minimum: float) -> Check:
    return every(f"rated {minimum}+", lambda item: item["rating"] >= minimum)


def attribute(key: str, accepted: Callable[[Any], bool], description: str) -> Check:
    return every(description, lambda item: accepted(item["attributes"].get(key)))


def ordered_by(key: Callable[[dict], Any], description: str) -> Check:
    def check(conversation):
        values = [key(item) for item in _last(conversation).products]
        assert len(values) >= 2 and values == sorted(values), f"not {description}: {values}"

    check.__name__ = f"ordered_by({description})"
    return check


def first_is_extreme(name: str, key: Callable[[dict], Any], description: str) -> Check:
    """The first product is the catalog's extreme of its category (e.g. the cheapest yoga mat)."""

    def check(conversation):
        first = _last(conversation).products[0]
        best = min(key(item) for item in catalog.products() if item["category"] == name)
        assert key(first) == best, f"first product {first['name']} is not the {description} {name}"

    check.__name__ = f"first_is_extreme({description})"
    return check


def says(pattern: str) -> Check:
    def check(conversation):
        content = _last(conversation).content
        assert re.search(pattern, content, re.IGNORECASE), f"reply does not say /{pattern}/: {content!r}"

    check.__name__ = f"says({pattern})"
    return check


def _pick(products: List[dict], position: "Position") -> dict:
    """Product ``position`` (1-based) of a list, or the one a selector (``cheapest``...) picks."""
    return position(products) if callable(position) else products[position - 1]


def is_product_of_step(step: int, position: "Position") -> Check:
    """The reply is about product ``position`` (1-based, or a selector) of step ``step``'s reply, and names it."""

    def check(conversation):
        expected = _pick(conversation.said[step].products, position)
        reply = _last(conversation)
        assert reply.ids[:1] == [expected["id"]], f"expected {expected['id']} {expected['name']}, got {reply.ids}"
        assert expected["name"] in reply.content, f"the reply does not name {expected['name']}"

    check.__name__ = f"is_product_of_step({step}, {position})"
    return check


def products_of_step(step: int, positions: Sequence[int]) -> Check:
    def check(conversation):
        earlier = conversation.said[step].products
        expected = [earlier[position - 1]["id"] for position in positions]
        assert _last(conversation).ids == expected, f"expected {expected}, got {_last(conversation).ids}"

    check.__name__ = f"products_of_step({step}, {list(positions)})"
    return check


def cheaper_than_step(step: int) -> Check:
    def check(conversation):
        floor = min(item["price"] for item in conversation.said[step].products)
        every(f"cheaper than ${floor}", lambda item: item["price"] < floor)(conversation)

    check.__name__ = f"cheaper_than_step({step})"
    return check


def pricier_than_step(step: int) -> Check:
    def check(conversation):
        ceiling = max(item["price"] for item in conversation.said[step].products)
        every(f"dearer than ${ceiling}", lambda item: item["price"] > ceiling)(conversation)

    check.__name__ = f"pricier_than_step({step})"
    return check


def new_products_since(step: int) -> Check:
    def check(conversation):
        repeated = set(_last(conversation).ids) & set(conversation.said[step].ids)
        assert _last(conversation).ids and not repeated, f"shown again: {repeated}"

    check.__name__ = f"new_products_since({step})"
    return check


def cheapest_and_best_of_step(step: int) -> Check:
    def check(conversation):
        shown = conversation.said[step].products
        cheapest = min(shown, key=by_price)["id"]
        best = max(shown, key=lambda item: (item["rating"], item["review_count"]))["id"]
        got = _last(conversation).ids
        assert got == [cheapest, best], f"expected {[cheapest, best]}, got {got}"

    check.__name__ = f"cheapest_and_best_of_step({step})"
    return check


def cart_is(*lines: Tuple[int, "Position", int]) -> Check:
    """The saved cart holds, for each (step, position, quantity), that many of that product,
    and the reply states the exact total."""

    def check(conversation):
        expected = {}
        for step, position, quantity in lines:
            product = _pick(conversation.said[step].products, position)
            expected[product["id"]] = expected.get(product["id"], 0) + quantity
        assert conversation.state().cart == expected, f"cart {conversation.state().cart} != {expected}"
        total = sum(Decimal(str(catalog.product(pid)["price"])) * quantity for pid, quantity in expected.items())
        assert f"Total: ${total:,.2f}" in _last(conversation).content, f"total ${total} not in the reply"

    check.__name__ = f"cart_is({lines})"
    return check


def cart_empty(conversation) -> None:
    assert conversation.state().cart == {}, f"cart is not empty: {conversation.state().cart}"


def name_of(step: int, position: int) -> Callable[[Any], str]:
    return lambda conversation: conversation.said[step].products[position - 1]["name"]


def by_price(item):
    return item["price"]


def cheapest(products: List[dict]) -> dict:
    return min(products, key=by_price)


def dearest(products: List[dict]) -> dict:
    return max(products, key=by_price)


def best_rated(products: List[dict]) -> dict:
    return max(products, key=lambda item: (item["rating"], item["review_count"]))


def last(products: List[dict]) -> dict:
    return products[-1]


def longest_battery(products: List[dict]) -> dict:
    return max(products, key=lambda item: item["attributes"].get("battery_hours", 0))


def only_of_its_brand(products: List[dict]) -> dict:
    """The first product whose brand no other shown product has ("the Garmin" then means it)."""
    brands = [item["brand"] for item in products]
    found = [item for item in products if brands.count(item["brand"]) == 1]
    assert found, f"every brand shown twice: {brands}"
    return found[0]


def twice_shown_brand(products: List[dict]) -> str:
    brands = [item["brand"] for item in products]
    found = [brand for brand in brands if brands.count(brand) > 1]
    assert found, f"no brand shown twice: {brands}"
    return found[0]


def of_brand(brand: str) -> Callable[[List[dict]], dict]:
    def pick(products: List[dict]) -> dict:
        found = [item for item in products if item["brand"] == brand]
        assert found, f"no {brand} product was shown"
        return found[0]

    return pick


def outcome(kind: str) -> Check:
    """What the assistant made of the message, as it records it in the session's last turn."""

    def check(conversation):
        recorded = (conversation.state().last_turn or {}).get("outcome")
        assert recorded == kind, f"outcome {recorded!r}, expected {kind!r}"

    check.__name__ = f"outcome({kind})"
    return check


def asks(conversation) -> None:
    """A short question instead of a guess: no products, the turn recorded as a clarifying question."""
    no_products(conversation)
    outcome("clarify")(conversation)


def not_carried(conversation) -> None:
    """An honest "we don't carry that": no products, recorded as such, with categories to try instead."""
    no_products(conversation)
    outcome("not_carried")(conversation)
    suggested = (conversation.state().last_turn or {}).get("suggested") or []
    assert suggested and set(suggested) <= set(catalog.category_names()), f"suggested categories: {suggested}"


def searched(**fields: Any) -> Check:
    """The active search holds these constraints (for an honest no-match, which shows no products)."""

    def check(conversation):
        filters = conversation.state().filters or {}
        wrong = {name: filters.get(name) for name, value in fields.items() if filters.get(name) != value}
        assert not wrong, f"search {wrong} != {fields}"

    check.__name__ = f"searched({fields})"
    return check


def brand_not_in(*brands: str) -> Check:
    return every(f"not by {' or '.join(brands)}", lambda item: item["brand"] not in brands)


def some_price_above(limit: float) -> Check:
    def check(conversation):
        prices = [item["price"] for item in _last(conversation).products]
        assert any(price > limit for price in prices), f"no price above ${limit}: {prices}"

    check.__name__ = f"some_price_above({limit})"
    return check


def search_bounded(conversation) -> None:
    """The active search's numbers are finite and no larger than any real price."""
    filters = conversation.state().filters or {}
    for name in ("min_price", "max_price", "min_rating"):
        value = filters.get(name)
        assert value is None or (isinstance(value, (int, float)) and 0 <= value <= 1_000_000), f"{name} = {value!r}"


def cart_unchanged(conversation) -> None:
    """This turn did not touch the cart: it holds what it held after the previous turn."""
    before, after = conversation.carts[-2] if len(conversation.carts) > 1 else {}, conversation.carts[-1]
    assert before == after, f"the cart changed: {before} -> {after}"


def cart_items(count: int) -> Check:
    def check(conversation):
        held = sum(conversation.state().cart.values())
        assert held == count, f"cart holds {held} items, expected {count}"

    check.__name__ = f"cart_items({count})"
    return check


def median_price(name: str) -> float:
    prices = sorted(item["price"] for item in catalog.products() if item["category"] == name)
    return prices[len(prices) // 2]


rating_first = ordered_by(lambda item: -item["rating"], "best rated first")
price_up = ordered_by(by_price, "cheapest first")
price_down = ordered_by(lambda item: -item["price"], "dearest first")


# --- the cases ------------------------------------------------------------------------------

CASES: List[Case] = [
    # Price bounds, with a category
    case("under a price", ("running shoes under $80", [category("running shoes"), price_below(80)])),
    case(
        "between two prices",
        ("headphones between 50 and 100", [category("headphones"), price_at_least(50), price_at_most(100)]),
    ),
    case("over a price", ("laptops over $1500", [category("laptops"), price_at_least(1500)])),
    case("dollars in words", ("a tent under 200 dollars", [category("tents"), price_below(200)])),
    case("around a price", ("backpack around $100", [category("backpacks"), price_at_least(80), price_at_most(120)])),
    case("bucks", ("coffee maker for less than 50 bucks", [category("coffee makers"), price_below(50)])),
    case("up to", ("smartwatch up to 300", [category("smartwatches"), price_at_most(300)])),
    case("dash range", ("yoga mat $20-$40", [category("yoga mats"), price_at_least(20), price_at_most(40)])),
    case(
        "thousands",
        (
            "gaming laptop under 1.5k",
            [category("laptops"), price_below(1500), attribute("use", lambda value: value == "gaming", "for gaming")],
        ),
    ),
    # Brands
    case("one brand", ("Nike running shoes", [category("running shoes"), brand_is("Nike")])),
    case(
        "brand and price",
        ("Garmin watches under 400", [category("smartwatches"), brand_is("Garmin"), price_below(400)]),
    ),
    case(
        "excluded brand",
        ("jackets but not Columbia", [category("jackets"), brand_is_not("Columbia"), some_products(3)]),
    ),
    case("two brands", ("Sony or Bose headphones", [category("headphones"), brand_is("Sony", "Bose")])),
    case("brand alone", ("The North Face", [brand_is("The North Face"), some_products(3)])),
    # Ratings
    case("minimum rating", ("hiking boots rated 4.5 or higher", [category("hiking boots"), rating_at_least(4.5)])),
    case("highly rated", ("highly rated tents", [category("tents"), rating_at_least(4.5)])),
    case(
        "stars and price",
        ("backpacks with 4+ stars under 150", [category("backpacks"), rating_at_least(4.0), price_below(150)]),
    ),
    # Sorting
    case(
        "cheapest",
        (
            "cheapest yoga mats",
            [
                category("yoga mats"),
                ordered_by(by_price, "cheapest first"),
                first_is_extreme("yoga mats", by_price, "cheapest"),
            ],
        ),
    ),
    case(
        "best rated",
        (
            "best rated coffee makers",
            [
                category("coffee makers"),
                ordered_by(lambda item: -item["rating"], "best rated first"),
                first_is_extreme("coffee makers", lambda item: -item["rating"], "best rated"),
            ],
        ),
    ),
    case(
        "most expensive",
        ("most expensive laptops", [category("laptops"), ordered_by(lambda item: -item["price"], "dearest first")]),
    ),
    case(
        "most popular",
        (
            "most popular headphones",
            [category("headphones"), ordered_by(lambda item: -item["review_count"], "most reviewed")],
        ),
    ),
    # What the product is like
    case(
        "waterproof",
        ("waterproof hiking boots", [category("hiking boots"), attribute("waterproof", bool, "waterproof")]),
    ),
    case(
        "feature and price",
        (
            "noise cancelling headphones under 200",
            [category("headphones"), price_below(200), attribute("noise_cancelling", bool, "noise cancelling")],
        ),
    ),
    case(
        "trail",
        (
            "trail running shoes",
            [category("running shoes"), attribute("terrain", lambda value: value == "trail", "for trails")],
        ),
    ),
    case(
        "a kind of coffee maker",
        (
            "espresso machine",
            [category("coffee makers"), attribute("type", lambda value: "espresso" in value, "an espresso machine")],
        ),
    ),
    case(
        "specs",
        (
            "16 inch laptop with 32gb ram",
            [
                category("laptops"),
                attribute("ram_gb", lambda value: value == 32, "32 GB RAM"),
                attribute("screen_in", lambda value: value == 16, "16 inch"),
            ],
        ),
    ),
    case(
        "earbuds",
        ("wireless earbuds", [category("headphones"), attribute("form", lambda value: value == "in-ear", "in-ear")]),
    ),
    case(
        "down jacket", ("down jacket", [category("jackets"), attribute("type", lambda value: value == "down", "down")])
    ),
    case(
        "laptop backpack",
        (
            "backpack for my laptop",
            [category("backpacks"), attribute("laptop_sleeve_in", bool, "with a laptop sleeve")],
        ),
    ),
    # Follow-ups that use the conversation
    case(
        "cheaper ones",
        ("running shoes under $150", [some_products(3)]),
        ("cheaper ones", [category("running shoes"), cheaper_than_step(0)]),
    ),
    case("only a brand", ("headphones", [some_products(3)]), ("only Sony", [category("headphones"), brand_is("Sony")])),
    case(
        "more about the second one",
        ("tents", [some_products(3)]),
        ("tell me more about the second one", [is_product_of_step(0, 2)]),
    ),
    case(
        "compare two",
        ("smartwatches under 500", [some_products(3)]),
        ("compare 1 and 3", [products_of_step(0, [1, 3]), says("cheapest|best rated")]),
    ),
    case("compare them", ("yoga mats", [some_products(3)]), ("compare them", [products_of_step(0, [1, 2, 3])])),
    case(
        "sort afterwards",
        ("laptops", [some_products(3)]),
        ("best rated", [category("laptops"), ordered_by(lambda item: -item["rating"], "best rated first")]),
    ),
    case("show more", ("backpacks", [some_products(5)]), ("show more", [category("backpacks"), new_products_since(0)])),
    case(
        "brand and earlier budget",
        ("hiking boots under 150", [price_below(150)]),
        ("only Salomon", [category("hiking boots"), brand_is("Salomon"), price_below(150)]),
    ),
    case(
        "more expensive ones",
        ("yoga mats under 60", [some_products(3)]),
        ("more expensive ones", [category("yoga mats"), pricier_than_step(0)]),
    ),
    case(
        "by name",
        ("smartwatches", [some_products(3)]),
        (lambda conversation: f"what about the {name_of(0, 3)(conversation)}?", [is_product_of_step(0, 3)]),
    ),
    case(
        "pronoun",
        ("coffee makers under 100", [some_products(2)]),
        ("tell me about the first one", [is_product_of_step(0, 1)]),
        ("add it to my cart", [cart_is((0, 1, 1))]),
    ),
    case(
        "a question about it",
        ("hiking boots", [some_products(3)]),
        ("show me the first one", [is_product_of_step(0, 1)]),
        ("is it waterproof?", [is_product_of_step(0, 1), says(r"^(yes|no), the .* waterproof")]),
    ),
    case(
        "compare by what they are",
        ("tents", [some_products(3)]),
        ("compare the cheapest and the best rated", [cheapest_and_best_of_step(0), says("cheapest")]),
    ),
    case(
        "a count is not a position", ("tents", [some_products(3)]), ("order 3 tents", [cart_empty, category("tents")])
    ),
    case(
        "exclude afterwards",
        ("jackets", [some_products(3)]),
        ("not Columbia", [category("jackets"), brand_is_not("Columbia")]),
    ),
    # The cart
    case(
        "cart total",
        ("tents under 300", [some_products(2)]),
        ("add the first one to my cart", [cart_is((0, 1, 1))]),
        ("add 2 of the second one", [cart_is((0, 1, 1), (0, 2, 2))]),
        ("show my cart", [cart_is((0, 1, 1), (0, 2, 2)), says(r"3 items")]),
        ("how much is the total?", [cart_is((0, 1, 1), (0, 2, 2))]),
    ),
    case(
        "cart remove",
        ("headphones", [some_products(3)]),
        ("add the second one to my cart", [cart_is((0, 2, 1))]),
        ("put the third one in my cart too", [cart_is((0, 2, 1), (0, 3, 1))]),
        ("remove the second one", [cart_is((0, 3, 1))]),
    ),
    case("empty cart", ("show my cart", [no_products, says("cart is empty")])),
    case(
        "clear cart",
        ("backpacks", [some_products(1)]),
        ("add the first one to my cart", [cart_is((0, 1, 1))]),
        ("empty my cart", [cart_empty, says("empty")]),
    ),
    # Honest no-match, with a way out
    case(
        "no match suggests a budget",
        ("Hoka running shoes under $40", [no_products, says("couldn't find"), says(r"budget to \$\d+"), says("yes")]),
        ("yes", [brand_is("Hoka"), category("running shoes")]),
    ),
    case("nothing like it", ("pizza oven", [no_products, says("couldn't find|don't have")])),
    case("too low a budget", ("laptops under $100", [no_products, says(r"cheapest is .* at \$")])),
    # Greetings and help
    case("greeting", ("hi", [no_products, says("shopping assistant")])),
    case("help", ("help", [no_products, says("compare"), says("cart")])),
    case(
        "greeting then a request",
        (
            "hello! I need a tent for 4 people under 300",
            [
                category("tents"),
                price_below(300),
                attribute("capacity_people", lambda value: value == 4, "for 4 people"),
            ],
        ),
    ),
    case("thanks", ("thanks!", [no_products, says("welcome")])),
]

# --- shoppers' own words ---------------------------------------------------------------------
# Everyday phrasing, as a first-time shopper types it: negations, bounds in all their forms,
# references to what was shown, the cart by any reference, things the shop does not carry, typos,
# sorting both ways, topic switches, and messages that need a question back. Structure only.

NINES = "9" * 400

SHOPPER_CASES: List[Case] = [
    # Negation over a list, and more of it later
    case(
        "not two brands",
        (
            "running shoes but not Nike or Adidas",
            [category("running shoes"), brand_not_in("Nike", "Adidas"), some_products(3)],
        ),
        ("and no Puma either", [category("running shoes"), brand_not_in("Nike", "Adidas", "Puma")]),
        ("sort them from cheapest to most expensive", [brand_not_in("Nike", "Adidas", "Puma"), price_up]),
        ("I'll take the first one", [cart_is((2, 1, 1))]),
    ),
    case(
        "nothing from two brands",
        (
            "jackets please, nothing from Columbia or The North Face",
            [category("jackets"), brand_not_in("Columbia", "The North Face"), some_products(3)],
        ),
        (
            "only the waterproof ones",
            [
                category("jackets"),
                brand_not_in("Columbia", "The North Face"),
                attribute("waterproof", bool, "waterproof"),
            ],
        ),
        ("which is the cheapest of those?", [is_product_of_step(1, cheapest)]),
    ),
    case(
        "except a brand",
        ("any backpack except Patagonia", [category("backpacks"), brand_is_not("Patagonia"), some_products(3)]),
        ("under 100 bucks", [category("backpacks"), brand_is_not("Patagonia"), price_below(100)]),
        ("what about the second one?", [is_product_of_step(1, 2)]),
        ("add it", [cart_is((1, 2, 1))]),
    ),
    case(
        "without a brand, then back",
        ("headphones without Beats", [category("headphones"), brand_is_not("Beats"), some_products(3)]),
        ("actually only Sony or Bose", [category("headphones"), brand_is("Sony", "Bose")]),
        ("the best rated of those?", [is_product_of_step(1, best_rated)]),
    ),
    # Negation over attributes and categories
    case(
        "not in-ear or on-ear",
        (
            "headphones but not in-ear or on-ear",
            [category("headphones"), attribute("form", lambda value: value == "over-ear", "over-ear")],
        ),
        (
            "under 200",
            [
                category("headphones"),
                price_below(200),
                attribute("form", lambda value: value == "over-ear", "over-ear"),
            ],
        ),
    ),
    case(
        "without a feature",
        ("smartwatches without gps", [category("smartwatches"), attribute("gps", lambda value: not value, "no GPS")]),
        ("cheapest first", [price_up, attribute("gps", lambda value: not value, "no GPS")]),
    ),
    case(
        "no pods or espresso",
        (
            "a coffee maker, no pods or espresso please",
            [category("coffee makers"), attribute("type", lambda value: value not in ("pod", "espresso"), "no pod")],
        ),
        (
            "and nothing with a grinder",
            [
                category("coffee makers"),
                attribute("built_in_grinder", lambda value: not value, "no grinder"),
                attribute("type", lambda value: value not in ("pod", "espresso"), "no pod"),
            ],
        ),
    ),
    case(
        "except a category",
        (
            "waterproof gear except jackets",
            [every("not a jacket", lambda item: item["category"] != "jackets"), some_products(3)],
        ),
        (
            "and not boots either",
            [every("no jackets or boots", lambda item: item["category"] not in ("jackets", "hiking boots"))],
        ),
    ),
    # Upper bounds in all their forms
    case(
        "nothing over",
        ("a laptop, nothing over 800 please", [category("laptops"), price_at_most(800)]),
        ("hmm, what about up to 1000 instead?", [category("laptops"), price_at_most(1000), some_price_above(800)]),
        ("sort them from most to least expensive", [category("laptops"), price_at_most(1000), price_down]),
        ("compare the first two", [products_of_step(2, [1, 2])]),
        ("add the cheaper of those to my cart", [cart_is((3, cheapest, 1))]),
    ),
    case(
        "a hundred bucks",
        ("tents under a hundred bucks", [category("tents"), price_below(100)]),
        ("what's the best rated one?", [is_product_of_step(0, best_rated)]),
        ("I'll take it", [cart_is((0, best_rated, 1))]),
        ("make it two", [cart_is((0, best_rated, 2))]),
    ),
    case(
        "dollars after the number",
        ("headphones, 100 dollars or less", [category("headphones"), price_at_most(100)]),
        ("wireless ones", [category("headphones"), price_at_most(100), attribute("wireless", bool, "wireless")]),
        ("cheapest first", [price_up, price_at_most(100)]),
        ("tell me about number 3", [is_product_of_step(2, 3)]),
    ),
    case(
        "max",
        ("smartwatch, max 200", [category("smartwatches"), price_at_most(200)]),
        ("with gps", [category("smartwatches"), price_at_most(200), attribute("gps", bool, "GPS")]),
        ("show me the last one", [is_product_of_step(1, last)]),
        ("how long does the battery last on it?", [is_product_of_step(1, last)]),
    ),
    case(
        "no more than",
        ("coffee maker for no more than $60", [category("coffee makers"), price_at_most(60)]),
        ("which is the best rated?", [is_product_of_step(0, best_rated)]),
        ("put it in my basket", [cart_is((0, best_rated, 1))]),
        ("what's my total?", [cart_is((0, best_rated, 1))]),
    ),
    case(
        "at most with a k",
        ("gaming laptop, at most $1.5k", [category("laptops"), price_at_most(1500)]),
        ("how about under $1k?", [category("laptops"), price_below(1000)]),
    ),
    case(
        "below and less than",
        ("yoga mat below 30", [category("yoga mats"), price_below(30)]),
        ("less than 25 even", [category("yoga mats"), price_below(25)]),
        ("the first one please, add it", [cart_is((1, 1, 1))]),
    ),
    case(
        "up to then over",
        ("show me some jackets up to 250", [category("jackets"), price_at_most(250)]),
        ("what about the fancy ones, over $500?", [category("jackets"), price_at_least(500)]),
        ("the cheapest of those?", [is_product_of_step(1, cheapest)]),
    ),
    # Lower bounds, ranges, around
    case(
        "from a price",
        ("running shoes from $150", [category("running shoes"), price_at_least(150)]),
        ("best rated first", [category("running shoes"), price_at_least(150), rating_first]),
    ),
    case(
        "at least",
        ("hiking boots, at least 200 dollars", [category("hiking boots"), price_at_least(200)]),
        ("but under 300", [category("hiking boots"), price_at_least(200), price_below(300)]),
        ("compare 1 and 2", [products_of_step(1, [1, 2])]),
        ("the better rated one goes in my cart", [cart_is((2, best_rated, 1))]),
    ),
    case(
        "more than",
        ("laptops for more than 2000", [category("laptops"), price_at_least(2000)]),
        ("cheapest first", [category("laptops"), price_at_least(2000), price_up]),
    ),
    case(
        "a range in words",
        ("a tent somewhere between 100 and 250 dollars", [category("tents"), price_at_least(100), price_at_most(250)]),
        (
            "for 2 people",
            [category("tents"), price_at_most(250), attribute("capacity_people", lambda value: value == 2, "for 2")],
        ),
        ("the second one?", [is_product_of_step(1, 2)]),
    ),
    case(
        "around a k",
        ("a laptop around 1k", [category("laptops"), price_at_least(800), price_at_most(1200)]),
        (
            "with 16 gb ram",
            [category("laptops"), price_at_most(1200), attribute("ram_gb", lambda value: value == 16, "16 GB")],
        ),
    ),
    case(
        "about fifty",
        ("headphones for about $50", [category("headphones"), price_at_least(40), price_at_most(60)]),
        ("the top rated of them", [is_product_of_step(0, best_rated)]),
    ),
    case(
        "a new bound replaces the old one",
        ("tents under 300", [category("tents"), price_below(300)]),
        ("actually under 200", [category("tents"), price_below(200)]),
        ("ok under 150 then", [category("tents"), price_below(150)]),
        ("over 100", [category("tents"), price_at_least(100), price_below(150)]),
    ),
    case(
        "contradictory bounds",
        ("a tent over 500 but under 100", [asks]),
        ("under 100 then", [category("tents"), price_below(100)]),
    ),
    # Relative cheap and premium
    case(
        "cheap",
        ("cheap headphones", [category("headphones"), price_below(median_price("headphones"))]),
        ("noise cancelling ones", [category("headphones"), attribute("noise_cancelling", bool, "ANC")]),
    ),
    case(
        "premium",
        ("a premium coffee maker", [category("coffee makers"), price_at_least(median_price("coffee makers"))]),
        ("with a milk frother", [category("coffee makers"), attribute("milk_frother", bool, "frother")]),
        ("add the first one", [cart_is((1, 1, 1))]),
    ),
    case(
        "budget yoga mat",
        ("something cheap for yoga", [category("yoga mats"), price_below(median_price("yoga mats"))]),
        ("cork?", [category("yoga mats"), attribute("material", lambda value: value == "cork", "cork")]),
    ),
    # References and comparisons
    case(
        "compare the first two",
        ("smartwatches", [some_products(5)]),
        ("compare the first two", [products_of_step(0, [1, 2])]),
        ("add the cheaper one", [cart_is((1, cheapest, 1))]),
        ("and the other one too", [cart_is((1, 1, 1), (1, 2, 1))]),
    ),
    case(
        "how do two compare",
        ("headphones", [some_products(5)]),
        ("how do 2 and 4 compare?", [products_of_step(0, [2, 4])]),
        ("which of those is better rated?", [is_product_of_step(1, best_rated)]),
        ("ok add that one", [cart_is((1, best_rated, 1))]),
    ),
    case(
        "versus",
        ("laptops for students", [category("laptops"), some_products(3)]),
        ("1 vs 3", [products_of_step(0, [1, 3])]),
        ("and number 2 against number 5?", [products_of_step(0, [2, 5])]),
    ),
    case(
        "difference between",
        ("backpacks for travel", [category("backpacks"), some_products(3)]),
        ("what's the difference between the first and the last one?", [products_of_step(0, [1, 5])]),
        ("I'll go with the second", [cart_is((0, 2, 1))]),
    ),
    case(
        "all three",
        ("tents for 4 people", [category("tents"), some_products(3)]),
        ("compare all three", [products_of_step(0, [1, 2, 3])]),
        (
            "the lightest?",
            [is_product_of_step(0, lambda items: min(items[:3], key=lambda i: i["attributes"]["weight_kg"]))],
        ),
    ),
    case(
        "both",
        ("espresso machines", [category("coffee makers"), some_products(2)]),
        ("compare the top two", [products_of_step(0, [1, 2])]),
        ("add both to my cart", [cart_is((0, 1, 1), (0, 2, 1))]),
    ),
    case(
        "the battery on the first one",
        ("smartwatches with gps", [category("smartwatches"), attribute("gps", bool, "GPS")]),
        ("how long does the battery last on the first one?", [is_product_of_step(0, 1)]),
        ("and the third one?", [is_product_of_step(0, 3)]),
        ("compare the first and the third", [products_of_step(0, [1, 3])]),
    ),
    case(
        "by brand among those shown",
        ("running watches", [category("smartwatches"), some_products(3)]),
        (
            lambda c: f"tell me about the {only_of_its_brand(c.said[0].products)['brand']}",
            [is_product_of_step(0, only_of_its_brand)],
        ),
        ("is it water resistant?", [is_product_of_step(0, only_of_its_brand)]),
        (lambda c: f"and the {twice_shown_brand(c.said[0].products)}?", [asks]),  # two of that brand: which?
    ),
    case(
        "that one",
        ("hiking boots", [some_products(3)]),
        ("number 2", [is_product_of_step(0, 2)]),
        ("is that one waterproof?", [is_product_of_step(0, 2)]),
        ("add that one to my cart", [cart_is((0, 2, 1))]),
        ("and the first one as well", [cart_is((0, 1, 1), (0, 2, 1))]),
    ),
    case(
        "the last one",
        ("coffee makers under 100", [category("coffee makers"), some_products(3)]),
        ("what's the last one like?", [is_product_of_step(0, last)]),
        ("does it have a grinder?", [is_product_of_step(0, last)]),
    ),
    case(
        "superlatives over the list",
        ("jackets", [some_products(5)]),
        ("the most expensive of those?", [is_product_of_step(0, dearest)]),
        ("and the cheapest one", [is_product_of_step(0, cheapest)]),
        ("the best rated one", [is_product_of_step(0, best_rated)]),
    ),
    # The cart
    case(
        "remove the boots",
        ("hiking boots under 200", [category("hiking boots"), price_below(200)]),
        ("add the first one", [cart_is((0, 1, 1))]),
        ("now show me tents", [category("tents"), cart_unchanged]),
        ("add number 2", [cart_is((0, 1, 1), (2, 2, 1))]),
        ("remove the boots", [cart_is((2, 2, 1))]),
        ("what's in my cart?", [cart_is((2, 2, 1))]),
    ),
    case(
        "make it two of those",
        ("yoga mats", [some_products(3)]),
        ("I'll take the second one", [cart_is((0, 2, 1))]),
        ("make it two of those", [cart_is((0, 2, 2))]),
        ("actually make it 3", [cart_is((0, 2, 3))]),
        ("another one", [cart_is((0, 2, 4))]),
    ),
    case(
        "quantities when adding",
        ("backpacks for school", [category("backpacks"), some_products(2)]),
        ("add two of the first one", [cart_is((0, 1, 2))]),
        ("and 3 of the second", [cart_is((0, 1, 2), (0, 2, 3))]),
        ("remove one of the second", [cart_is((0, 1, 2), (0, 2, 2))]),
        ("how many items do I have?", [cart_items(4)]),
    ),
    case(
        "remove by name",
        ("headphones under 100", [some_products(3)]),
        ("add the first and the third", [cart_is((0, 1, 1), (0, 3, 1))]),
        (lambda c: f"remove the {name_of(0, 3)(c)}", [cart_is((0, 1, 1))]),
        ("take the other one out too", [cart_empty]),
    ),
    case(
        "remove by brand",
        ("Garmin watches", [brand_is("Garmin"), some_products(1)]),
        ("add the first one", [cart_is((0, 1, 1))]),
        ("running shoes by Brooks", [brand_is("Brooks"), cart_unchanged]),
        ("add the first", [cart_is((0, 1, 1), (2, 1, 1))]),
        ("remove the Garmin", [cart_is((2, 1, 1))]),
    ),
    case(
        "clear and show",
        ("tents", [some_products(2)]),
        ("add the first two to my cart", [cart_is((0, 1, 1), (0, 2, 1))]),
        ("what's in my basket?", [cart_is((0, 1, 1), (0, 2, 1))]),
        ("empty my basket please", [cart_empty]),
        ("show me my cart", [cart_empty, no_products]),
    ),
    case(
        "add with nothing shown",
        ("add it to my cart", [asks, cart_empty]),
        ("a rain jacket", [category("jackets"), some_products(2)]),
        ("add it", [asks, cart_empty]),  # "it" among several on screen: ask, do not guess
        ("the first one", [cart_is((1, 1, 1))]),
    ),
    case(
        "another after details",
        ("smartwatches under 150", [price_below(150), some_products(2)]),
        ("tell me about the second one", [is_product_of_step(0, 2)]),
        ("add 2 of those", [cart_is((0, 2, 2))]),
        ("one more", [cart_is((0, 2, 3))]),
        ("remove one", [cart_is((0, 2, 2))]),
    ),
    # What the shop does not carry, typos, filler
    case(
        "mountain bikes",
        ("do you have any mountain bikes?", [not_carried]),
        (
            "ok, what about a tent for two",
            [category("tents"), attribute("capacity_people", lambda value: value == 2, "for 2")],
        ),
    ),
    case("sleeping bag", ("sleeping bag", [not_carried]), ("a backpack for hiking then", [category("backpacks")])),
    case(
        "speakers",
        ("bluetooth speaker for the beach", [not_carried]),
        (
            "fine, wireless earbuds",
            [category("headphones"), attribute("form", lambda value: value == "in-ear", "in-ear")],
        ),
    ),
    case("kayaks", ("do you sell kayaks?", [not_carried]), ("what about jackets", [category("jackets")])),
    case(
        "blender",
        ("I need a blender", [not_carried]),
        ("a coffee maker then, under 50", [category("coffee makers"), price_below(50)]),
    ),
    case(
        "typo in the category",
        ("a good backpak for hiking", [category("backpacks")]),
        ("under 150", [category("backpacks"), price_below(150)]),
    ),
    case(
        "typos",
        ("hedphones under 50", [category("headphones"), price_below(50)]),
        ("noise cancelling", [category("headphones"), attribute("noise_cancelling", bool, "ANC")]),
    ),
    case(
        "typo smartwatch",
        ("smartwach with gps", [category("smartwatches"), attribute("gps", bool, "GPS")]),
        ("the cheapest one", [is_product_of_step(0, cheapest)]),
    ),
    case(
        "typo running",
        (
            "runing shoes for trail",
            [category("running shoes"), attribute("terrain", lambda value: value == "trail", "trail")],
        ),
        ("waterproof ones", [category("running shoes"), attribute("waterproof", bool, "waterproof")]),
    ),
    case(
        "typo brand",
        ("Salomn jackets", [category("jackets"), brand_is("Salomon")]),
        ("cheapest first", [brand_is("Salomon"), price_up]),
    ),
    case(
        "typo coffee",
        ("coffe maker with a grinder", [category("coffee makers"), attribute("built_in_grinder", bool, "grinder")]),
    ),
    case(
        "polite filler",
        ("Hi! Could you please help me find a yoga mat?", [category("yoga mats")]),
        ("I'd like one that is non-slip if possible", [category("yoga mats"), attribute("non_slip", bool, "non-slip")]),
        ("thanks so much!", [no_products]),
    ),
    case(
        "more filler",
        ("Hello there, I was wondering if you have any hiking boots", [category("hiking boots")]),
        ("ideally waterproof, thank you", [category("hiking boots"), attribute("waterproof", bool, "waterproof")]),
    ),
    case(
        "can you show me",
        ("can you show me some tents please?", [category("tents"), some_products(3)]),
        ("could you sort them by price?", [category("tents"), price_up]),
    ),
    # Sorting both ways, and "top rated X"
    case(
        "most to least expensive",
        ("coffee makers from most to least expensive", [category("coffee makers"), price_down]),
        ("now from least to most expensive", [category("coffee makers"), price_up]),
    ),
    case(
        "top rated",
        ("what are the top rated smartwatches?", [category("smartwatches"), rating_first]),
        ("tell me more about the first one", [is_product_of_step(0, 1)]),
    ),
    case(
        "highest price first",
        ("tents, highest price first", [category("tents"), price_down]),
        ("lowest price first", [category("tents"), price_up]),
        ("best reviews first", [category("tents"), rating_first]),
    ),
    case(
        "worst rated",
        ("laptops sorted by rating", [category("laptops"), rating_first]),
        ("sort by price high to low", [category("laptops"), price_down]),
    ),
    case(
        "cheapest of a category",
        ("what's the cheapest tent you have?", [category("tents"), first_is_extreme("tents", by_price, "cheapest")]),
        (
            "what about the most expensive ones?",
            [category("tents"), first_is_extreme("tents", lambda item: -item["price"], "dearest")],
        ),
    ),
    # Multi-constraint sentences and topic switches
    case(
        "many constraints",
        (
            "waterproof hiking boots from Merrell or Salomon under 200, best rated first",
            [category("hiking boots"), brand_is("Merrell", "Salomon"), price_below(200), rating_first],
        ),
    ),
    case(
        "many constraints 2",
        (
            "Sony or Bose noise cancelling headphones between 100 and 300",
            [
                category("headphones"),
                brand_is("Sony", "Bose"),
                price_at_least(100),
                price_at_most(300),
                attribute("noise_cancelling", bool, "ANC"),
            ],
        ),
        ("compare the first two", [products_of_step(0, [1, 2])]),
    ),
    case(
        "topic switch",
        ("running shoes under 100", [category("running shoes"), price_below(100)]),
        ("actually, show me headphones instead", [category("headphones")]),
        ("over-ear ones", [category("headphones"), attribute("form", lambda value: value == "over-ear", "over-ear")]),
        (
            "back to shoes: trail ones",
            [category("running shoes"), attribute("terrain", lambda value: value == "trail", "trail")],
        ),
    ),
    case(
        "topic switch keeps the cart",
        ("a down jacket", [category("jackets")]),
        ("add the first one", [cart_is((0, 1, 1))]),
        ("and a tent for 2 people under 200", [category("tents"), price_below(200), cart_unchanged]),
        ("add the cheapest one", [cart_is((0, 1, 1), (2, cheapest, 1))]),
        ("show my cart", [cart_is((0, 1, 1), (2, cheapest, 1))]),
    ),
    case(
        "women's rain jacket",
        ("a women's rain jacket under 150 with a hood", [category("jackets"), price_below(150)]),
        ("packable?", [category("jackets"), attribute("packable", bool, "packable")]),
    ),
    # When the assistant cannot tell, it asks
    case("vague", ("something nice for my brother", [asks]), ("he runs a lot", [category("running shoes")])),
    case("a reference with nothing shown", ("compare the first two", [asks]), ("tell me about the second one", [asks])),
    case(
        "out of range",
        ("tents", [some_products(5)]),
        ("tell me about number 9", [asks]),
        ("number 4 then", [is_product_of_step(0, 4)]),
    ),
    case(
        "which one to remove",
        ("headphones", [some_products(3)]),
        ("add the first and the second", [cart_is((0, 1, 1), (0, 2, 1))]),
        ("remove it", [asks, cart_unchanged]),
        ("the second one", [cart_is((0, 1, 1))]),
    ),
    case(
        "a name that is not on screen",
        ("running shoes under 100", [some_products(5)]),
        ("add Puma Glide 5 to my cart", [asks, cart_empty]),
        ("add 2 to my cart", [cart_is((0, 2, 1))]),
    ),
    case(
        "a gift",
        ("I'm looking for a gift for my dad who likes hiking", [asks]),
        ("hiking boots then, waterproof", [category("hiking boots"), attribute("waterproof", bool, "waterproof")]),
        ("the second one", [is_product_of_step(1, 2)]),
        ("compare it with the first one", [products_of_step(1, [2, 1])]),
    ),
    case(
        "gym headphones",
        (
            "need new headphones for the gym, not too pricey",
            [category("headphones"), price_below(median_price("headphones"))],
        ),
        ("which one has the longest battery?", [is_product_of_step(0, longest_battery)]),
        ("add it to my cart", [cart_is((0, longest_battery, 1))]),
        ("how much is everything?", [cart_is((0, longest_battery, 1))]),
        ("clear it all", [cart_empty]),
    ),
    case(
        "not about products",
        ("what's your return policy?", [asks]),
        ("ok, laptops then", [category("laptops"), some_products(5)]),
        ("not sure", [asks]),
        ("show me something else", [category("laptops"), new_products_since(1)]),
        ("under 1000", [category("laptops"), price_below(1000)]),
    ),
    case(
        "words that only look like the catalog's",
        ("do you have any books?", [not_carried]),
        ("I'd like to buy a phone", [not_carried]),
        ("what do you sell?", [no_products, outcome("help")]),
        ("best value headphones", [category("headphones")]),
        ("a bath mat", [not_carried]),
    ),
    case(
        "two of a kind in the cart",
        ("show me backpacks with a laptop sleeve", [category("backpacks"), some_products(5)]),
        (
            "add the biggest one",
            [cart_is((0, lambda items: max(items, key=lambda i: i["attributes"]["capacity_l"]), 1))],
        ),
        ("and the smallest one", [cart_items(2)]),
        ("remove the backpack", [asks, cart_unchanged]),  # two backpacks: which one?
        ("the biggest one", [cart_is((0, lambda items: min(items, key=lambda i: i["attributes"]["capacity_l"]), 1))]),
    ),
    case(
        "every comparison phrasing",
        ("smartwatches", [some_products(5)]),
        ("is the first one better than the third?", [products_of_step(0, [1, 3])]),
        ("which is better, 1 or 2?", [products_of_step(0, [1, 2])]),
        ("the second or the fourth?", [products_of_step(0, [2, 4])]),
        ("1, 2 and 3 side by side please", [products_of_step(0, [1, 2, 3])]),
        ("put them side by side", [products_of_step(0, [1, 2, 3]), cart_empty]),
    ),
    case(
        "adding by positions",
        ("smartwatches", [some_products(5)]),
        ("add 1 and 3", [cart_is((0, 1, 1), (0, 3, 1))]),
        ("give me 2 of the fifth", [cart_is((0, 1, 1), (0, 3, 1), (0, 5, 2))]),
        ("what's the rating of the second?", [is_product_of_step(0, 2)]),
        ("add all of them", [cart_is((0, 1, 2), (0, 2, 1), (0, 3, 2), (0, 4, 1), (0, 5, 3))]),
    ),
    case(
        "more everyday spellings",
        (
            "I need a coffe machine with a grinder for under 300 bucks",
            [no_products, searched(category="coffee makers", max_price=299.99)],
        ),
        (
            "headphones between fifty and a hundred dollars",
            [category("headphones"), price_at_least(50), price_at_most(100)],
        ),
        ("jackets 100-200", [category("jackets"), price_at_least(100), price_at_most(200)]),
        ("On running shoes", [category("running shoes"), brand_is("On")]),
        ("nikes", [brand_is("Nike")]),
    ),
    case(
        "follow-ups that do not leave the search",
        ("tents under 300", [category("tents"), price_below(300)]),
        ("lighter ones", [no_products, searched(category="tents", max_price=299.99)]),  # no jump to shoes
        ("back to the previous list", [asks]),
        (
            "for 4 people",
            [category("tents"), price_below(300), attribute("capacity_people", lambda value: value == 4, "for 4")],
        ),
    ),
    case(
        "more ways to say no",
        ("not interested in Nike, show me running shoes", [category("running shoes"), brand_is_not("Nike")]),
        (
            "running shoes, no Nike no Adidas no Puma",
            [category("running shoes"), brand_not_in("Nike", "Adidas", "Puma")],
        ),
        (
            "anything but laptops under 100",
            [every("not a laptop", lambda item: item["category"] != "laptops"), price_below(100)],
        ),
        (
            "boots but not the waterproof ones",
            [category("hiking boots"), attribute("waterproof", lambda value: not value, "not waterproof")],
        ),
    ),
    # Cost: long and absurd numbers
    case(
        "four hundred nines",
        ("headphones under $" + NINES, [category("headphones"), search_bounded, some_products(3)]),
        ("cheapest first", [price_up, search_bounded]),
    ),
    case(
        "a wall of digits",
        ("tents " + "1234567890" * 400, [search_bounded]),
        ("tents under 200", [category("tents"), price_below(200)]),
    ),
]

CASES += SHOPPER_CASES
