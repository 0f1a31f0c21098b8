"""Cart requests: add, remove, set a quantity, another one, clear, show and total.

The verbs are a small lexicon (``phrases``); the product is resolved by ``references``. When
the product or the quantity is not certain, the intent carries no product and a question, so
the cart never changes on a guess.
"""

import re
from dataclasses import dataclass
from typing import Optional, Tuple

from chalicelib import catalog
from chalicelib.assistant.catalog import phrases
from chalicelib.assistant.catalog.kinds import Intent, Kind, Product
from chalicelib.assistant.catalog.references import quantity, resolve
from chalicelib.sessions import SessionState

__all__ = ["cart_intent", "in_question"]

# "add 1 and 3", "remove 2, 4": a verb and positions only.
_DIGITS_ONLY = re.compile(r"^(?:add|remove|delete|drop|buy|get|take|compare)(?: (?:[1-9]|and|or|&|then|too|please))+$")


@dataclass(frozen=True)
class _Said:
    text: str
    state: SessionState
    mentions_cart: bool
    digits: bool  # a bare number is a position: in a cart sentence or a short one ("add 2"), not "order 3 tents"
    count: Optional[int]


# "swap the mat for the cheaper one", "replace it with the third": out with one, in with another.
_SWAP = re.compile(r"\b(?:swap|switch|exchange|replace|trade|change)\b (?:out )?(.+?) \b(?:for|with|to)\b (.+)$")
# "add the green one": a description no product in play answers to.
_UNKNOWN_ONE = re.compile(r"\bthe (?:[a-z]+ ){1,2}ones?\b")
_WHICH = "Which one do you mean? Say its number or name, for example \u201cthe second one\u201d."


def cart_intent(text: str, state: SessionState) -> Optional[Intent]:
    mentions_cart = bool(phrases.CART.search(text))
    digits = mentions_cart or len(text.split()) <= 3 or bool(_DIGITS_ONLY.match(text))
    said = _Said(text, state, mentions_cart, digits, quantity(text))
    for rule in _RULES:
        found = rule(said)
        if found is not None:
            return found
    return None


def _clear(said: _Said) -> Optional[Intent]:
    """ "clear my cart"; "empty it" with a cart to empty; a take-out verb over everything ("get rid of
    everything", "clear everything out"), which means the cart even when it is already empty."""
    everything = phrases.only(said.text, phrases.REMOVE, phrases.CLEAR, phrases.EVERYTHING, phrases.CLEAR_ALONE)
    if everything and phrases.EVERYTHING.search(said.text):
        return Intent(Kind.CART_CLEAR)
    if not phrases.CLEAR.search(said.text):
        return None
    alone = said.state.cart and phrases.only(said.text, phrases.CLEAR, phrases.CLEAR_ALONE)
    return Intent(Kind.CART_CLEAR) if said.mentions_cart or alone else None


def _set_quantity(said: _Said) -> Optional[Intent]:
    if not phrases.SET_QUANTITY.search(said.text):
        return None
    found = resolve(_of_those(said.text), said.state, prefer_cart=True, bare_digits=False)
    products = found.products[:1] if found.products and not found.error else in_question(said.state)
    return Intent(
        Kind.CART_SET,
        products=products[:1],
        quantity=said.count,
        action=Kind.CART_ADD,
        reference_error=None if products else "Which product should I change?",
    )


def _swap(said: _Said) -> Optional[Intent]:
    match = _SWAP.search(said.text)
    if match is None or not said.state.cart:
        return None
    old = resolve(match.group(1), said.state, prefer_cart=True, bare_digits=True).products
    old = tuple(item for item in old if item["id"] in said.state.cart) or (
        in_question(said.state) if phrases.PRONOUN.search(match.group(1)) else ()
    )
    new = resolve(match.group(2), said.state, bare_digits=True).products
    if len(old) != 1 or len(new) != 1 or old[0]["id"] == new[0]["id"]:
        return Intent(Kind.CART_SWAP, reference_error=_swap_question(old, new), action=Kind.CART_SWAP, confidence=0.4)
    return Intent(Kind.CART_SWAP, products=(old[0], new[0]), action=Kind.CART_ADD)


def _swap_question(old: Tuple[Product, ...], new: Tuple[Product, ...]) -> str:
    if len(old) != 1:
        named = " or ".join(f"the {item['name']}" for item in old[:4])
        return f"Which one should I swap out{': ' + named if named else ''}?"
    return "Swap it for which one? Say its number, for example \u201cthe third one\u201d."


def _remove(said: _Said) -> Optional[Intent]:
    if not phrases.REMOVE.search(said.text):
        return None
    found = resolve(_of_those(said.text), said.state, prefer_cart=True, bare_digits=said.digits)
    products = found.products or (in_question(said.state) if said.count and not found.pointed else ())
    unknown = not products and _UNKNOWN_ONE.search(said.text)
    if not (said.mentions_cart or found.pointed or products or said.count or unknown):
        return None
    return Intent(
        Kind.CART_REMOVE,
        products=products,
        reference_error=None if products else (found.error or (_WHICH if unknown else None)),
        quantity=said.count if said.count and not phrases.SET_QUANTITY.search(said.text) else None,
        action=Kind.CART_REMOVE,
        confidence=1.0 if products else 0.4,
    )


def _another(said: _Said) -> Optional[Intent]:
    if not (phrases.ANOTHER.search(said.text) and (said.state.focus_id or said.state.cart)):
        return None
    found = resolve(said.text, said.state, bare_digits=False)
    pronoun = phrases.PRONOUN.search(said.text)
    products = found.products if found.products and not pronoun else in_question(said.state)
    return Intent(
        Kind.CART_ADD,
        products=products[:1],
        quantity=1,
        action=Kind.CART_ADD,
        reference_error=None if products else "Another of which one?",
    )


def _add(said: _Said) -> Optional[Intent]:
    if not phrases.ADD.search(said.text) or (phrases.COMPARE.search(said.text) and not said.mentions_cart):
        return None  # "put them side by side"
    found = resolve(_of_those(said.text), said.state, bare_digits=said.digits)
    unknown = not found.products and _UNKNOWN_ONE.search(said.text)
    if not (said.mentions_cart or found.pointed or unknown):
        return None
    return Intent(
        Kind.CART_ADD,
        products=found.products,
        reference_error=found.error or (_WHICH if unknown else None),
        quantity=said.count or 1,
        action=Kind.CART_ADD,
        confidence=1.0 if found.products and not found.error else 0.4,
    )


def _show(said: _Said) -> Optional[Intent]:
    asks = said.mentions_cart or phrases.CART_QUESTION.search(said.text)
    return Intent(Kind.CART_SHOW) if asks else None


_RULES = (_clear, _set_quantity, _swap, _remove, _another, _add, _show)


def _of_those(text: str) -> str:
    """ "two of those" after looking at one product is two of *it*: the count is not a reference to all."""
    return re.sub(r"\b(\d+|one|two|three|four|five|a couple|a pair) of (?:those|these|them)\b", r"\1 of it", text)


def in_question(state: SessionState) -> Tuple[Product, ...]:
    """The product the conversation is on: the one looked at or added last, or the only one in the cart."""
    item = catalog.product(state.focus_id) if state.focus_id else None
    if item is None and len(state.cart) == 1:
        item = catalog.product(next(iter(state.cart)))
    return (item,) if item else ()
