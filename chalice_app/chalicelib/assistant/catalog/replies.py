"""The catalog assistant's words: every reply as a list of lines.

Lines are the streaming unit: the assistant sends each one as a ``chunk``, so
every line but the last ends with a newline and the reply is their concatenation.
Plain text (no Markdown): the page and the terminal client both show it as is.
"""

from typing import Any, Dict, List, Optional, Sequence

from chalicelib import catalog
from chalicelib.assistant.tools import Cart, CartLine
from chalicelib.catalog import Relaxation, SearchRequest, SearchResult
from chalicelib.catalog.categories import by_name
from chalicelib.catalog.text import tokenize

__all__ = [
    "money",
    "describe_request",
    "product_line",
    "highlights",
    "search_lines",
    "no_match_lines",
    "details_lines",
    "cart_lines",
    "clarify_line",
    "describe_bound",
    "not_carried_lines",
    "GREETING",
    "HELP",
    "THANKS",
    "UNKNOWN",
    "DECLINED",
    "EMPTY_CART",
    "fill",
]

Product = Dict[str, Any]

_SORT_WORDS = {
    "price_asc": "cheapest first",
    "price_desc": "most expensive first",
    "rating": "best rated first",
    "popularity": "most popular first",
}

# How an attribute reads in a one-line summary; "{}" is the value. Booleans show their label when true.
_SHORT = {
    "drop_mm": "{} mm drop",
    "cushioning": "{} cushioning",
    "screen_in": '{}" screen',
    "ram_gb": "{} GB RAM",
    "weight_kg": "{} kg",
    "weight_g": "{} g",
    "battery_hours": "{} h battery",
    "battery_days": "{}-day battery",
    "capacity_l": "{} L",
    "laptop_sleeve_in": '{}" laptop sleeve',
    "water_rating_atm": "{} ATM",
    "capacity_cups": "{} cups",
    "thickness_mm": "{} mm thick",
    "length_cm": "{} cm long",
    "capacity_people": "{}-person",
    "seasons": "{}-season",
    "case_mm": "{} mm case",
    "display": "{} display",
    "cut": "{} cut",
    "use": "for {}",
    "insulation": "{} insulation",
    "gpu": "{} graphics",
    "pressure_bar": "{} bar",
    "setup_minutes": "{} min setup",
}
_FLAGS = {
    "noise_cancelling": "noise cancelling",
    "gps": "GPS",
    "ecg": "ECG",
    "built_in_grinder": "built-in grinder",
    "milk_frother": "milk frother",
    "water_resistant": "water resistant",
    "vibram_sole": "Vibram sole",
    "non_slip": "non-slip",
    "heart_rate": "heart rate",
}
_UNITS = {
    "mm": " mm",
    "g": " g",
    "kg": " kg",
    "in": '"',
    "gb": " GB",
    "l": " L",
    "hours": " h",
    "days": " days",
    "cups": " cups",
    "atm": " ATM",
    "bar": " bar",
    "cm": " cm",
    "people": " people",
    "minutes": " min",
}

GREETING = [
    "Hi! I'm your shopping assistant.\n",
    "I can search {count} products: {categories}.\n",
    "Try \u201crunning shoes under $100\u201d, \u201cbest rated headphones\u201d or \u201cNike backpacks\u201d.",
]
HELP = [
    "Here's what I can do:\n",
    "\u2022 Search: \u201cwaterproof hiking boots under $200\u201d, \u201cSony headphones between 100 and 300\u201d, "
    "\u201cbest rated yoga mats\u201d, \u201ctents rated 4.5+\u201d.\n",
    "\u2022 Refine: \u201ccheaper ones\u201d, \u201conly Nike\u201d, \u201cnot Columbia\u201d, "
    "\u201cshow more\u201d.\n",
    "\u2022 Look closer: \u201ctell me more about the second one\u201d, \u201ccompare 1 and 3\u201d.\n",
    "\u2022 Cart: \u201cadd the first one to my cart\u201d, \u201cremove it\u201d, \u201cshow my cart\u201d.\n",
    "I carry {categories}.",
]
THANKS = ["You're welcome! Anything else I can find for you?"]
UNKNOWN = [
    "I'm not sure what you're looking for.\n",
    "I carry {categories}. Try \u201cwireless earbuds under $80\u201d or \u201chelp\u201d.",
]
DECLINED = ["Okay. What else can I look for?"]
EMPTY_CART = ["Your cart is empty. Find something and say \u201cadd it to my cart\u201d."]


def money(value: Any) -> str:
    return f"${float(value):,.2f}"


def _stars(item: Product) -> str:
    return f"\u2605 {item['rating']:.1f} ({item['review_count']:,} reviews)"


def highlights(item: Product, limit: int = 3) -> str:
    category = by_name(item["category"])
    keys = category.highlights if category else tuple(item["attributes"])
    words: List[str] = []
    for key in keys:
        value = item["attributes"].get(key)
        if value is None or value is False or value in (0, "none", "integrated"):
            continue
        if value is True:
            words.append(_FLAGS.get(key, key.replace("_", " ")))
        elif key == "storage_gb":
            words.append(f"{value // 1024} TB SSD" if value >= 1024 else f"{value} GB SSD")
        else:
            words.append(_SHORT.get(key, "{}").format(f"{value:g}" if isinstance(value, float) else value))
        if len(words) == limit:
            break
    return ", ".join(words)


def product_line(label: str, item: Product) -> str:
    """ "1. Name — $74.99 · ★ 4.5 (1,203 reviews) · road, neutral, max cushioning"."""
    line = f"{label} {item['name']} \u2014 {money(item['price'])} \u00b7 {_stars(item)}"
    summary = highlights(item)
    return f"{line} \u00b7 {summary}" if summary else line


def _price_words(request: SearchRequest) -> str:
    low, high = request.min_price, request.max_price

    def bound(value: float) -> str:
        # 79.99 came from "under $80": say it that way.
        if round(value + 0.01, 2).is_integer() and not value.is_integer():
            return f"under ${value + 0.01:,.0f}"
        return f"up to {money(value) if not value.is_integer() else f'${value:,.0f}'}"

    def amount(value: float) -> str:
        return f"${value:,.0f}" if value.is_integer() else money(value)

    if low is not None and high is not None:
        return f"between {amount(low)} and {amount(high)}"
    if high is not None:
        return bound(high)
    if low is not None:
        return f"from {amount(low)}"
    return ""


def describe_bound(low: Optional[float], high: Optional[float]) -> str:
    """A price bound in words: "up to $250", "from $500"."""
    return _price_words(SearchRequest(min_price=low, max_price=high))


def clarify_line(found: Any, words: str = "", nearest: Sequence[str] = ()) -> str:
    """The one question to ask when a message names no product: with what it did understand."""
    understood = describe_bound(found.min_price, found.max_price) if found.has_price else ""
    if found.min_rating is not None:
        understood = (understood + " " if understood else "") + f"rated {found.min_rating:.1f}+"
    if words:
        understood = (f"for \u201c{words}\u201d " + understood).strip()
    carried = _names(nearest) if nearest else _category_list()
    if understood:
        return f"What kind of product {understood}? I have {carried}."
    return f"What kind of product are you looking for? I carry {carried}."


def _names(names: Sequence[str]) -> str:
    names = list(names)
    return ", ".join(names[:-1]) + " or " + names[-1] if len(names) > 1 else "".join(names)


def not_carried_lines(missing: str, suggested: Sequence[str]) -> List[str]:
    """ "We don't carry mountain bikes", and the nearest categories the shop does carry."""
    names = _names(suggested)
    lines = [f"Sorry, we don't carry {missing}, so I don't have any."]
    if names:
        lines.append(f"The nearest I have: {names}. Want to look at one of those?")
    return _as_lines(lines)


def describe_request(request: SearchRequest, count: int = 2) -> str:
    """The search in words: "Nike running shoes matching “trail” under $80 rated 4.0+"."""
    category = by_name(request.category) if request.category else None
    singular, plural = (category.singular, category.name) if category else ("product", "products")
    noun = singular if count == 1 else plural
    parts = [" or ".join(request.brands) + " " + noun if request.brands else noun]
    excluded = request.exclude_brands + request.exclude_categories + request.exclude_features
    if excluded:
        parts.append("(not " + " or ".join(excluded) + ")")
    if request.text.strip():
        parts.append(f"matching \u201c{request.text.strip()}\u201d")
    if _price_words(request):
        parts.append(_price_words(request))
    if request.min_rating is not None:
        parts.append(f"rated {request.min_rating:.1f}+")
    return " ".join(parts)


def search_lines(result: SearchResult, intro: Optional[str] = None, show_hint: bool = True) -> List[str]:
    what = describe_request(result.request, result.total)
    shown = len(result.products)
    order = _SORT_WORDS.get(result.request.sort)
    if intro:
        head = intro
    elif result.request.offset:
        first = result.request.offset + 1
        head = f"More {what}, {first}\u2013{result.request.offset + shown} of {result.total}:"
    elif result.total > shown:
        head = f"I found {result.total} {what}. Here are the top {shown}" + (f", {order}:" if order else ":")
    else:
        head = f"I found {result.total} {what}" + (f", {order}:" if order else ":")
    lines = [head]
    if result.missing_terms:
        lines.append(
            "Nothing matches \u201c" + " ".join(result.missing_terms) + "\u201d as well, so these are the closest."
        )
    lines += [product_line(f"{index}.", item) for index, item in enumerate(result.products, start=1)]
    if show_hint:
        lines.append(
            "Ask \u201ctell me more about the second one\u201d, \u201ccompare 1 and 3\u201d, "
            "\u201ccheaper ones\u201d or \u201cadd the first one to my cart\u201d."
        )
    elif result.total > result.request.offset + shown:
        lines.append("Say \u201cshow more\u201d for the next ones.")
    return _as_lines(lines)


def no_match_lines(request: SearchRequest, relaxation: Optional[Relaxation]) -> List[str]:
    lines = [f"Sorry, I couldn't find any {describe_request(request)}."]
    if relaxation is not None:
        reason = relaxation.reason[0].upper() + relaxation.reason[1:]
        lines.append(f"{reason}. Want me to {relaxation.change}? Just say \u201cyes\u201d.")
    else:
        lines.append("Try fewer words or another category. I carry " + _category_list() + ".")
    return _as_lines(lines)


def details_lines(item: Product, in_cart: int = 0, question: str = "") -> List[str]:
    category = by_name(item["category"])
    kind = category.singular if category else item["category"]
    lines = _answers(item, question) + [
        f"{item['name']} \u2014 {money(item['price'])}",
        f"{_stars(item)} \u00b7 {kind} by {item['brand']} \u00b7 id {item['id']}",
        item["description"],
        "Details: " + " \u00b7 ".join(_attribute(key, value) for key, value in item["attributes"].items()),
        f"You have {in_cart} in your cart." if in_cart else "Say \u201cadd it to my cart\u201d to buy it.",
    ]
    return _as_lines(lines)


# Words a question uses for an attribute, when they are not the attribute's own name.
_ASKED_AS = {
    "heavy": "weight",
    "weigh": "weight",
    "light": "weight",
    "big": "capacity",
    "large": "capacity",
    "fit": "capacity",
    "people": "capacity",
    "person": "capacity",
    "memory": "ram",
    "ssd": "storage",
    "disk": "storage",
    "thick": "thickness",
    "rain": "waterproof",
    "noise": "noise",
    "cancel": "noise",
    "milk": "frother",
    "cushion": "cushioning",
    "trail": "terrain",
    "road": "terrain",
    "size": "case",
    "last": "battery",
    "charge": "battery",
    "season": "seasons",
    "grip": "slip",
}
# Boolean attributes that read "it is …" rather than "it has …".
_ADJECTIVES = {
    "waterproof",
    "wireless",
    "water_resistant",
    "packable",
    "foldable",
    "freestanding",
    "programmable",
    "non_slip",
}


def _answers(item: Product, question: str) -> List[str]:
    """A direct answer first when the shopper asked about an attribute ("is it waterproof?")."""
    if not question:
        return []
    terms = set(tokenize(question))
    asked = {_ASKED_AS.get(term, term) for term in terms}
    answers = []
    if terms & {"rating", "rated", "star", "review", "score"}:
        answers.append(
            f"The {item['name']} is rated {item['rating']:.1f} out of 5 from {item['review_count']:,} reviews."
        )
        asked -= {"rating", "rated", "star", "review", "score"}
    for key, value in item["attributes"].items():
        if not asked & set(tokenize(key.replace("_", " "))):
            continue
        if isinstance(value, bool):
            label = _FLAGS.get(key, key.replace("_", " "))
            verb = ("is" if value else "is not") if key in _ADJECTIVES else ("has" if value else "has no")
            answers.append(f"{'Yes' if value else 'No'}, the {item['name']} {verb} {label}.")
        else:
            if key.startswith("battery") and not value:
                answers.append(f"The {item['name']} has no battery: it is wired.")
            else:
                answers.append(_attribute(key, value) + ".")
    return [" ".join(answers)] if answers else []


def cart_lines(cart: Cart, headline: Optional[str] = None, numbered: bool = False) -> List[str]:
    lines = [headline] if headline else []
    if not cart.lines:
        lines.append("Your cart is now empty." if headline else EMPTY_CART[0])
        return _as_lines(lines)
    lines.append(f"Your cart ({cart.item_count} item{'s' if cart.item_count != 1 else ''}):")
    lines += [_cart_line(f"{index}." if numbered else "\u2022", line) for index, line in enumerate(cart.lines, 1)]
    lines.append(f"Total: {money(cart.total)}")
    return _as_lines(lines)


def _cart_line(label: str, line: CartLine) -> str:
    return f"{label} {line.quantity} \u00d7 {line.product['name']} \u2014 {money(line.line_total)}"


def fill(template: Sequence[str]) -> List[str]:
    """A fixed reply with the catalog's numbers filled in."""
    return [line.format(count=len(catalog.products()), categories=_category_list()) for line in template]


def _category_list() -> str:
    names = list(catalog.category_names())
    return ", ".join(names[:-1]) + " and " + names[-1]


def _attribute(key: str, value: Any) -> str:
    words = key.split("_")
    unit = _UNITS.get(words[-1]) if len(words) > 1 else None
    label = " ".join(words[:-1] if unit else words).capitalize()
    if isinstance(value, bool):
        return f"{label}: {'yes' if value else 'no'}"
    if key == "storage_gb" and value >= 1024:
        return f"Storage: {value // 1024} TB"
    shown = f"{value:g}" if isinstance(value, float) else str(value)
    return f"{label}: {shown}{unit or ''}"


def _as_lines(lines: Sequence[str]) -> List[str]:
    """Every line but the last ends with a newline: the stream is exactly the reply."""
    return [line + "\n" for line in lines[:-1]] + list(lines[-1:])
