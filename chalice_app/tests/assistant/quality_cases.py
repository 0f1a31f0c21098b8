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


def is_product_of_step(step: int, position: int) -> Check:
    """The reply is about product ``position`` (1-based) of step ``step``'s reply, and names it."""

    def check(conversation):
        expected = conversation.said[step].products[position - 1]
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


def cart_is(*lines: Tuple[int, int, int]) -> Check:
    """The saved cart holds, for each (step, position, quantity), that many of that product,
    and the reply states the exact total."""

    def check(conversation):
        expected = {}
        for step, position, quantity in lines:
            product = conversation.said[step].products[position - 1]
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


# --- the cases ------------------------------------------------------------------------------

CASES: List[Case] = [
    # Price bounds, with a category
    case("under a price", ("running shoes under $80", [category("running shoes"), price_below(80)])),
    case("between two prices", ("headphones between 50 and 100",
                                [category("headphones"), price_at_least(50), price_at_most(100)])),
    case("over a price", ("laptops over $1500", [category("laptops"), price_at_least(1500)])),
    case("dollars in words", ("a tent under 200 dollars", [category("tents"), price_below(200)])),
    case("around a price", ("backpack around $100", [category("backpacks"), price_at_least(80), price_at_most(120)])),
    case("bucks", ("coffee maker for less than 50 bucks", [category("coffee makers"), price_below(50)])),
    case("up to", ("smartwatch up to 300", [category("smartwatches"), price_at_most(300)])),
    case("dash range", ("yoga mat $20-$40", [category("yoga mats"), price_at_least(20), price_at_most(40)])),
    case("thousands", ("gaming laptop under 1.5k", [category("laptops"), price_below(1500),
                                                     attribute("use", lambda value: value == "gaming", "for gaming")])),
    # Brands
    case("one brand", ("Nike running shoes", [category("running shoes"), brand_is("Nike")])),
    case("brand and price", ("Garmin watches under 400", [category("smartwatches"), brand_is("Garmin"),
                                                          price_below(400)])),
    case("excluded brand", ("jackets but not Columbia", [category("jackets"), brand_is_not("Columbia"),
                                                         some_products(3)])),
    case("two brands", ("Sony or Bose headphones", [category("headphones"), brand_is("Sony", "Bose")])),
    case("brand alone", ("The North Face", [brand_is("The North Face"), some_products(3)])),
    # Ratings
    case("minimum rating", ("hiking boots rated 4.5 or higher", [category("hiking boots"), rating_at_least(4.5)])),
    case("highly rated", ("highly rated tents", [category("tents"), rating_at_least(4.5)])),
    case("stars and price", ("backpacks with 4+ stars under 150",
                             [category("backpacks"), rating_at_least(4.0), price_below(150)])),
    # Sorting
    case("cheapest", ("cheapest yoga mats", [category("yoga mats"), ordered_by(by_price, "cheapest first"),
                                             first_is_extreme("yoga mats", by_price, "cheapest")])),
    case("best rated", ("best rated coffee makers", [category("coffee makers"),
                                                     ordered_by(lambda item: -item["rating"], "best rated first"),
                                                     first_is_extreme("coffee makers", lambda item: -item["rating"],
                                                                      "best rated")])),
    case("most expensive", ("most expensive laptops", [category("laptops"),
                                                       ordered_by(lambda item: -item["price"], "dearest first")])),
    case("most popular", ("most popular headphones",
                          [category("headphones"), ordered_by(lambda item: -item["review_count"], "most reviewed")])),
    # What the product is like
    case("waterproof", ("waterproof hiking boots", [category("hiking boots"),
                                                    attribute("waterproof", bool, "waterproof")])),
    case("feature and price", ("noise cancelling headphones under 200",
                               [category("headphones"), price_below(200),
                                attribute("noise_cancelling", bool, "noise cancelling")])),
    case("trail", ("trail running shoes", [category("running shoes"),
                                           attribute("terrain", lambda value: value == "trail", "for trails")])),
    case("a kind of coffee maker", ("espresso machine", [category("coffee makers"),
                                                         attribute("type", lambda value: "espresso" in value,
                                                                   "an espresso machine")])),
    case("specs", ("16 inch laptop with 32gb ram", [category("laptops"),
                                                    attribute("ram_gb", lambda value: value == 32, "32 GB RAM"),
                                                    attribute("screen_in", lambda value: value == 16, "16 inch")])),
    case("earbuds", ("wireless earbuds", [category("headphones"),
                                          attribute("form", lambda value: value == "in-ear", "in-ear")])),
    case("down jacket", ("down jacket", [category("jackets"),
                                         attribute("type", lambda value: value == "down", "down")])),
    case("laptop backpack", ("backpack for my laptop", [category("backpacks"),
                                                        attribute("laptop_sleeve_in", bool, "with a laptop sleeve")])),
    # Follow-ups that use the conversation
    case("cheaper ones", ("running shoes under $150", [some_products(3)]),
         ("cheaper ones", [category("running shoes"), cheaper_than_step(0)])),
    case("only a brand", ("headphones", [some_products(3)]),
         ("only Sony", [category("headphones"), brand_is("Sony")])),
    case("more about the second one", ("tents", [some_products(3)]),
         ("tell me more about the second one", [is_product_of_step(0, 2)])),
    case("compare two", ("smartwatches under 500", [some_products(3)]),
         ("compare 1 and 3", [products_of_step(0, [1, 3]), says("cheapest|best rated")])),
    case("compare them", ("yoga mats", [some_products(3)]),
         ("compare them", [products_of_step(0, [1, 2, 3])])),
    case("sort afterwards", ("laptops", [some_products(3)]),
         ("best rated", [category("laptops"), ordered_by(lambda item: -item["rating"], "best rated first")])),
    case("show more", ("backpacks", [some_products(5)]),
         ("show more", [category("backpacks"), new_products_since(0)])),
    case("brand and earlier budget", ("hiking boots under 150", [price_below(150)]),
         ("only Salomon", [category("hiking boots"), brand_is("Salomon"), price_below(150)])),
    case("more expensive ones", ("yoga mats under 60", [some_products(3)]),
         ("more expensive ones", [category("yoga mats"), pricier_than_step(0)])),
    case("by name", ("smartwatches", [some_products(3)]),
         (lambda conversation: f"what about the {name_of(0, 3)(conversation)}?", [is_product_of_step(0, 3)])),
    case("pronoun", ("coffee makers under 100", [some_products(2)]),
         ("tell me about the first one", [is_product_of_step(0, 1)]),
         ("add it to my cart", [cart_is((0, 1, 1))])),
    case("a question about it", ("hiking boots", [some_products(3)]),
         ("show me the first one", [is_product_of_step(0, 1)]),
         ("is it waterproof?", [is_product_of_step(0, 1), says(r"^(yes|no), the .* waterproof")])),
    case("compare by what they are", ("tents", [some_products(3)]),
         ("compare the cheapest and the best rated", [cheapest_and_best_of_step(0), says("cheapest")])),
    case("a count is not a position", ("tents", [some_products(3)]),
         ("order 3 tents", [cart_empty, category("tents")])),
    case("exclude afterwards", ("jackets", [some_products(3)]),
         ("not Columbia", [category("jackets"), brand_is_not("Columbia")])),
    # The cart
    case("cart total", ("tents under 300", [some_products(2)]),
         ("add the first one to my cart", [cart_is((0, 1, 1))]),
         ("add 2 of the second one", [cart_is((0, 1, 1), (0, 2, 2))]),
         ("show my cart", [cart_is((0, 1, 1), (0, 2, 2)), says(r"3 items")]),
         ("how much is the total?", [cart_is((0, 1, 1), (0, 2, 2))])),
    case("cart remove", ("headphones", [some_products(3)]),
         ("add the second one to my cart", [cart_is((0, 2, 1))]),
         ("put the third one in my cart too", [cart_is((0, 2, 1), (0, 3, 1))]),
         ("remove the second one", [cart_is((0, 3, 1))])),
    case("empty cart", ("show my cart", [no_products, says("cart is empty")])),
    case("clear cart", ("backpacks", [some_products(1)]),
         ("add the first one to my cart", [cart_is((0, 1, 1))]),
         ("empty my cart", [cart_empty, says("empty")])),
    # Honest no-match, with a way out
    case("no match suggests a budget", ("Hoka running shoes under $40",
                                        [no_products, says("couldn't find"), says(r"budget to \$\d+"), says("yes")]),
         ("yes", [brand_is("Hoka"), category("running shoes")])),
    case("nothing like it", ("pizza oven", [no_products, says("couldn't find|don't have")])),
    case("too low a budget", ("laptops under $100", [no_products, says(r"cheapest is .* at \$")])),
    # Greetings and help
    case("greeting", ("hi", [no_products, says("shopping assistant")])),
    case("help", ("help", [no_products, says("compare"), says("cart")])),
    case("greeting then a request", ("hello! I need a tent for 4 people under 300",
                                     [category("tents"), price_below(300),
                                      attribute("capacity_people", lambda value: value == 4, "for 4 people")])),
    case("thanks", ("thanks!", [no_products, says("welcome")])),
]
