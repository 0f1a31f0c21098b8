"""What a shopper's message asks for: its intent, with the products it refers to.

Rules, not a model: ordered checks on folded text, most specific first (the cart
and references before search), so "add the second one to my cart" is never
mistaken for a search for carts. When a message cannot be told apart from two
readings, the intent is CLARIFY with the question to ask: a wrong list is worse
than a question.
"""

import functools
import re
from dataclasses import replace
from typing import Any, Dict, FrozenSet, List, Optional, Tuple

from chalicelib import catalog
from chalicelib.assistant import tools
from chalicelib.assistant.catalog import comparatives, describing, meta, parsing, phrases, positions
from chalicelib.assistant.catalog.cart_intents import cart_intent
from chalicelib.assistant.catalog.kinds import CONTINUED, Intent, Kind
from chalicelib.assistant.catalog.parsing import Constraints, extract_constraints, squeeze, strip_sort_directions
from chalicelib.assistant.catalog.references import Found, group, is_bare_reference, named_spans, quantity, resolve
from chalicelib.catalog.text import STOPWORDS, fold
from chalicelib.catalog.vocabulary import correct_brand
from chalicelib.sessions import SessionState

__all__ = ["Intent", "Kind", "classify", "correct_typos"]

Product = Dict[str, Any]

# At most this many misspelt words are looked up per message: the cost stays bounded.
_MOST_CORRECTIONS = 6
# The words a question or a suggestion is built from: the first few that differ.
_MOST_WORDS = 20
_WORD = re.compile(r"[a-z]+")
# Polite openings that carry no request: "could you please help me find", "I was wondering if you have".
_POLITE = re.compile(
    r"\b(?:(?:could|can|would|will) you(?: please| kindly)?(?: help me| show me| find me| get me)?(?: find| with)?|"
    r"(?:please )?help me (?:find|choose|pick|with|get)|i was wondering if you (?:have|sell|carry)(?: any)?|"
    r"i(?:'?m| am) (?:looking|searching|shopping) for|i(?:'?d| would) like(?: to (?:see|find|buy|get))?|"
    r"do you (?:have|sell|carry|stock)(?: any)?|i need|i want|show me|if possible|thank you|thanks)\b"
)
# Words that set two references side by side: "the first or the third", "is 2 better than 4".
_COMPARING = re.compile(r"\b(?:or|than|better|worse|nicer|cheaper|between|versus|vs)\b|\?$")
# A head noun is what a request is for; a phrase after these describes it ("a tent for two").
_MODIFIER = re.compile(r"\b(?:for|with|to|that|which|in|on|at|from|so|because|like)\b")


_CONTINUED = CONTINUED


def classify(message: str, state: SessionState) -> Intent:
    message = squeeze(message)
    message, corrected = correct_typos(message)
    message = describing.rewrite(message)
    intent = _classify(message, state)
    return replace(intent, corrected=corrected) if corrected else intent


def correct_typos(message: str) -> Tuple[str, Tuple[Tuple[str, str], ...]]:
    """The message with misspelt catalog words corrected (rapidfuzz against the catalog's vocabulary).

    Only words the constraint parser left over are candidates: "rated" or "cheapest" are the
    parser's words, not typos of catalog words.
    """
    corrections: List[Tuple[str, str]] = []
    leftover = _POLITE.sub(" ", extract_constraints(message).text)
    own = _own_words()
    unknown = [word for word in dict.fromkeys(_WORD.findall(leftover)) if len(word) >= 4 and word not in own]
    categories = tuple(dict.fromkeys(mention.value for mention in catalog.category_mentions(message)))
    for word in unknown[: _MOST_CORRECTIONS * 4]:
        if len(corrections) == _MOST_CORRECTIONS:
            break
        # Next to a kind of product, a brand that sells it comes first ("gamin smartwatches": Garmin).
        right = (correct_brand(word, categories) if categories else None) or catalog.correct(word)
        if right:
            corrections.append((word, right))
    for wrong, right in corrections:
        message = re.sub(r"(?<![A-Za-z])" + re.escape(wrong) + r"(?![A-Za-z])", right, message, flags=re.IGNORECASE)
    return message, tuple(corrections)


@functools.lru_cache(maxsize=1)
def _own_words() -> FrozenSet[str]:
    """Every word the assistant's own phrases use ("rated", "cheaper", "compare"): never a typo."""
    sources = [value.pattern for value in vars(phrases).values() if isinstance(value, re.Pattern)]
    sources += [value.pattern for value in vars(parsing).values() if isinstance(value, re.Pattern)]
    sources += [pattern.pattern for _, pattern in phrases.SELECTORS] + [_POLITE.pattern]
    return frozenset(re.findall(r"[a-z]{3,}", " ".join(sources)))


def _classify(message: str, state: SessionState) -> Intent:
    text = fold(message).strip()
    text = re.sub(r"[!?.,;:]+(?= |$)", " ", text)
    text = re.sub(r" +", " ", text).strip()
    if not text:
        return Intent(Kind.HELP)
    command = meta.command(text)
    if command is not None:
        return Intent(command)
    shown = len(state.last_result_ids)
    if shown:
        text, unsure = positions.normalize(text, shown)
        if unsure:
            return Intent(Kind.CLARIFY, question=f"Which one do you mean? Say its number, 1 to {shown}.")
    if state.pending and phrases.only(text, phrases.YES):
        return Intent(Kind.CONFIRM)
    if phrases.only(text, phrases.NO) or (not state.pending and phrases.only(text, phrases.YES)):
        return Intent(Kind.DECLINE)  # nothing was offered: acknowledge and move on
    if phrases.only(text, phrases.GREETING, phrases.FILLER):
        return Intent(Kind.GREETING)
    text = _strip_greeting(text)
    original = _strip_greeting_original(message)

    for_cart = cart_intent(text, state)
    if for_cart is not None:
        return for_cart
    measured = _measure_question(text, state)
    if measured is not None:
        return measured
    relative_ask = phrases.RELATIVE_ASK.search(text) and _relative(text)
    if phrases.COMPARE.search(text) and not relative_ask:
        found = resolve(text, state, default_all=True)
        if len(found.products) == 1 and found.picked:  # "which is the cheapest of those?"
            return Intent(Kind.DETAILS, products=found.products, question=text)
        products = found.products
        focus = catalog.product(state.focus_id) if state.focus_id else None
        if len(products) == 1 and focus and focus["id"] != products[0]["id"] and phrases.PRONOUN.search(text):
            products = (focus,) + products  # "compare it with the first one"
        return Intent(Kind.COMPARE, products=products, reference_error=found.error, action=Kind.COMPARE)
    if _COMPARING.search(text) and not phrases.CART.search(text) and not relative_ask:
        found = resolve(text, state)
        if len(found.products) >= 2:  # "is the first one better than the third?", "the second or the fourth?"
            return Intent(Kind.COMPARE, products=found.products, action=Kind.COMPARE)
    strong = bool(phrases.DETAILS.search(text))
    question = bool(phrases.QUESTION.search(text)) and bool(
        phrases.PRONOUN.search(text) or phrases.ORDINAL.search(text) or phrases.NUMBERED.search(text)
    )
    picked = _pick_among_shown(text, state)
    if picked is not None:
        return picked
    if strong or question or phrases.DETAILS_WEAK.search(text) or is_bare_reference(text):
        found = resolve(text, state, bare_digits=strong or is_bare_reference(text))
        if found.products or found.error:
            continued = _continued(text, state, found)
            if continued is not None:
                return continued
            return Intent(
                Kind.DETAILS,
                products=found.products[:1],
                reference_error=found.error,
                question=text,
                action=Kind.DETAILS,
            )
    if phrases.only(text, phrases.THANKS, phrases.FILLER):
        return Intent(Kind.THANKS)
    asks_more = (phrases.MORE, phrases.FILLER, phrases.words("show", "me", "please", "can you", "any", "some"))
    if state.filters and phrases.only(text, *asks_more):
        return Intent(Kind.MORE)
    continued = _continued(text, state, resolve(text, state, bare_digits=len(text.split()) <= 4))
    if continued is not None:
        return continued
    polite = _POLITE.sub(" ", text)
    asks_help = phrases.HELP.search(text) or phrases.HELP.search(polite)
    if asks_help and len(polite.split()) <= 8 and not _names_anything(original):
        return Intent(Kind.HELP)
    return _search_intent(original, text, state)


_QUESTION_START = re.compile(r"^(?:which|what|whats|who|whose|is|are|does|do|has|have|the|any idea)\b")
_AMONG = re.compile(r"\b(?:of (?:these|those|them|the (?:lot|bunch|two|three|four|five))|among|out of|here)\b")


def _measure_question(text: str, state: SessionState) -> Optional[Intent]:
    """ "which has the longer battery?", "the roomiest of these": answered from the products in play."""
    asked = bool(_QUESTION_START.match(text) or _AMONG.search(text))
    if text.startswith(("the ", "and ")) and (state.last_turn or {}).get("action") in _CONTINUED[:2]:
        return None  # "the biggest one" answers "which one should I remove?"
    if not asked or (catalog.category_mentions(text) and not (_AMONG.search(text) or text.startswith("which"))):
        return None
    pool = group(state) or tools.shown(state)
    unknown = comparatives.unknown_superlative(text)
    if unknown and not phrases.selectors_in(text):
        return Intent(Kind.CLARIFY, question=_unmeasured(unknown), confidence=0.3)
    if comparatives.measure_words(text) is None:
        return None
    if not pool:
        return Intent(Kind.CLARIFY, question="Search for something first, then I can tell you which one.")
    found = resolve(text, state, bare_digits=False)
    chosen = list(found.products) if len(found.products) >= 2 else pool
    answer = comparatives.pick(text, chosen)
    if answer is None:
        return Intent(Kind.CLARIFY, question="The catalog doesn't list that for these. Want me to compare them?")
    return Intent(Kind.ANSWER, products=answer.products, pick=answer, question=text, action=Kind.DETAILS)


def _unmeasured(word: str) -> str:
    return (
        f"I can't tell which is \u201c{word}\u201d from what the catalog lists. I can compare their price, rating "
        "and specs (weight, size, battery...): say, for example, \u201ccompare them\u201d."
    )


def _names_anything(message: str) -> bool:
    return bool(catalog.category_mentions(message) or catalog.brand_mentions(message))


def _pick_among_shown(text: str, state: SessionState) -> Optional[Intent]:
    """ "what's the best rated one?", "the cheapest of those": a product picked from those in play."""
    if catalog.category_mentions(text) and not re.search(r"\bthe (?:\w+ )?(?:one|of)\b", text):
        return None
    text = strip_sort_directions(text)
    if not phrases.selectors_in(text):
        return None
    found = resolve(text, state, bare_digits=False)
    if not found.picked:
        return None
    continued = _continued(text, state, found)  # "and the smallest one" after adding one
    if continued is not None and continued.kind in (Kind.CART_ADD, Kind.CART_REMOVE):
        return continued
    if len(found.products) == 1:
        return Intent(Kind.DETAILS, products=found.products, question=text, action=Kind.DETAILS)
    if found.error and not found.products:
        return Intent(Kind.DETAILS, reference_error=found.error, action=Kind.DETAILS)
    return None


def _continued(text: str, state: SessionState, found: Found) -> Optional[Intent]:
    """A bare reference continues the last action: "and the third one" after adding the first."""
    last = (state.last_turn or {}).get("action")
    if last == Kind.CART_REMOVE and state.cart:
        found = resolve(text, state, prefer_cart=True, bare_digits=len(text.split()) <= 4)  # "the Osprey one"
    if last not in _CONTINUED or not (found.products or found.error) or not _only_pointing(text):
        return None
    if last == Kind.COMPARE and len(found.products) != 1:  # one product after a comparison: about it
        return Intent(Kind.COMPARE, products=found.products, reference_error=found.error)
    if last in (Kind.CART_ADD, Kind.CART_REMOVE):
        return Intent(last, products=found.products, reference_error=found.error, quantity=quantity(text), action=last)
    return Intent(
        Kind.DETAILS, products=found.products[:1], reference_error=found.error, question=text, action=Kind.DETAILS
    )


def _only_pointing(text: str) -> bool:
    """No search words: what is left after the reference phrases (and product, brand or category
    names) is filler ("and", "too", "as well")."""
    spans = [(m.start, m.end) for m in catalog.brand_mentions(text) + catalog.category_mentions(text)]
    spans += [(start, end) for start, end, _ in named_spans(text)]
    rest = text
    for start, end in sorted(spans, reverse=True):
        rest = rest[:start] + " " + rest[end:]
    for _sort, match in phrases.selectors_in(rest):
        rest = rest[: match.start()] + " " + rest[match.end() :]
    for pattern in (
        phrases.COUNTED,
        phrases.ORDINAL,
        phrases.NUMBERED,
        phrases.OTHER,
        phrases.PRONOUN,
        phrases.ALL,
        phrases.QUANTITY,
    ):
        rest = pattern.sub(" ", rest)
    words = [word for word in rest.split() if word not in STOPWORDS and not word.isdigit()]
    return not words or all(word in ("of", "one", "ones", "the", "and", "too", "as", "well", "also") for word in words)


def _search_intent(original: str, text: str, state: SessionState) -> Intent:
    constraints = extract_constraints(original)
    category = catalog.pick_category(constraints.text)
    if constraints.contradictory:
        low, high = constraints.min_price, constraints.max_price
        return Intent(
            Kind.CLARIFY,
            constraints=constraints,
            category=category,
            question=f"You asked for over ${low:,.0f} and under ${high + 0.01:,.0f}: which one did you mean?",
        )
    qualified = _qualified_category(constraints.text, category)
    if qualified is not None:
        return qualified
    said = constraints.text
    constraints = replace(constraints, text=_query_text(said, category))
    relative = _relative(text)
    widenings = (("brand", phrases.ANY_BRAND), ("price", phrases.ANY_PRICE))
    widen = tuple(name for name, pattern in widenings if pattern.search(text))
    if category:
        return Intent(Kind.SEARCH, constraints=constraints, category=category)
    if state.filters and phrases.OTHER_BRAND.search(text):
        shown = tuple(dict.fromkeys(item["brand"] for item in tools.shown(state)))
        return Intent(Kind.REFINE, constraints=replace(constraints, exclude_brands=shown, text=""), widen=("brand",))
    missing = None if constraints.brands else _not_carried(_without_refinements(said))
    if missing is not None and missing.kind == Kind.CLARIFY:
        changes = relative or widen or (_states_anything(replace(constraints, text="")))
        if not (state.filters and changes):
            return missing
        missing = None  # "I can go up to 300 now": the budget changes, the unknown verb is dropped
    if missing is not None and phrases.ASKING.search(text) and not phrases.WANTING.search(text):
        # A question about something else than products ("what's your return policy?").
        return Intent(Kind.CLARIFY, question=_outside_question(missing.missing))
    if missing is not None:
        return missing
    if state.filters and not (relative or widen or _states_anything(constraints)):
        return Intent(
            Kind.CLARIFY,
            question="What should I change: the budget, the brand, the kind of product? "
            "Or say \u201cshow more\u201d for the next ones.",
        )
    if state.filters:
        return Intent(
            Kind.REFINE,
            constraints=constraints,
            relative=relative,
            widen=widen,
            add_brands=bool(constraints.brands and phrases.ALSO.search(text)),
        )
    if constraints.brands or (constraints.text and _head_words(said)) or constraints.exclude_categories:
        return Intent(Kind.SEARCH, constraints=constraints)  # "anything but laptops under 100" too
    # Nothing says what is wanted ("a gift for my dad who likes hiking"): ask, naming what was understood.
    words = list(dict.fromkeys(_WORD.findall(said)))[:_MOST_WORDS]
    return Intent(
        Kind.CLARIFY,
        constraints=constraints,
        relative=relative,
        suggested=_nearest_categories(words),
        missing=" ".join(word for word in words if word not in STOPWORDS and catalog.is_known(word)),
    )


_RELATIVES = (("cheaper", phrases.CHEAPER), ("pricier", phrases.PRICIER), ("better_rated", phrases.BETTER_RATED))


def _relative(text: str) -> Optional[str]:
    return next((name for name, pattern in _RELATIVES if pattern.search(text)), None)


def _states_anything(found: Constraints) -> bool:
    return bool(
        found.text
        or found.brands
        or found.exclude_brands
        or found.exclude_categories
        or found.exclude_features
        or found.has_price
        or found.min_rating is not None
        or found.sort
        or found.band
        or found.measures
    )


def _outside_question(what: str) -> str:
    return (
        f"I can't help with \u201c{what}\u201d: I find products, compare them and keep your cart. "
        "What are you shopping for?"
    )


def _head_words(text: str) -> List[str]:
    """The content words that say what is wanted: before any "for …"/"with …" part, filler dropped."""
    polite = _POLITE.sub(" ", text)
    modifier = _MODIFIER.search(polite)
    head = polite[: modifier.start()] if modifier and polite[: modifier.start()].strip() else polite
    return [word for word in _WORD.findall(head) if word not in STOPWORDS]


def _not_carried(text: str) -> Optional[Intent]:
    """A request whose head noun the catalog has never heard of: "mountain bikes", "a blender"."""
    words = _head_words(text)
    if not words or catalog.names_a_thing(words[-1]) or words[-1] in _own_words():
        return None
    if not meta.reads_as_item(fold(text), " ".join(words), words):
        # An unknown verb, adjective or question is never "something we don't carry".
        return Intent(Kind.CLARIFY, question=_unsure(" ".join(words)))
    return _not_carried_intent(" ".join(words), _WORD.findall(_POLITE.sub(" ", text)))


def _unsure(what: str) -> str:
    return (
        f"I'm not sure what you mean by \u201c{what}\u201d. I can find products, answer questions about the ones "
        "shown, compare them and keep your cart: what would you like?"
    )


def _qualified_category(text: str, category: Optional[str]) -> Optional[Intent]:
    """ "sleeping bag": a category word ("bag") named by a word the catalog does not know is something else."""
    if category is None:
        return None
    mentions = [mention for mention in catalog.category_mentions(text) if mention.value == category]
    mention = mentions[-1] if mentions else None
    said = fold(text)[mention.start : mention.end].strip() if mention else ""
    if mention is None or " " in said or said in _own_names(category):
        return None  # a phrase of its own ("hiking boots", "headphones") is the category itself
    before = _WORD.findall(fold(text)[: mention.start])
    if not before or before[-1] in STOPWORDS or catalog.names_a_thing(before[-1]) or before[-1] in _own_words():
        return None
    thing = f"{before[-1]} {fold(text)[mention.start : mention.end]}"
    return Intent(Kind.NOT_CARRIED, missing=thing, suggested=(category,))


def _own_names(category: str) -> Tuple[str, ...]:
    """A category's own names ("headphones", "headphone"): only its generic words ("bag") can name
    something else ("sleeping bag")."""
    found = catalog.categories.by_name(category)
    names = (found.name, found.singular) if found else (category,)
    return names


def _not_carried_intent(missing: str, words: List[str]) -> Intent:
    suggested = _nearest_categories(words)
    return Intent(Kind.NOT_CARRIED, missing=missing, suggested=suggested or tuple(catalog.category_names()[:3]))


def _nearest_categories(words: List[str]) -> Tuple[str, ...]:
    """The categories whose products best match the words the catalog knows ("hiking" -> boots, tents...)."""
    distinct = [word for word in dict.fromkeys(words) if word not in STOPWORDS][:_MOST_WORDS]
    known = " ".join(word for word in distinct if catalog.is_known(word))
    if not known:
        return ()
    result = catalog.search(catalog.SearchRequest(text=known), limit=len(catalog.products()))
    return tuple(dict.fromkeys(item["category"] for item in result.products))[:3]


def _without_refinements(text: str) -> str:
    for pattern in (
        phrases.CHEAPER,
        phrases.PRICIER,
        phrases.BETTER_RATED,
        phrases.ANY_BRAND,
        phrases.ANY_PRICE,
        phrases.MORE,
        _POLITE,
    ):
        text = pattern.sub(" ", text)
    return text


def _query_text(text: str, category: Optional[str]) -> str:
    """The words worth searching for: without refinement words, the category's name and filler."""
    return catalog.search_words(_without_refinements(text), category)


def _strip_greeting(text: str) -> str:
    match = phrases.GREETING.match(text)
    return text[match.end() :].strip(" ,!") if match else text


def _strip_greeting_original(message: str) -> str:
    match = phrases.GREETING.match(fold(message).strip())
    if not match:
        return message
    # fold() keeps offsets for apostrophe-free ASCII, the case for greetings at the start.
    return message.strip()[match.end() :].strip(" ,!")
