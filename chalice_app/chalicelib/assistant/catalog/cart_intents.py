"""Cart requests: add, remove, set a quantity, another one, clear, show and total.

The verbs are a small lexicon (``phrases``); the product is resolved by ``references``. When
the product or the quantity is not certain, the intent carries no product and a question, so
the cart never changes on a guess.
"""

import re
from typing import Optional, Tuple

from chalicelib import catalog
from chalicelib.assistant.catalog import phrases
from chalicelib.assistant.catalog.kinds import Intent, Kind, Product
from chalicelib.assistant.catalog.references import quantity, resolve
from chalicelib.sessions import SessionState

__all__ = ["cart_intent", "in_question"]

# "add 1 and 3", "remove 2, 4": a verb and positions only.
_DIGITS_ONLY = re.compile(r"^(?:add|remove|delete|drop|buy|get|take|compare)(?: (?:[1-9]|and|or|&|then|too|please))+$")


def cart_intent(text: str, state: SessionState) -> Optional[Intent]:
    mentions_cart = bool(phrases.CART.search(text))
    clears = bool(phrases.CLEAR.search(text))
    if clears and (mentions_cart or (state.cart and phrases.only(text, phrases.CLEAR, phrases.CLEAR_ALONE))):
        return Intent(Kind.CART_CLEAR)
    # A bare number is a position only in a cart sentence or a short one ("add 2"), not in "order 3 tents".
    digits = mentions_cart or len(text.split()) <= 3 or bool(_DIGITS_ONLY.match(text))
    count = quantity(text)
    if phrases.SET_QUANTITY.search(text):
        found = resolve(_of_those(text), state, prefer_cart=True, bare_digits=False)
        products = found.products[:1] if found.products and not found.error else in_question(state)
        return Intent(
            Kind.CART_SET,
            products=products[:1],
            quantity=count,
            action=Kind.CART_ADD,
            reference_error=None if products else "Which product should I change?",
        )
    if phrases.REMOVE.search(text):
        found = resolve(_of_those(text), state, prefer_cart=True, bare_digits=digits)
        products = found.products or (in_question(state) if count and not found.pointed else ())
        if mentions_cart or found.pointed or products or count:
            return Intent(
                Kind.CART_REMOVE,
                products=products,
                reference_error=None if products else found.error,
                quantity=count if count and not phrases.SET_QUANTITY.search(text) else None,
                action=Kind.CART_REMOVE,
            )
    if phrases.ANOTHER.search(text) and (state.focus_id or state.cart):
        found = resolve(text, state, bare_digits=False)
        products = found.products if found.products and not phrases.PRONOUN.search(text) else in_question(state)
        return Intent(
            Kind.CART_ADD,
            products=products[:1],
            quantity=1,
            action=Kind.CART_ADD,
            reference_error=None if products else "Another of which one?",
        )
    if phrases.ADD.search(text) and (mentions_cart or not phrases.COMPARE.search(text)):  # "put them side by side"
        found = resolve(_of_those(text), state, bare_digits=digits)
        if mentions_cart or found.pointed:
            return Intent(
                Kind.CART_ADD,
                products=found.products,
                reference_error=found.error,
                quantity=count or 1,
                action=Kind.CART_ADD,
            )
    if mentions_cart or phrases.CART_QUESTION.search(text):
        return Intent(Kind.CART_SHOW)
    return None


def _of_those(text: str) -> str:
    """ "two of those" after looking at one product is two of *it*: the count is not a reference to all."""
    return re.sub(r"\b(\d+|one|two|three|four|five|a couple|a pair) of (?:those|these|them)\b", r"\1 of it", text)


def in_question(state: SessionState) -> Tuple[Product, ...]:
    """The product the conversation is on: the one looked at or added last, or the only one in the cart."""
    item = catalog.product(state.focus_id) if state.focus_id else None
    if item is None and len(state.cart) == 1:
        item = catalog.product(next(iter(state.cart)))
    return (item,) if item else ()
