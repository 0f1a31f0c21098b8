"""Comparatives and superlatives over the products on screen, derived from the catalog's
numeric attributes: "which has the longer battery?", "the roomiest of these", "which sets up
fastest?", "is the second one heavier than the first?".

A direction word names a measure (an attribute stem, read from attribute names: "weight",
"capacity", "battery", "setup") and which end is wanted. The measure is found among the products
in play and the answer is the product at that end, with its value and the others' (never a new
search). A superlative the catalog cannot measure ("the quietest") is reported, so the caller asks.
"""

import re
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Sequence, Tuple

from chalicelib.catalog.measures import UNITS, stem

__all__ = ["Pick", "measure_words", "pick"]

Product = Dict[str, Any]

# Adjectives and phrases -> (the attribute stems they measure, in order of preference; highest wanted?)
_SIZE = ("capacity", "screen", "case", "length")
_DIRECTIONS: Tuple[Tuple[str, Tuple[str, ...], bool], ...] = (
    (r"light(?:est|er)|least heavy|weighs? (?:the )?least|less heavy", ("weight",), False),
    (r"heav(?:iest|ier)|weighs? (?:the )?most|bulkiest", ("weight",), True),
    (
        r"(?:sets? ?up|pitch(?:es)?|assembles?|to set up) (?:the )?(?:fastest|quickest|faster|quicker)"
        r"|(?:fastest|quickest|easiest|faster|quicker|easier) (?:to )?(?:set ?up|pitch|assemble)",
        ("setup",),
        False,
    ),
    (
        r"(?:longest|longer|biggest|bigger|best|better) battery|battery (?:that )?lasts? (?:the )?longe(?:st|r)"
        r"|lasts? (?:the )?longe(?:st|r)|longest lasting|most battery|most (?:hours|days)",
        ("battery",),
        True,
    ),
    (r"shortest battery|battery (?:that )?(?:dies|lasts) (?:the )?(?:shortest|soonest)", ("battery",), False),
    (r"thick(?:est|er)", ("thickness",), True),
    (r"thin(?:nest|ner)", ("thickness",), False),
    (r"(?:biggest|largest|bigger|larger) (?:screen|display)", ("screen",), True),
    (r"(?:smallest|smaller) (?:screen|display)", ("screen",), False),
    (r"(?:biggest|largest|bigger|larger) (?:case|face|dial)", ("case",), True),
    (
        r"(?:most|more) (?:storage|space on disk|ssd)|(?:biggest|largest|bigger) (?:ssd|drive|storage)",
        ("storage",),
        True,
    ),
    (r"(?:most|more) (?:ram|memory)", ("ram",), True),
    (r"(?:most|more) cups|(?:makes|brews) (?:the )?most", ("capacity",), True),
    (r"(?:most|more) pressure|(?:highest|higher) pressure", ("pressure",), True),
    (r"(?:most|more) water resist\w*|(?:highest|higher) water rating", ("water",), True),
    (r"(?:highest|higher|biggest|bigger) drop", ("drop",), True),
    (r"(?:lowest|lower|smallest|smaller) drop", ("drop",), False),
    (
        r"roomi(?:est|er)|(?:most|more) (?:spacious|room|roomy|capacity|space|people)|holds? (?:the )?most"
        r"|sleeps? (?:the )?most|fits? (?:the )?most",
        ("capacity",),
        True,
    ),
    (r"biggest|largest|bigger|larger", _SIZE, True),
    (r"smallest|smaller|most compact|more compact|least (?:room|space|capacity)", _SIZE, False),
    (r"long(?:est|er)", ("length", "battery"), True),
    (r"short(?:est|er)", ("length",), False),
)
_COMPILED = tuple((re.compile(r"\b(?:" + words + r")\b"), stems, high) for words, stems, high in _DIRECTIONS)
# A superlative word that is not a measure the catalog has ("quietest", "comfiest", "most durable").
_OTHER_SUPERLATIVE = re.compile(
    r"\b(?:(?!(?:best|least|most|first|last|cheapest|interest|latest)\b)[a-z]{3,}est"
    r"|most (?!(?:expensive|popular|reviewed|affordable|rated)\b)[a-z]{4,})\b"
)
_UNIT_WORDS = {"g": "g", "kg": "kg", "mm": "mm", "cm": "cm", "in": '"', "l": "L", "hours": "h", "days": "days",
               "minutes": "min", "people": "people", "gb": "GB", "cups": "cups", "bar": "bar",
               "atm": "ATM"}  # fmt: skip


@dataclass(frozen=True)
class Pick:
    products: Tuple[Product, ...]  # the winner(s), a tie gives several
    key: str  # the attribute compared ("weight_kg")
    highest: bool
    values: Tuple[Tuple[Product, float], ...]  # every product compared, with its value


def measure_words(text: str) -> Optional[Tuple[Tuple[str, ...], bool]]:
    """The measure a direction word names: (attribute stems, highest wanted?), or None."""
    for pattern, stems, high in _COMPILED:
        if pattern.search(text):
            return stems, high
    return None


def unknown_superlative(text: str) -> Optional[str]:
    """ "quietest", "most durable": a superlative no attribute measures."""
    found = _OTHER_SUPERLATIVE.search(text)
    return found.group(0) if found and measure_words(text) is None else None


def pick(text: str, pool: Sequence[Product]) -> Optional[Pick]:
    """The product(s) of ``pool`` at the end the text asks for, by the first stem they share."""
    found = measure_words(text)
    if found is None or not pool:
        return None
    stems, high = found
    for wanted in stems:
        values = [(item, key, value) for item in pool for key, value in _measured(item, wanted)]
        if values:
            best = (max if high else min)(value for _, _, value in values)
            winners = tuple(item for item, _, value in values if value == best)
            key = values[0][1]
            return Pick(winners, key, high, tuple((item, value) for item, _, value in values))
    return None


def _measured(item: Product, wanted: str) -> List[Tuple[str, float]]:
    for key, value in item["attributes"].items():
        suffix = key.rpartition("_")[2]
        if suffix in UNITS and stem(key).startswith(wanted) and not isinstance(value, bool):
            return [(key, float(value) * UNITS[suffix][1])]
    return []


def shown_value(item: Product, key: str) -> str:
    """An attribute's value as the catalog states it, with its unit: "1.3 kg", "20 h"."""
    value = item["attributes"].get(key)
    if value is None:
        return "not listed"
    return f"{value}{_UNIT_WORDS.get(key.rpartition('_')[2], '')}".replace('0"', '0"')


def answer_lines(found: Pick, pair: bool) -> List[str]:
    """The answer, then each product's value: stated from the catalog, never guessed."""
    label = stem(found.key).replace("_", " ")
    names = " and ".join(f"the {item['name']}" for item in found.products)
    end = "highest" if found.highest else "lowest"
    if pair and len(found.values) == 2 and len(found.products) == 1:
        headline = f"{names[0].upper() + names[1:]} has the {'higher' if found.highest else 'lower'} {label}."
    elif len(found.products) > 1:
        first, *tied = found.products
        also = " and ".join(f"the {item['name']}" for item in tied)
        headline = f"Of these, the {first['name']} has the {end} {label} (tied with {also})."
    else:
        headline = f"Of these, {names} has the {end} {label}."
    rows = [f"\u2022 {item['name']}: {_spaced(shown_value(item, found.key))}" for item, _ in found.values]
    return [headline + "\n"] + [row + "\n" for row in rows[:-1]] + rows[-1:]


def _spaced(value: str) -> str:
    return re.sub(r"(?<=\d)(?=[A-Za-z])", " ", value)
