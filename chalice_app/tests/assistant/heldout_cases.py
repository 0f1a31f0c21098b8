"""A held-out set of everyday shopper turns, written before the parser was changed for them.

Scored by test_heldout.py; nothing in the assistant is tuned to these phrasings (the
development set, dev_cases.py, is what the parser is developed against). Each case has a
kind, so the score is reported per kind.
"""

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
    brand_is,
    cart_empty,
    cart_is,
    cart_unchanged,
    case,
    category,
    cheaper_than_step,
    cheapest,
    is_product_of_step,
    last,
    name_of,
    new_products_since,
    no_products,
    not_carried,
    only_of_its_brand,
    price_at_most,
    price_down,
    price_up,
    pricier_than_step,
    says,
    some_price_above,
)

NOT_WRONG = not_outcome("not_carried")


def _brand_once(step: int):
    return lambda conversation: only_of_its_brand(conversation.said[step].products)["brand"]


KINDED: List[Tuple[str, Case]] = []


def add(kind: str, built: Case) -> None:
    KINDED.append((kind, built))


# --- numbers with units ---------------------------------------------------------------------
U = "units"
add(U, case("h tent four people", ("a tent for four people", [category("tents"), at_least("capacity_people", 4)])))
add(U, case("h tent persons", ("tent that fits 2 persons", [category("tents"), at_least("capacity_people", 2)])))
add(U, case("h pack litres", ("backpack with at least 28 litres", [category("backpacks"), at_least("capacity_l", 28)])))
add(
    U,
    case(
        "h pack kg",
        ("a backpack under 1.1 kg", [category("backpacks"), at_most("weight_g", 1100), no_price_bound]),
    ),
)
add(U, case("h ram", ("laptop with 16GB of memory", [category("laptops"), at_least("ram_gb", 16)])))
add(U, case("h screen", ("a 15.6 inch laptop", [category("laptops"), near("screen_in", 15.6, 0.5), no_price_bound])))
add(
    U,
    case(
        "h laptop kilos", ("laptop under 1.4 kilos", [category("laptops"), at_most("weight_kg", 1.4), no_price_bound])
    ),
)
add(
    U,
    case(
        "h hp battery",
        ("headphones with over 40 hours battery", [category("headphones"), at_least("battery_hours", 40)]),
    ),
)
add(U, case("h watch days", ("a smartwatch lasting 14 days", [category("smartwatches"), at_least("battery_days", 14)])))
add(U, case("h mat thick", ("a yoga mat 6mm thick or more", [category("yoga mats"), at_least("thickness_mm", 6)])))
add(U, case("h mat long", ("yoga mat at least 180 cm long", [category("yoga mats"), at_least("length_cm", 180)])))
add(
    U,
    case("h cups", ("coffee maker that brews twelve cups", [category("coffee makers"), at_least("capacity_cups", 12)])),
)
add(U, case("h bar", ("an espresso machine with 15 bar", [category("coffee makers"), at_least("pressure_bar", 15)])))
add(
    U,
    case(
        "h shoe grams",
        ("running shoes under 250 grams", [category("running shoes"), at_most("weight_g", 250), no_price_bound]),
    ),
)
add(U, case("h setup", ("tent that pitches in under ten minutes", [category("tents"), at_most("setup_minutes", 10)])))
add(
    U,
    case("h atm", ("a watch water resistant to 10 atm", [category("smartwatches"), at_least("water_rating_atm", 10)])),
)
add(U, case("h tb", ("a laptop with 1 TB storage", [category("laptops"), at_least("storage_gb", 1000)])))
add(
    U,
    case(
        "h sleeve",
        ("a backpack that holds a 16 inch laptop", [category("backpacks"), at_least("laptop_sleeve_in", 16)]),
    ),
)
add(U, case("h tent kg", ("a tent lighter than 2 kg", [category("tents"), at_most("weight_kg", 2), no_price_bound])))
add(
    U, case("h jacket g", ("a jacket under 300 grams", [category("jackets"), at_most("weight_g", 300), no_price_bound]))
)
add(U, case("h pack caps", ("BACKPACK 30L OR BIGGER", [category("backpacks"), at_least("capacity_l", 30)])))

# --- comparatives and superlatives over the products on screen -----------------------------
C = "comparatives"


def _compare_case(name: str, search: str, ask: str, key: str, highest: bool) -> Case:
    return case(name, (search, [category_of(search)]), (ask, [extreme_of_step(0, key, highest), only_shown_from(0)]))


def category_of(search: str):
    for name in (
        "headphones",
        "tents",
        "backpacks",
        "laptops",
        "yoga mats",
        "smartwatches",
        "running shoes",
        "coffee makers",
        "hiking boots",
        "jackets",
    ):
        if name.rstrip("s") in search:
            return category(name)
    raise ValueError(search)


add(C, _compare_case("h c battery", "wireless headphones", "which lasts longest on a charge?", "battery_hours", True))
add(C, _compare_case("h c light tent", "tents", "which is the lightest?", "weight_kg", False))
add(C, _compare_case("h c holds", "backpacks", "which one holds the most", "capacity_l", True))
add(C, _compare_case("h c setup", "camping tents", "which sets up quickest?", "setup_minutes", False))
add(C, _compare_case("h c screen", "laptops", "which has the biggest screen?", "screen_in", True))
add(C, _compare_case("h c thick", "yoga mats", "which is the thickest one", "thickness_mm", True))
add(C, _compare_case("h c watch", "smartwatches", "whose battery lasts the longest?", "battery_days", True))
add(C, _compare_case("h c cups", "coffee makers", "which one makes the most cups", "capacity_cups", True))
add(C, _compare_case("h c roomy", "tents", "the most spacious of these?", "capacity_people", True))
add(C, _compare_case("h c heavy", "hiking boots", "which is heaviest", "weight_g", True))
add(C, _compare_case("h c jacket", "jackets", "which weighs the least", "weight_g", False))
add(C, _compare_case("h c case", "smartwatches", "which has the largest case?", "case_mm", True))
add(C, _compare_case("h c storage", "laptops", "which one has the most storage", "storage_gb", True))
add(
    C,
    case(
        "h c pair",
        ("running shoes", [category("running shoes")]),
        ("is the first lighter than the second?", [only_shown_from(0), NOT_WRONG]),
    ),
)

# --- positions ---------------------------------------------------------------------------------
P = "positions"
add(
    P,
    case(
        "h p middle",
        ("hiking boots", [category("hiking boots")]),
        ("tell me about the middle one", [is_product_of_step(0, 3)]),
    ),
)
add(P, case("h p last", ("jackets", [category("jackets")]), ("the last option please", [is_product_of_step(0, last)])))
add(
    P,
    case(
        "h p bottom", ("tents", [category("tents")]), ("what about second from the bottom", [is_product_of_step(0, 4)])
    ),
)
add(P, case("h p hash", ("backpacks", [category("backpacks")]), ("details on #4", [is_product_of_step(0, 4)])))
add(
    P,
    case(
        "h p number", ("yoga mats", [category("yoga mats")]), ("what about number three?", [is_product_of_step(0, 3)])
    ),
)
add(
    P,
    case(
        "h p top",
        ("laptops", [category("laptops")]),
        ("the one at the top, what is it like", [is_product_of_step(0, 1)]),
    ),
)
add(
    P, case("h p penult", ("headphones", [category("headphones")]), ("the penultimate one", [is_product_of_step(0, 4)]))
)
add(
    P,
    case(
        "h p fromtop", ("smartwatches", [category("smartwatches")]), ("second from the top", [is_product_of_step(0, 2)])
    ),
)
add(
    P,
    case(
        "h p fifth",
        ("coffee makers", [category("coffee makers")]),
        ("more about the fifth item", [is_product_of_step(0, 5)]),
    ),
)
add(P, case("h p unknown", ("running shoes", [category("running shoes")]), ("the umpteenth one", [asks, NOT_WRONG])))

# --- the cart in casual words --------------------------------------------------------------------
K = "cart"
add(
    K,
    case(
        "h k stick brand",
        ("smartwatches with gps", [category("smartwatches")]),
        (lambda c: f"stick the {_brand_once(0)(c)} in my basket", [cart_is((0, lambda p: only_of_its_brand(p), 1))]),
        ("what's my total so far", [says(r"total")]),
    ),
)
add(
    K,
    case(
        "h k take second",
        ("hiking boots", [category("hiking boots")]),
        ("I'll take the second one", [cart_is((0, 2, 1))]),
        ("how much do I owe?", [says(r"total"), cart_is((0, 2, 1))]),
    ),
)
add(
    K,
    case(
        "h k grab two",
        ("yoga mats", [category("yoga mats")]),
        ("grab me 2 of the first", [cart_is((0, 1, 2))]),
        ("get rid of everything", [cart_empty]),
    ),
)
add(
    K,
    case(
        "h k chuck cheapest",
        ("tents", [category("tents")]),
        ("chuck the cheapest one in the cart", [cart_is((0, cheapest, 1))]),
        ("take the tent out", [cart_empty]),
    ),
)
add(
    K,
    case(
        "h k three of last",
        ("backpacks", [category("backpacks")]),
        ("I'll have three of the last one", [cart_is((0, last, 3))]),
        ("empty my basket", [cart_empty]),
    ),
)
add(
    K,
    case(
        "h k unknown colour",
        ("jackets", [category("jackets")]),
        ("add the green one", [asks, cart_unchanged]),
    ),
)
add(K, case("h k nothing shown", ("add it to my bag", [asks, cart_unchanged])))
add(
    K,
    case(
        "h k swap",
        ("coffee makers", [category("coffee makers")]),
        ("put the first one in my cart", [cart_is((0, 1, 1))]),
        ("actually swap it for the third one", [cart_is((0, 3, 1))]),
    ),
)
add(
    K,
    case(
        "h k brand pop",
        ("headphones", [category("headphones")]),
        (
            lambda c: f"pop the {_brand_once(0)(c)} ones in my bag please",
            [cart_is((0, lambda p: only_of_its_brand(p), 1))],
        ),
        ("what am I paying in total", [says(r"total")]),
    ),
)
add(
    K,
    case(
        "h k buy named",
        ("laptops", [category("laptops")]),
        (lambda c: f"I'll buy the {name_of(0, 2)(c)}", [cart_is((0, 2, 1))]),
    ),
)

# --- refinements of the last results ---------------------------------------------------------------
R = "refinements"
add(
    R,
    case(
        "h r brand",
        ("backpacks", [category("backpacks")]),
        ("anything by a different brand?", [category("backpacks"), brand_not_shown_at(0)]),
    ),
)
add(
    R,
    case(
        "h r cheaper",
        ("hiking boots", [category("hiking boots")]),
        ("something less pricey?", [category("hiking boots"), cheaper_than_step(0)]),
    ),
)
add(
    R,
    case(
        "h r budget up",
        ("jackets under 200", [category("jackets"), price_at_most(200)]),
        ("ok my budget is 350 now", [category("jackets"), price_at_most(350)]),
    ),
)
add(
    R,
    case(
        "h r budget gone",
        ("tents under 150", [category("tents")]),
        ("forget the budget", [category("tents"), some_price_above(150)]),
    ),
)
add(
    R,
    case(
        "h r sort up",
        ("yoga mats", [category("yoga mats")]),
        ("sort them cheapest first", [category("yoga mats"), price_up]),
    ),
)
add(
    R,
    case(
        "h r sort down",
        ("laptops", [category("laptops")]),
        ("priciest first please", [category("laptops"), price_down]),
    ),
)
add(R, case("h r more", ("headphones", [category("headphones")]), ("any other options?", [new_products_since(0)])))
add(R, case("h r only", ("running shoes", [category("running shoes")]), ("only Brooks", [brand_is("Brooks")])))
add(
    R,
    case(
        "h r pricier",
        ("backpacks under 100", [category("backpacks")]),
        ("anything a bit more premium?", [pricier_than_step(0)]),
    ),
)
add(
    R,
    case(
        "h r units",
        ("tents", [category("tents")]),
        ("any that sleep 4?", [category("tents"), at_least("capacity_people", 4)]),
    ),
)

# --- describing words ----------------------------------------------------------------------------------
D = "describing"
add(
    D,
    case(
        "h d winter",
        ("a tent for winter camping", [category("tents"), attr("seasons", lambda v: int(v) == 4, "4-season")]),
    ),
)
add(D, case("h d waterproof", ("a waterproof jacket", [category("jackets"), attr("waterproof", bool, "waterproof")])))
add(
    D,
    case(
        "h d ladies",
        (
            "ladies hiking boots",
            [category("hiking boots"), attr("gender", lambda v: v in ("women", "unisex"), "for women")],
        ),
    ),
)
add(
    D,
    case(
        "h d mens",
        (
            "men's running shoes",
            [category("running shoes"), attr("gender", lambda v: v in ("men", "unisex"), "for men")],
        ),
    ),
)
add(
    D,
    case("h d trail", ("trail runners", [category("running shoes"), attr("terrain", lambda v: v == "trail", "trail")])),
)
add(
    D,
    case("h d gaming", ("a laptop for gaming", [category("laptops"), attr("use", lambda v: v == "gaming", "gaming")])),
)
add(D, case("h d cork", ("a cork yoga mat", [category("yoga mats"), attr("material", lambda v: v == "cork", "cork")])))
add(
    D, case("h d pod", ("a pod coffee machine", [category("coffee makers"), attr("type", lambda v: v == "pod", "pod")]))
)
add(D, case("h d family", ("a big family tent", [category("tents"), attr("use", lambda v: v == "family", "family")])))
add(
    D,
    case(
        "h d school", ("a backpack for school", [category("backpacks"), attr("use", lambda v: v == "school", "school")])
    ),
)
add(
    D,
    case(
        "h d rain",
        (
            "something to keep me dry in a downpour, a jacket",
            [category("jackets"), attr("waterproof", bool, "waterproof")],
        ),
    ),
)
add(D, case("h d budget", ("a budget friendly coffee maker", [category("coffee makers"), price_at_most(120)])))

# --- typos in any catalog word ----------------------------------------------------------------------
T = "typos"
add(T, case("h t hedphones", ("hedphones under 100", [category("headphones"), price_at_most(100)])))
add(T, case("h t smartwtch", ("smartwtch with gps", [category("smartwatches"), attr("gps", bool, "gps")])))
add(T, case("h t salomin", ("Salomin trail shoes", [brand_is("Salomon")])))
add(
    T,
    case(
        "h t waterproof",
        ("waterprooof hiking boots", [category("hiking boots"), attr("waterproof", bool, "waterproof")]),
    ),
)
add(T, case("h t bose", ("Bose headphnes", [category("headphones"), brand_is("Bose")])))
add(T, case("h t lenovo", ("a lenovo laptp", [category("laptops"), brand_is("Lenovo")])))
add(T, case("h t osprey", ("Ospry backpack", [category("backpacks"), brand_is("Osprey")])))
add(T, case("h t garmin", ("Garmn watch", [category("smartwatches"), brand_is("Garmin")])))
add(T, case("h t tent", ("tnet for 2", [category("tents")])))
add(
    T,
    case(
        "h t canceling", ("noise canceling headphones", [category("headphones"), attr("noise_cancelling", bool, "nc")])
    ),
)
add(T, case("h t caps", ("JADE YOGA MAT!!!", [category("yoga mats")])))
add(
    T,
    case(
        "h t espresso",
        ("expresso machine", [category("coffee makers"), attr("type", lambda v: "espresso" in v, "espresso")]),
    ),
)

# --- meta and commands -------------------------------------------------------------------------------
M = "meta"
add(M, case("h m who", ("who are you?", [no_products, NOT_WRONG, outcome_in("help", "greeting", "answer", "meta")])))
add(M, case("h m sell", ("what kinds of things do you have", [NOT_WRONG, says(r"tents"), says(r"laptops")])))
add(
    M,
    case(
        "h m thanks",
        ("headphones", [category("headphones")]),
        ("that's everything, thanks", [no_products, outcome_in("thanks")]),
    ),
)
add(
    M,
    case(
        "h m start over",
        ("tents", [category("tents")]),
        ("add the first one", [cart_is((0, 1, 1))]),
        ("let's start over", [cart_empty, no_products, says(r"fresh|start|new|clear|empt")]),
    ),
)
add(
    M,
    case(
        "h m new chat",
        ("yoga mats", [category("yoga mats")]),
        ("put the second in the cart", [cart_is((0, 2, 1))]),
        ("new conversation please", [cart_empty, no_products, says(r"fresh|start|new|clear|empt")]),
        ("cheaper ones", [NOT_WRONG, outcome_in("clarify", "help")]),
    ),
)
add(
    M,
    case(
        "h m stop",
        ("laptops", [category("laptops")]),
        ("stop", [no_products, not_outcome("search", "refine", "not_carried")]),
    ),
)
add(M, case("h m person", ("are you a real person?", [no_products, NOT_WRONG])))
add(M, case("h m bye", ("ok bye", [no_products, NOT_WRONG])))

# --- tell me more after a comparison ----------------------------------------------------------------
TM = "tell_more"
add(
    TM,
    case(
        "h tm after compare",
        ("tents", [category("tents")]),
        ("compare the first two", [only_shown_from(0)]),
        (lambda c: f"tell me more about {name_of(0, 2)(c)}", [is_product_of_step(0, 2)]),
    ),
)
add(
    TM,
    case(
        "h tm after compare 2",
        ("laptops", [category("laptops")]),
        ("compare 1 and 3", [only_shown_from(0)]),
        (lambda c: f"tell me more about {name_of(0, 1)(c)}", [is_product_of_step(0, 1)]),
    ),
)

# --- never confidently wrong ----------------------------------------------------------------------
N = "never_wrong"
add(
    N,
    case(
        "h n comfy",
        ("hiking boots", [category("hiking boots")]),
        ("is the fourth one comfy?", [NOT_WRONG, only_shown_from(0)]),
    ),
)
add(
    N,
    case(
        "h n quietest",
        ("headphones", [category("headphones")]),
        ("which is the quietest?", [NOT_WRONG, only_shown_from(0)]),
    ),
)
add(N, case("h n kayak", ("do you have kayaks", [not_carried])))
add(N, case("h n blender", ("I want a blender", [not_carried])))
add(N, case("h n surfboard", ("a surfboard under 300", [not_carried])))
add(
    N,
    case(
        "h n sturdy",
        ("backpacks", [category("backpacks")]),
        ("which one is the sturdiest", [NOT_WRONG, only_shown_from(0)]),
    ),
)
add(
    N,
    case(
        "h n durable",
        ("tents", [category("tents")]),
        ("how durable is the second one", [NOT_WRONG, only_shown_from(0)]),
    ),
)
add(
    N,
    case(
        "h n purple",
        ("yoga mats", [category("yoga mats")]),
        ("remove the purple one", [NOT_WRONG, cart_unchanged, no_products]),
    ),
)
add(N, case("h n why", ("jackets", [category("jackets")]), ("why?", [NOT_WRONG, cart_unchanged])))
add(
    N,
    case(
        "h n whatever", ("laptops", [category("laptops")]), ("honestly whatever you think", [NOT_WRONG, cart_unchanged])
    ),
)
add(N, case("h n any good", ("is it any good?", [NOT_WRONG, no_products, cart_unchanged])))
add(
    N,
    case(
        "h n pretty",
        ("smartwatches", [category("smartwatches")]),
        ("which is the prettiest", [NOT_WRONG, only_shown_from(0)]),
    ),
)
add(
    N,
    case(
        "h n two garmins",
        ("Garmin smartwatches", [brand_is("Garmin")]),
        ("put the Garmin in my cart", [asks, cart_unchanged]),
    ),
)
add(
    N,
    case(
        "h n explain",
        ("coffee makers", [category("coffee makers")]),
        ("explain the difference between 1 and 2", [NOT_WRONG, only_shown_from(0)]),
    ),
)

CASES = [built for _, built in KINDED]
KINDS = {built.name: kind for kind, built in KINDED}
