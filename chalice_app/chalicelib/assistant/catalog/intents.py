"""What a shopper's message asks for: its intent, with the products it refers to.

Rules, not a model: ordered checks on folded text, most specific first (the cart
and references before search), so "add the second one to my cart" is never
mistaken for a search for carts.
"""

import re
from dataclasses import dataclass, field, replace
from typing import Any, Dict, Optional, Tuple

from chalicelib import catalog
from chalicelib.assistant.catalog import phrases
from chalicelib.assistant.catalog.parsing import Constraints, extract_constraints
from chalicelib.assistant.catalog.references import find_references, has_reference, is_bare_reference, quantity
from chalicelib.catalog.text import fold
from chalicelib.sessions import SessionState

__all__ = ["Intent", "Kind", "classify"]

Product = Dict[str, Any]


class Kind:
    GREETING = "greeting"
    HELP = "help"
    THANKS = "thanks"
    CONFIRM = "confirm"  # "yes" to a loosened search offered after a no-match
    DECLINE = "decline"
    SEARCH = "search"  # a new search
    REFINE = "refine"  # change the active search: "cheaper ones", "only Nike"
    MORE = "more"  # the next page of the active search
    DETAILS = "details"
    COMPARE = "compare"
    CART_ADD = "cart_add"
    CART_REMOVE = "cart_remove"
    CART_SHOW = "cart_show"
    CART_CLEAR = "cart_clear"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class Intent:
    kind: str
    products: Tuple[Product, ...] = ()  # the products the message refers to, resolved
    reference_error: Optional[str] = None  # why a reference could not be resolved ("I only showed 3")
    quantity: Optional[int] = None
    constraints: Constraints = field(default_factory=Constraints)
    category: Optional[str] = None
    relative: Optional[str] = None  # "cheaper" | "pricier" | "better_rated"
    widen: Tuple[str, ...] = ()  # constraints to drop: "brand", "price"
    add_brands: bool = False  # "also Adidas": add to the brands instead of replacing them
    question: str = ""  # a question about the product ("is it waterproof"), answered first


def classify(message: str, state: SessionState) -> Intent:
    text = fold(message).strip()
    text = re.sub(r"[!?.,;:]+(?=\s|$)", " ", text).strip()
    if not text:
        return Intent(Kind.HELP)
    if state.pending and phrases.only(text, phrases.YES):
        return Intent(Kind.CONFIRM)
    if phrases.only(text, phrases.NO) or (not state.pending and phrases.only(text, phrases.YES)):
        return Intent(Kind.DECLINE)  # nothing was offered: acknowledge and move on
    if phrases.only(text, phrases.GREETING, phrases.FILLER):
        return Intent(Kind.GREETING)
    text = _strip_greeting(text)
    original = _strip_greeting_original(message)

    cart_intent = _cart_intent(text, state)
    if cart_intent is not None:
        return cart_intent
    if phrases.COMPARE.search(text):
        products, error = find_references(text, state, default_all=True)
        return Intent(Kind.COMPARE, products=tuple(products), reference_error=error)
    strong = bool(phrases.DETAILS.search(text))
    question = bool(phrases.QUESTION.search(text)) and bool(phrases.PRONOUN.search(text) or phrases.ORDINAL.search(text)
                                                     or phrases.NUMBERED.search(text))
    if strong or question or phrases.DETAILS_WEAK.search(text) or is_bare_reference(text):
        products, error = find_references(text, state, bare_digits=strong)
        if products or error:
            return Intent(Kind.DETAILS, products=tuple(products[:1]), reference_error=error, question=text)
    if phrases.only(text, phrases.THANKS, phrases.FILLER):
        return Intent(Kind.THANKS)
    if phrases.HELP.search(text) and len(text.split()) <= 8:
        return Intent(Kind.HELP)
    asks_more = (phrases.MORE, phrases.FILLER, phrases.words("show", "me", "please", "can you", "any", "some"))
    if state.filters and phrases.only(text, *asks_more):
        return Intent(Kind.MORE)
    return _search_intent(original, text, state)


def _search_intent(original: str, text: str, state: SessionState) -> Intent:
    constraints = extract_constraints(original)
    category = catalog.pick_category(constraints.text)
    constraints = replace(constraints, text=_query_text(constraints.text, category))
    relatives = (("cheaper", phrases.CHEAPER), ("pricier", phrases.PRICIER), ("better_rated", phrases.BETTER_RATED))
    relative = next((name for name, pattern in relatives if pattern.search(text)), None)
    widenings = (("brand", phrases.ANY_BRAND), ("price", phrases.ANY_PRICE))
    widen = tuple(name for name, pattern in widenings if pattern.search(text))
    if category:
        return Intent(Kind.SEARCH, constraints=constraints, category=category)
    if state.filters:
        return Intent(Kind.REFINE, constraints=constraints, relative=relative, widen=widen,
                      add_brands=bool(constraints.brands and phrases.ALSO.search(text)))
    if constraints.text or constraints.brands or constraints.has_price or constraints.min_rating:
        return Intent(Kind.SEARCH, constraints=constraints)
    return Intent(Kind.UNKNOWN, constraints=constraints, relative=relative)


def _query_text(text: str, category: Optional[str]) -> str:
    """The words worth searching for: without refinement words, the category's name and filler."""
    for pattern in (phrases.CHEAPER, phrases.PRICIER, phrases.BETTER_RATED, phrases.ANY_BRAND, phrases.ANY_PRICE,
                    phrases.MORE):
        text = pattern.sub(" ", text)
    return catalog.search_words(text, category)


def _cart_intent(text: str, state: SessionState) -> Optional[Intent]:
    mentions_cart = bool(phrases.CART.search(text))
    if mentions_cart and phrases.CLEAR.search(text):
        return Intent(Kind.CART_CLEAR)
    # A bare number is a position only in a cart sentence or a short one ("add 2"), not in "order 3 tents".
    digits = mentions_cart or len(text.split()) <= 3
    if phrases.REMOVE.search(text) and (mentions_cart or has_reference(text, state, digits)):
        products, error = find_references(text, state, prefer_cart=True, bare_digits=digits)
        return Intent(Kind.CART_REMOVE, products=tuple(products[:1]), reference_error=error,
                      quantity=quantity(text))
    if phrases.ADD.search(text) and (mentions_cart or has_reference(text, state, digits)):
        products, error = find_references(text, state, bare_digits=digits)
        return Intent(Kind.CART_ADD, products=tuple(products[:1]), reference_error=error,
                      quantity=quantity(text) or 1)
    if mentions_cart or phrases.CART_QUESTION.search(text):
        return Intent(Kind.CART_SHOW)
    return None


def _strip_greeting(text: str) -> str:
    match = phrases.GREETING.match(text)
    return text[match.end() :].strip(" ,!") if match else text


def _strip_greeting_original(message: str) -> str:
    match = phrases.GREETING.match(fold(message).strip())
    if not match:
        return message
    # fold() keeps offsets for apostrophe-free ASCII, the case for greetings at the start.
    return message.strip()[match.end() :].strip(" ,!")
