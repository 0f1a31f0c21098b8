"""Which products a message points at: "the second one", "#2", "it", "the cheapest one",
"RUN-004" or a product's name, resolved against what the session last showed (or its cart).
"""

import functools
import re
from typing import Any, Dict, List, Optional, Tuple

from chalicelib import catalog
from chalicelib.assistant.catalog import phrases
from chalicelib.catalog.text import STOPWORDS, fold
from chalicelib.sessions import SessionState

__all__ = ["find_references", "has_reference", "is_bare_reference", "quantity"]

Product = Dict[str, Any]


def find_references(
    text: str, state: SessionState, default_all: bool = False, prefer_cart: bool = False, bare_digits: bool = True
) -> Tuple[List[Product], Optional[str]]:
    """The products a message refers to, in the order mentioned; or why they can't be found."""
    shown = [item for item in (catalog.product(pid) for pid in state.last_result_ids) if item]
    found: List[Tuple[int, Product]] = []
    error: Optional[str] = None

    def add(at: int, item: Optional[Product]) -> None:
        if item is not None and all(item["id"] != other["id"] for _, other in found):
            found.append((at, item))

    for match in phrases.PRODUCT_ID.finditer(text):
        add(match.start(), catalog.product(f"{match.group(1)}-{match.group(2)}"))
    for at, item in _named_products(text, state, shown):
        add(at, item)
    positions = [(m.start(), phrases.ORDINALS.get(m.group(0), -1)) for m in phrases.ORDINAL.finditer(text)]
    positions += [(m.start(), int(m.group(1))) for m in phrases.NUMBERED.finditer(text)]
    if bare_digits and not positions and not found:
        digits = phrases.BARE_DIGIT.finditer(text)
        positions = [(m.start(), int(m.group(1))) for m in digits if _ends_reference(text, m)]
    for at, position in positions:
        if not shown:
            error = "I haven't shown you any products yet. Tell me what you're looking for first."
            continue
        if position == -1:
            position = len(shown)
        if 1 <= position <= len(shown):
            add(at, shown[position - 1])
        else:
            error = f"I only showed {len(shown)}: pick a number from 1 to {len(shown)}."
    pool = _cart_products(state) if prefer_cart and state.cart else shown
    for sort, pattern in phrases.SELECTORS:
        match = pattern.search(text)
        if match and pool:
            add(match.start(), sorted(pool, key=catalog.filters.sort_key(sort))[0])
    if default_all and not found and (phrases.ALL.search(text) or not positions):
        found = list(enumerate(shown[:3]))  # "compare them": the top three
    if not found and phrases.PRONOUN.search(text):
        focus = catalog.product(state.focus_id) if state.focus_id else None
        if focus is None and len(shown) == 1:
            focus = shown[0]
        if focus is None and prefer_cart and len(state.cart) == 1:
            focus = catalog.product(next(iter(state.cart)))
        if focus is not None:
            found.append((0, focus))
        elif not error:
            error = "Which one do you mean? Say, for example, \u201cthe second one\u201d."
    found.sort(key=lambda pair: pair[0])
    return [item for _, item in found], error


def _ends_reference(text: str, match: "re.Match[str]") -> bool:
    """"compare 1 and 3", "add 2 to my cart": a position; "order 3 tents": a count of something."""
    following = re.match(r"\s*([a-z]+)", text[match.end() :])
    return following is None or following.group(1) in STOPWORDS or following.group(1) in ("vs", "versus")


def _named_products(text: str, state: SessionState, shown: List[Product]) -> List[Tuple[int, Product]]:
    """Products named in the message: a full name anywhere, or a model name ("Vector 12") among those in play."""
    found = []
    in_play = {item["id"] for item in shown + _cart_products(state)}
    patterns = _name_patterns()
    for item in catalog.products():
        full, model = patterns[item["id"]]
        match = full.search(text) or (model.search(text) if item["id"] in in_play else None)
        if match:
            found.append((match.start(), item))
    return found


@functools.lru_cache(maxsize=1)
def _name_patterns() -> Dict[str, Tuple["re.Pattern[str]", "re.Pattern[str]"]]:
    """Per product id: its full name and its model name (without the brand), as word-bounded patterns."""
    patterns = {}
    for item in catalog.products():
        name = fold(item["name"])
        model = name[len(fold(item["brand"])) :].strip()
        patterns[item["id"]] = tuple(re.compile(r"(?<![a-z0-9])" + re.escape(part) + r"(?![a-z0-9])")
                                     for part in (name, model))
    return patterns


def _cart_products(state: SessionState) -> List[Product]:
    return [item for item in (catalog.product(pid) for pid in state.cart) if item]


def has_reference(text: str, state: SessionState, bare_digits: bool) -> bool:
    products, error = find_references(text, state, bare_digits=bare_digits)
    return bool(products or error)


def is_bare_reference(text: str) -> bool:
    """"the second one", "#3", "number 2": a message that only points at a product."""
    rest = phrases.ORDINAL.sub(" ", phrases.NUMBERED.sub(" ", text))
    if rest == text:
        return False
    return not re.sub(r"\b(?:the|one|please|ok|and|what|about|how|option|pick|i|like|want)\b", " ", rest).strip()


def quantity(text: str) -> Optional[int]:
    match = phrases.QUANTITY.search(text)
    if not match:
        return None
    raw = next(group for group in match.groups() if group)
    return int(raw) if raw.isdigit() else phrases.NUMBER_WORDS.get(raw)
