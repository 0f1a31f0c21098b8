"""The development set: the phrasings the parser is developed against (the issue's examples
and variations). The held-out set (heldout_cases.py) is scored apart and not tuned to."""

from typing import List, Tuple

from tests.assistant.heldout_checks import (
    at_least,
    at_most,
    attr,
    brand_not_shown_at,
    extreme_of_step,
    near,
    no_price_bound,
    not_outcome,
    only_shown_from,
    outcome_in,
)
from tests.assistant.quality_cases import (
    Case,
    asks,
    cart_empty,
    cart_is,
    cart_unchanged,
    case,
    category,
    cheaper_than_step,
    is_product_of_step,
    last,
    name_of,
    new_products_since,
    no_products,
    not_carried,
    only_of_its_brand,
    price_at_most,
    price_up,
    says,
    some_price_above,
)

NOT_WRONG = not_outcome("not_carried")
KINDED: List[Tuple[str, Case]] = []


def add(kind: str, *steps) -> None:
    KINDED.append((kind, case(f"d{len(KINDED)} {kind}", *steps)))


def _brand_once(step: int):
    return lambda conversation: only_of_its_brand(conversation.said[step].products)["brand"]


add("units", ("a tent that sleeps three", [category("tents"), at_least("capacity_people", 3)]))
add("units", ("a pack around 25 liters", [category("backpacks"), near("capacity_l", 25, 5)]))
add("units", ("a watch that lasts ten days", [category("smartwatches"), at_least("battery_days", 10)]))
add("units", ("a mat at least 5 millimetres thick", [category("yoga mats"), at_least("thickness_mm", 5)]))
add("units", ("headphones with 30+ hours of battery", [category("headphones"), at_least("battery_hours", 30)]))
add("units", ("laptop with 32 gigs of ram", [category("laptops"), at_least("ram_gb", 32)]))
add("units", ("laptop lighter than 1.3 kilos", [category("laptops"), at_most("weight_kg", 1.3), no_price_bound]))
add("units", ("a 14 inch laptop", [category("laptops"), near("screen_in", 14, 0.5), no_price_bound]))
add("units", ("a tent for a dozen people", [category("tents"), no_price_bound]))
add("units", ("coffee maker for 10 cups", [category("coffee makers"), at_least("capacity_cups", 10)]))
add("units", ("running shoes with an 8mm drop", [category("running shoes"), near("drop_mm", 8, 1)]))
add("units", ("backpack under 1200 g", [category("backpacks"), at_most("weight_g", 1200), no_price_bound]))
add(
    "comparatives",
    ("wireless headphones", [category("headphones")]),
    ("which one has the longer battery?", [extreme_of_step(0, "battery_hours", True), only_shown_from(0)]),
)
add(
    "comparatives",
    ("tents", [category("tents")]),
    ("the roomiest of these", [extreme_of_step(0, "capacity_people", True), only_shown_from(0)]),
)
add(
    "comparatives",
    ("tents", [category("tents")]),
    ("which sets up fastest?", [extreme_of_step(0, "setup_minutes", False), only_shown_from(0)]),
)
add(
    "comparatives",
    ("hiking boots", [category("hiking boots")]),
    ("is the second one heavier than the first?", [only_shown_from(0), NOT_WRONG]),
)
add(
    "comparatives",
    ("backpacks", [category("backpacks")]),
    ("which is the biggest?", [extreme_of_step(0, "capacity_l", True), only_shown_from(0)]),
)
add(
    "comparatives",
    ("running shoes", [category("running shoes")]),
    ("which is lightest", [extreme_of_step(0, "weight_g", False), only_shown_from(0)]),
)
add("positions", ("tents", [category("tents")]), ("the one in the centre", [is_product_of_step(0, 3)]))
add("positions", ("tents", [category("tents")]), ("the final option", [is_product_of_step(0, last)]))
add("positions", ("jackets", [category("jackets")]), ("third from the top", [is_product_of_step(0, 3)]))
add("positions", ("jackets", [category("jackets")]), ("#2", [is_product_of_step(0, 2)]))
add("positions", ("laptops", [category("laptops")]), ("number two", [is_product_of_step(0, 2)]))
add("positions", ("laptops", [category("laptops")]), ("the one at the bottom", [is_product_of_step(0, last)]))
add(
    "cart",
    ("smartwatches with gps", [category("smartwatches")]),
    (lambda c: f"pop the {_brand_once(0)(c)} in my bag", [cart_is((0, lambda p: only_of_its_brand(p), 1))]),
    ("how much am I spending", [says("total")]),
)
add("cart", ("tents", [category("tents")]), ("I'll grab two of those", [asks, cart_unchanged]))
add("cart", ("tents", [category("tents")]), ("add the first", [cart_is((0, 1, 1))]), ("drop the tent", [cart_empty]))
add(
    "cart",
    ("yoga mats", [category("yoga mats")]),
    ("add the second", [cart_is((0, 2, 1))]),
    ("swap the mat for the cheapest one", [NOT_WRONG]),
)
add(
    "cart",
    ("backpacks", [category("backpacks")]),
    ("add the first", [cart_is((0, 1, 1))]),
    ("clear everything out", [cart_empty]),
)
add("refinements", ("backpacks", [category("backpacks")]), ("something from another brand", [brand_not_shown_at(0)]))
add("refinements", ("backpacks", [category("backpacks")]), ("anything cheaper than these?", [cheaper_than_step(0)]))
add("refinements", ("backpacks", [category("backpacks")]), ("show a few more", [new_products_since(0)]))
add("refinements", ("jackets under 200", [category("jackets")]), ("I can go up to 300 now", [price_at_most(300)]))
add("refinements", ("tents under 150", [category("tents")]), ("ignore the price limit", [some_price_above(150)]))
add("refinements", ("yoga mats", [category("yoga mats")]), ("lowest price first", [price_up]))
add("describing", ("a tent for snow", [category("tents"), attr("seasons", lambda v: int(v) == 4, "4-season")]))
add(
    "describing",
    ("women's trail shoes", [category("running shoes"), attr("gender", lambda v: v in ("women", "unisex"), "w")]),
)
add("describing", ("something affordable in headphones", [category("headphones"), price_at_most(100)]))
add("describing", ("a jacket for the rain", [category("jackets"), attr("waterproof", bool, "waterproof")]))
add("typos", ("hedfones", [category("headphones")]))
add("typos", ("smartwach", [category("smartwatches")]))
add("typos", ("Garmn watches", [category("smartwatches")]))
add("typos", ("waterprof boots", [category("hiking boots"), attr("waterproof", bool, "waterproof")]))
add("meta", ("who am I talking to?", [no_products, NOT_WRONG]))
add("meta", ("what do you sell?", [says("tents"), NOT_WRONG]))
add("meta", ("thanks, that's all", [no_products, outcome_in("thanks")]))
add(
    "meta",
    ("tents", [category("tents")]),
    ("add the first", [cart_is((0, 1, 1))]),
    ("start again", [cart_empty, says("fresh|start|new|clear")]),
)
add("meta", ("new chat", [no_products, NOT_WRONG, says("fresh|start|new|clear")]))
add("meta", ("stop", [no_products, not_outcome("search", "refine", "not_carried")]))
add(
    "tell_more",
    ("tents", [category("tents")]),
    ("compare 1 and 2", [only_shown_from(0)]),
    (lambda c: f"tell me more about {name_of(0, 1)(c)}", [is_product_of_step(0, 1)]),
)
add("never_wrong", ("a mountain bike", [not_carried]))
add("never_wrong", ("tents", [category("tents")]), ("is the third one sturdy?", [NOT_WRONG, only_shown_from(0)]))
add("never_wrong", ("tents", [category("tents")]), ("the fancy one", [NOT_WRONG, asks]))
add("never_wrong", ("tents", [category("tents")]), ("add the blue one", [asks, cart_unchanged]))
add("never_wrong", ("which is nicest?", [NOT_WRONG, no_products]))

CASES = [built for _, built in KINDED]
