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
from chalicelib.assistant.catalog import describing, meta, parsing, phrases, pointing, positions
from chalicelib.assistant.catalog.cart_intents import cart_intent
from chalicelib.assistant.catalog.kinds import Intent, Kind
from chalicelib.assistant.catalog.parsing import Constraints, extract_constraints, squeeze
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
# A head noun is what a request is for; a phrase after these describes it ("a tent for two").
_MODIFIER = re.compile(r"\b(?:for|with|to|that|which|in|on|at|from|so|because|like)\b")


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
    text = _plain(message)
    if not text:
        return Intent(Kind.HELP)
    for rule in _FIRST:
        found = rule(text, state)
        if found is not None:
            return found
    shown = len(state.last_result_ids)
    text, unsure = positions.normalize(text, shown) if shown else (text, False)
    if unsure:
        return Intent(Kind.CLARIFY, question=f"Which one do you mean? Say its number, 1 to {shown}.", confidence=0.3)
    said = pointing.Said(_strip_greeting(text), _strip_greeting_original(message), state)
    for rule in _RULES:
        found = rule(said)
        if found is not None:
            return found
    return _search_intent(said.original, said.text, state)


def _plain(message: str) -> str:
    text = fold(message).strip()
    text = re.sub(r"[!?.,;:]+(?= |$)", " ", text)
    return re.sub(r" +", " ", text).strip()


def _command(text: str, state: SessionState) -> Optional[Intent]:
    command = meta.command(text)
    return Intent(command) if command is not None else None


def _yes_or_no(text: str, state: SessionState) -> Optional[Intent]:
    if state.pending and phrases.only(text, phrases.YES):
        return Intent(Kind.CONFIRM)
    if phrases.only(text, phrases.NO) or (not state.pending and phrases.only(text, phrases.YES)):
        return Intent(Kind.DECLINE)  # nothing was offered: acknowledge and move on
    return None


def _greeting(text: str, state: SessionState) -> Optional[Intent]:
    return Intent(Kind.GREETING) if phrases.only(text, phrases.GREETING, phrases.FILLER) else None


def _thanks(said: "pointing.Said") -> Optional[Intent]:
    return Intent(Kind.THANKS) if phrases.only(said.text, phrases.THANKS, phrases.FILLER) else None


_ASKS_MORE = (  # "there" is a FILLER word too: "are there" goes first
    phrases.MORE,
    phrases.words(
        "show", "me", "please", "can you", "any", "some", "are there", "is there", r"(?:do|have) you(?: got| have)?"
    ),
    phrases.FILLER,
)


def _more(said: "pointing.Said") -> Optional[Intent]:
    return Intent(Kind.MORE) if said.state.filters and phrases.only(said.text, *_ASKS_MORE) else None


def _help(said: "pointing.Said") -> Optional[Intent]:
    polite = _POLITE.sub(" ", said.text)
    asks_help = phrases.HELP.search(said.text) or phrases.HELP.search(polite)
    if asks_help and len(polite.split()) <= 8 and not _names_anything(said.original):
        return Intent(Kind.HELP)
    return None


_FIRST = (_command, _yes_or_no, _greeting)
# Most specific first: the cart and references before search, so "add the second one to my cart"
# is never a search for carts.
_RULES = (
    lambda said: cart_intent(said.text, said.state),
    pointing.measure_question,
    pointing.compare,
    pointing.comparing,
    pointing.pick_among_shown,
    pointing.details,
    _thanks,
    _more,
    pointing.continued_bare,
    _help,
)


def _names_anything(message: str) -> bool:
    return bool(catalog.category_mentions(message) or catalog.brand_mentions(message))


def _contradiction(constraints: Constraints, category: Optional[str]) -> Intent:
    low, high = constraints.min_price, constraints.max_price
    question = f"You asked for over ${low:,.0f} and under ${high + 0.01:,.0f}: which one did you mean?"
    return Intent(Kind.CLARIFY, constraints=constraints, category=category, question=question)


def _search_intent(original: str, text: str, state: SessionState) -> Intent:
    constraints = extract_constraints(original)
    category = catalog.pick_category(constraints.text)
    if constraints.contradictory:
        return _contradiction(constraints, category)
    qualified = _qualified_category(constraints.text, category)
    if qualified is not None:
        return qualified
    said = constraints.text
    constraints = replace(constraints, text=_query_text(said, category))
    relative = pointing.relative(text)
    widenings = (("brand", phrases.ANY_BRAND), ("price", phrases.ANY_PRICE))
    widen = tuple(name for name, pattern in widenings if pattern.search(text))
    if category:
        return Intent(Kind.SEARCH, constraints=constraints, category=category)
    if state.filters and phrases.OTHER_BRAND.search(text):
        shown = tuple(dict.fromkeys(item["brand"] for item in tools.shown(state)))
        return Intent(Kind.REFINE, constraints=replace(constraints, exclude_brands=shown, text=""), widen=("brand",))
    missing = _missing(said, text, constraints, state, bool(relative or widen))
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


def _missing(said: str, text: str, constraints: Constraints, state: SessionState, relative: bool) -> Optional[Intent]:
    """Something the shop does not carry, a question about something else, or an unknown word to ask about;
    None when the message is a search (or, with a search active, changes it: "I can go up to 300 now")."""
    missing = None if constraints.brands else _not_carried(_without_refinements(said))
    if missing is None:
        return None
    if missing.kind == Kind.CLARIFY:
        changes = relative or _states_anything(replace(constraints, text=""))
        return None if state.filters and changes else missing
    if phrases.ASKING.search(text) and not phrases.WANTING.search(text):
        # A question about something else than products ("what's your return policy?").
        return Intent(Kind.CLARIFY, question=_outside_question(missing.missing))
    return missing


def _states_anything(found: Constraints) -> bool:
    return bool(found.text or found.band or found.filters_anything)


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
