"""Messages that point at products in play: a comparison, a question answered from the products
shown ("which has the longer battery?"), a pick ("the cheapest one"), details ("tell me more about
the second"), and a bare reference that continues the last action ("and the third one").

Each rule takes the message (``Said``) and returns an Intent or None; ``intents`` runs them in order.
"""

import re
from dataclasses import dataclass
from typing import Optional

from chalicelib import catalog
from chalicelib.assistant import tools
from chalicelib.assistant.catalog import comparatives, phrases
from chalicelib.assistant.catalog.kinds import CONTINUED, Intent, Kind
from chalicelib.assistant.catalog.parsing import strip_sort_directions
from chalicelib.assistant.catalog.references import Found, group, is_bare_reference, named_spans, quantity, resolve
from chalicelib.catalog.text import STOPWORDS
from chalicelib.sessions import SessionState

__all__ = ["Said", "compare", "comparing", "continued_bare", "details", "measure_question", "pick_among_shown"]

# Words that set two references side by side: "the first or the third", "is 2 better than 4".
_COMPARING = re.compile(r"\b(?:or|than|better|worse|nicer|cheaper|between|versus|vs)\b|\?$")
_CONTINUED = CONTINUED


@dataclass(frozen=True)
class Said:
    text: str  # folded, without greeting or punctuation, positions in one form
    original: str  # as typed (without a greeting): the search reads it
    state: SessionState


def compare(said: Said) -> Optional[Intent]:
    text, state = said.text, said.state
    if not phrases.COMPARE.search(text) or _relative_ask(text):
        return None
    found = resolve(text, state, default_all=True)
    if len(found.products) == 1 and found.picked:  # "which is the cheapest of those?"
        return Intent(Kind.DETAILS, products=found.products, question=text)
    products = found.products
    focus = catalog.product(state.focus_id) if state.focus_id else None
    if len(products) == 1 and focus and focus["id"] != products[0]["id"] and phrases.PRONOUN.search(text):
        products = (focus,) + products  # "compare it with the first one"
    return Intent(Kind.COMPARE, products=products, reference_error=found.error, action=Kind.COMPARE)


def comparing(said: Said) -> Optional[Intent]:
    """ "is the first one better than the third?", "the second or the fourth?" """
    text = said.text
    if not _COMPARING.search(text) or phrases.CART.search(text) or _relative_ask(text):
        return None
    found = resolve(text, said.state)
    return Intent(Kind.COMPARE, products=found.products, action=Kind.COMPARE) if len(found.products) >= 2 else None


def details(said: Said) -> Optional[Intent]:
    text, state = said.text, said.state
    strong = bool(phrases.DETAILS.search(text))
    question = bool(phrases.QUESTION.search(text)) and bool(
        phrases.PRONOUN.search(text) or phrases.ORDINAL.search(text) or phrases.NUMBERED.search(text)
    )
    bare = is_bare_reference(text)
    if not (strong or question or phrases.DETAILS_WEAK.search(text) or bare):
        return None
    found = resolve(text, state, bare_digits=strong or bare)
    if not (found.products or found.error):
        return None
    continued = _continued(text, state, found)
    if continued is not None:
        return continued
    return Intent(
        Kind.DETAILS, products=found.products[:1], reference_error=found.error, question=text, action=Kind.DETAILS
    )


def continued_bare(said: Said) -> Optional[Intent]:
    return _continued(said.text, said.state, resolve(said.text, said.state, bare_digits=len(said.text.split()) <= 4))


def relative(text: str) -> Optional[str]:
    return next((name for name, pattern in _RELATIVES if pattern.search(text)), None)


def _relative_ask(text: str) -> bool:
    """ "anything cheaper than these?": a refinement relative to the list, not a comparison."""
    return bool(phrases.RELATIVE_ASK.search(text) and relative(text))


_QUESTION_START = re.compile(r"^(?:which|what|whats|who|whose|is|are|does|do|has|have|the|any idea)\b")
_AMONG = re.compile(r"\b(?:of (?:these|those|them|the (?:lot|bunch|two|three|four|five))|among|out of|here)\b")


def measure_question(said: Said) -> Optional[Intent]:
    """ "which has the longer battery?", "the roomiest of these": answered from the products in play."""
    text, state = said.text, said.state
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


def pick_among_shown(said: Said) -> Optional[Intent]:
    """ "what's the best rated one?", "the cheapest of those": a product picked from those in play."""
    text, state = said.text, said.state
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


_RELATIVES = (("cheaper", phrases.CHEAPER), ("pricier", phrases.PRICIER), ("better_rated", phrases.BETTER_RATED))
