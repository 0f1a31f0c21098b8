"""Which products a message points at, resolved against the session: what it showed last (the
numbered list), the products the last answers were about (a comparison's pair: "the cheaper of
those", "both", "the other one"), the product in question ("it", "that one") and the cart.

Forms: ids ("RUN-004"), names and model names ("the Vector 12"), brands and categories among the
products in play ("the Garmin", "remove the boots"), positions ("the second one", "number 3",
"2 and 4", "the first two", "the last one"), picks ("the cheapest one", "the better rated of those",
"the lightest") and pronouns. Pure: reads the state, never changes it.
"""

import functools
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Tuple

from chalicelib import catalog
from chalicelib.assistant import tools
from chalicelib.assistant.catalog import phrases
from chalicelib.catalog.text import STOPWORDS, fold
from chalicelib.catalog.vocabulary import PhraseIndex
from chalicelib.sessions import SessionState

__all__ = ["Found", "group", "is_bare_reference", "named_spans", "quantity", "resolve"]

Product = Dict[str, Any]

_WORD = re.compile(r"[a-z0-9]+")
_COUNT_WORDS = {"two": 2, "three": 3, "four": 4, "five": 5}
_PICK_KEYS: Dict[str, Callable[[Product], Any]] = {
    "weight_asc": lambda item: _weight(item),
    "weight_desc": lambda item: -_weight(item),
    "battery_desc": lambda item: -_battery_hours(item),
    "size_desc": lambda item: -_size(item),
    "size_asc": lambda item: _size(item),
}
# Words after a bare digit that keep it a position: "compare 1 and 3", "how do 2 and 4 compare".
# Words before a bare digit that keep it a position: "add 2", "compare 2 and 4", "remove 3".
_POSITION_WORDS = {
    "add",
    "remove",
    "delete",
    "drop",
    "compare",
    "vs",
    "versus",
    "against",
    "get",
    "take",
    "buy",
    "put",
    "want",
    "choose",
    "pick",
    "about",
    "number",
    "and",
    "or",
    "between",
    "see",
    "show",
    "open",
    "like",
}
_POSITION_FOLLOWERS = {
    "vs",
    "versus",
    "compare",
    "against",
    "please",
    "then",
    "too",
    "instead",
    "as",
    "side",
    "together",
    "better",
    "cheaper",
}


@dataclass(frozen=True)
class Found:
    """What a message points at: the products (in the order mentioned), or why they can't be told."""

    products: Tuple[Product, ...] = ()
    error: Optional[str] = None
    pointed: bool = False  # the message has a reference phrase at all (even one that failed)
    picked: bool = False  # a pick among the products in play ("the cheapest one")


def group(state: SessionState) -> List[Product]:
    """The products the conversation is about: the last comparison or list shown."""
    ids = (state.last_turn or {}).get("group_ids") or state.last_result_ids
    return [item for item in (catalog.product(pid) for pid in ids) if item]


_NOTHING_SHOWN = "I haven't shown you any products yet. Tell me what you're looking for first."
_WHICH_ONE = "Which one do you mean? Say, for example, \u201cthe second one\u201d."


@dataclass
class _Resolving:
    """What the reference rules have found so far, and what they read."""

    text: str
    state: SessionState
    shown: List[Product]
    in_play: List[Product]
    cart: List[Product]
    pool: List[Product]
    prefer_cart: bool
    bare_digits: bool
    default_all: bool
    found: List[Tuple[int, Product]] = field(default_factory=list)
    error: Optional[str] = None
    pointed: bool = False
    picked: bool = False

    def add(self, at: int, item: Optional[Product]) -> None:
        if item is not None and all(item["id"] != other["id"] for _, other in self.found):
            self.found.append((at, item))


def resolve(
    text: str, state: SessionState, default_all: bool = False, prefer_cart: bool = False, bare_digits: bool = True
) -> Found:
    shown = tools.shown(state)
    in_play = group(state) or shown
    cart = _cart_products(state)
    pool = cart if prefer_cart and cart else in_play
    resolving = _Resolving(text, state, shown, in_play, cart, pool, prefer_cart, bare_digits, default_all)
    for rule in _RULES:
        rule(resolving)
    resolving.found.sort(key=lambda pair: pair[0])
    return Found(tuple(item for _, item in resolving.found), resolving.error, resolving.pointed, resolving.picked)


def _by_id(r: _Resolving) -> None:
    for match in phrases.PRODUCT_ID.finditer(r.text):
        r.add(match.start(), catalog.product(f"{match.group(1)}-{match.group(2)}"))


def _by_name(r: _Resolving) -> None:
    for at, item in _named_products(r.text, r.shown + r.cart + r.in_play):
        r.add(at, item)


def _by_kind(r: _Resolving) -> None:
    kinds, which = _kinds_in_play(r.text, r.pool if r.pool else r.shown, loose=r.prefer_cart and bool(r.cart))
    for at, item in kinds:
        r.add(at, item)
    if which and not kinds:
        r.error, r.pointed = which, True


def _positions_in(r: _Resolving) -> List[Tuple[int, int]]:
    positions: List[Tuple[int, int]] = []
    for match in phrases.COUNTED.finditer(r.text):
        count = int(_COUNT_WORDS.get(match.group(2), match.group(2) if match.group(2).isdigit() else 0))
        last = len(r.shown)
        numbers = range(1, count + 1) if match.group(1) != "last" else range(last - count + 1, last + 1)
        positions += [(match.start() + index, number) for index, number in enumerate(numbers)]
    if not positions:
        positions = [(m.start(), phrases.ORDINALS.get(m.group(0), -1)) for m in phrases.ORDINAL.finditer(r.text)]
    positions += [(m.start(), int(m.group(1))) for m in phrases.NUMBERED.finditer(r.text)]
    if r.bare_digits and not positions and not r.found:
        digits = phrases.BARE_DIGIT.finditer(r.text)
        positions = [(m.start(), int(m.group(1))) for m in digits if _ends_reference(r.text, m)]
    return positions


def _by_position(r: _Resolving) -> None:
    positions = _positions_in(r)
    r.pointed = r.pointed or bool(positions or r.found)
    for at, position in positions:
        if not r.shown:
            r.error = _NOTHING_SHOWN
            continue
        position = len(r.shown) if position == -1 else position
        if 1 <= position <= len(r.shown):
            r.add(at, r.shown[position - 1])
        else:
            r.error = f"I only showed {len(r.shown)}: pick a number from 1 to {len(r.shown)}."


def _by_pick(r: _Resolving) -> None:
    for sort, match in phrases.selectors_in(r.text):
        r.pointed = r.picked = True
        if r.pool:
            key = _PICK_KEYS.get(sort) or catalog.filters.sort_key(sort)
            r.add(match.start(), sorted(r.pool, key=key)[0])
        elif not r.error:
            r.error = _NOTHING_SHOWN


def _the_other(r: _Resolving) -> None:
    other = phrases.OTHER.search(r.text)
    if not other or r.found:
        return
    r.pointed = True
    pool = r.cart if r.prefer_cart and len(r.cart) > 1 else r.pool
    others = [item for item in pool if item["id"] != r.state.focus_id]
    if r.prefer_cart and len(r.cart) == 1:
        others = r.cart
    if len(others) == 1:
        r.add(other.start(), others[0])
    else:
        r.error = _WHICH_ONE


def _all_of_them(r: _Resolving) -> None:
    every = phrases.ALL.search(r.text)
    if r.found or not (every or r.default_all):
        return
    r.pointed = r.pointed or bool(every)
    wanted = _how_many(every.group(0) if every else "", len(r.in_play))
    few = every is None and 2 <= len(r.in_play) <= 3
    items = r.in_play if len(r.in_play) == wanted or few else r.shown[:wanted]
    if not items:
        r.error = r.error or _NOTHING_SHOWN
    r.found = list(enumerate(items))


def _pronoun(r: _Resolving) -> None:
    if r.found or not phrases.PRONOUN.search(r.text):
        return
    r.pointed = True
    focus = catalog.product(r.state.focus_id) if r.state.focus_id else None
    if focus is None and len(r.in_play) == 1:
        focus = r.in_play[0]
    if focus is None and r.prefer_cart and len(r.cart) == 1:
        focus = r.cart[0]
    if focus is not None:
        r.found.append((0, focus))
    elif not r.error:
        r.error = _WHICH_ONE


# In order: what names a product outright, then positions, picks and the words that point loosely.
_RULES = (_by_id, _by_name, _by_kind, _by_position, _by_pick, _the_other, _all_of_them, _pronoun)


def _how_many(phrase: str, available: int) -> int:
    for word, count in (("both", 2), ("two", 2), ("three", 3), ("3", 3), ("four", 4), ("five", 5)):
        if word in phrase.split():
            return count
    if "all" in phrase.split() or phrase == "the results":
        return available or 3  # "add all of them": every one shown
    return min(3, available) if available else 3  # "compare them": the top three


def _weight(item: Product) -> float:
    attributes = item["attributes"]
    if "weight_kg" in attributes:
        return float(attributes["weight_kg"]) * 1000
    return float(attributes.get("weight_g", 0))


def _size(item: Product) -> float:
    """How big, by the category's own measure: litres, people, cups, inches of screen or case."""
    attributes = item["attributes"]
    for key in ("capacity_l", "capacity_people", "capacity_cups", "screen_in", "case_mm", "length_cm"):
        if key in attributes:
            return float(attributes[key])
    return 0.0


def _battery_hours(item: Product) -> float:
    attributes = item["attributes"]
    return float(attributes.get("battery_hours") or 0) or float(attributes.get("battery_days") or 0) * 24


def _ends_reference(text: str, match: "re.Match[str]") -> bool:
    """ "compare 1 and 3", "add 2 to my cart": a position; "order 3 tents": a count of something;
    "add Puma Glide 5": part of a name, not the fifth product."""
    following = re.match(r" ?([a-z]+)", text[match.end() :])
    preceding = re.search(r"([a-z]+) ?$", text[max(0, match.start() - 20) : match.start()])
    if preceding is not None and preceding.group(1) in _model_words() and preceding.group(1) not in _POSITION_WORDS:
        return False
    return following is None or following.group(1) in STOPWORDS or following.group(1) in _POSITION_FOLLOWERS


def _named_products(text: str, candidates: List[Product]) -> List[Tuple[int, Product]]:
    """Products named in the message: a full name anywhere, or a model name ("Vector 12") among those in play."""
    full, models = _name_indexes()
    found = [(start, catalog.product(pid)) for start, _end, pid in full.find(text)]
    in_play = {item["id"] for item in candidates}
    for start, _end, ids in models.find(text):
        found += [(start, catalog.product(pid)) for pid in ids if pid in in_play]
    return [(start, item) for start, item in found if item is not None]


def _kinds_in_play(text: str, pool: List[Product], loose: bool = False) -> Tuple[List[Tuple[int, Product]], str]:
    """ "the boots", "the Garmin", "the tent": the one product of that category or brand in play;
    or, when several are, the question which ("the Osprey Atmos or the Deuter Trail?").

    ``loose`` (the cart) takes the category or brand without "the": "remove boots".
    """
    if not pool:
        return [], ""
    found = []
    question = ""
    mentions = [(m, "category") for m in catalog.category_mentions(text)]
    mentions += [(m, "brand") for m in catalog.brand_mentions(text)]
    for mention, kind in mentions:
        before = text[max(0, mention.start - 8) : mention.start]
        after = text[mention.end : mention.end + 5]
        if not (loose or before.endswith(("the ", "that ", "those ")) or after.startswith(" one")):
            continue
        matching = [item for item in pool if item[kind] == mention.value]
        if len(matching) == 1:
            found.append((mention.start, matching[0]))
        elif matching:
            question = "Which one: " + " or ".join(f"the {item['name']}" for item in matching[:4]) + "?"
    return found, question


@functools.lru_cache(maxsize=1)
def _model_words() -> frozenset:
    """Words of product model names ("glide", "vector"): a digit after one is part of a name."""
    words = {word for item in catalog.products() for word in _WORD.findall(_model_name(item)) if word.isalpha()}
    return frozenset(words - STOPWORDS)


def named_spans(text: str) -> List[Tuple[int, int, str]]:
    """Where the text names a product in full: (start, end, id)."""
    return _name_indexes()[0].find(text)


@functools.lru_cache(maxsize=1)
def _name_indexes() -> Tuple[PhraseIndex, PhraseIndex]:
    """Full product names (one product each) and model names without the brand (maybe shared)."""
    models: Dict[str, List[str]] = {}
    for item in catalog.products():
        models.setdefault(_model_name(item), []).append(item["id"])
    full = PhraseIndex((fold(item["name"]), item["id"]) for item in catalog.products())
    return full, PhraseIndex((model, tuple(ids)) for model, ids in models.items() if model)


def _model_name(item: Product) -> str:
    return fold(item["name"])[len(fold(item["brand"])) :].strip()


def _cart_products(state: SessionState) -> List[Product]:
    return [item for item in (catalog.product(pid) for pid in state.cart) if item]


def is_bare_reference(text: str) -> bool:
    """ "the second one", "#3", "number 2", "and the third one": a message that only points at a product."""
    rest = phrases.COUNTED.sub(" ", phrases.ORDINAL.sub(" ", phrases.NUMBERED.sub(" ", text)))
    if rest == text:
        return False
    filler = r"\b(?:the|one|ones|please|ok|okay|and|what|about|how|option|pick|i|like|want|then|too|also|as well)\b"
    return not re.sub(filler, " ", rest).strip()


def quantity(text: str) -> Optional[int]:
    match = phrases.SET_QUANTITY.search(text) or phrases.QUANTITY.search(text)
    if not match:
        return None
    raw = next(group for group in match.groups() if group)
    return int(raw) if raw.isdigit() else phrases.NUMBER_WORDS.get(raw)
