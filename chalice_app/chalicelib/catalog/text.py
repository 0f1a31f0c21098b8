"""Text normalisation shared by the index and the queries, so both see the same terms.

Deliberately small: lower-case ASCII words, digits split from letters ("32gb" ->
"32", "gb"), plural endings stripped and a few word families folded together.
A full stemmer would be overkill for a catalog of short product texts.
"""

import re
import unicodedata
from typing import List

__all__ = ["STOPWORDS", "fold", "normalize_term", "tokenize"]

_WORD = re.compile(r"[a-z]+|\d+(?:\.\d+)?")

# Filler in shoppers' messages, never worth ranking by.
_STOPWORDS_TEXT = """
    a an and any are as at be but by can could do does for from get give got have i i'd i'm im in is it its
    just like looking me my need needs of on one ones or our please pls show some something that the them
    these they this those to us want wanted was we what which with would you your find search see buy
    recommend recommendation recommendations suggest good nice great decent cool really very also maybe about
    around there here thing things stuff kind sort type all let lets hi hello hey thanks thank ok okay only
    instead else other others too than
    he she him her his hers their theirs someone somebody anyone anybody myself yourself
    could possible possibly ideally wondering wonder hoping hope help helping assist tell mind kindly
    either whatever maybe perhaps actually honestly now then though well so hmm um uh oh ah yes no
    am was were been being will shall should may might must got gonna wanna
    lot lots bit little much many more most few couple pair
    idea ideas option options choice choices
    how why when where who even order purchase grab pick choose sort sorted list
    gear equipment product products item items gift gifts present presents
    everything anything nothing new brand sure idk dunno know think guess not whats hows wheres thats
    value back previous earlier before again
"""
STOPWORDS = frozenset(_STOPWORDS_TEXT.split())

# Word families a shopper mixes freely; each maps to one indexed term.
_FAMILIES = {
    "running": "run",
    "runner": "run",
    "runners": "run",
    "jogging": "run",
    "jog": "run",
    "hiking": "hike",
    "hiker": "hike",
    "hikers": "hike",
    "trekking": "hike",
    "trek": "hike",
    "cancelling": "cancel",
    "canceling": "cancel",
    "cancellation": "cancel",
    "anc": "cancel",
    "waterproofing": "waterproof",
    "rainproof": "waterproof",
    "cushioned": "cushion",
    "cushioning": "cushion",
    "cushy": "cushion",
    "commute": "commuting",
    "commuter": "commuting",
    "travelling": "travel",
    "traveling": "travel",
    "bluetooth": "wireless",
    "cordless": "wireless",
    "lightweight": "light",
    "lighter": "light",
    "earbud": "earbuds",
    "headphone": "headphones",
    "raincoat": "rain",
    "puffer": "down",
    "puffy": "down",
}


def fold(text: str) -> str:
    """Lower-case ASCII: accents dropped, apostrophes removed ("De'Longhi" -> "delonghi")."""
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii").lower()
    return text.replace("'", "").replace("\u2019", "")


def normalize_term(word: str) -> str:
    word = _FAMILIES.get(word, word)
    if word.isdigit() or len(word) <= 3:
        return word
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith(("sses", "ches", "shes", "xes")):
        return word[:-2]
    if word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return _FAMILIES.get(word[:-1], word[:-1])
    return word


# Units after a number, folded to one spelling: "16 inch", "16in" and '16"' all become "16inch".
_UNITS = {
    "inch": "inch",
    "inches": "inch",
    "in": "inch",
    "gb": "gb",
    "tb": "tb",
    "l": "l",
    "liter": "l",
    "liters": "l",
    "litre": "l",
    "litres": "l",
    "mm": "mm",
    "cm": "cm",
    "kg": "kg",
    "g": "g",
    "gram": "g",
    "grams": "g",
    "person": "person",
    "persons": "person",
    "people": "person",
    "p": "person",
    "hour": "hour",
    "hours": "hour",
    "hr": "hour",
    "hrs": "hour",
    "h": "hour",
    "day": "day",
    "days": "day",
    "cup": "cup",
    "cups": "cup",
    "season": "season",
    "seasons": "season",
    "atm": "atm",
    "bar": "bar",
    "minute": "minute",
    "minutes": "minute",
    "min": "minute",
}


def tokenize(text: str, drop_stopwords: bool = True, keep_unit_parts: bool = False) -> List[str]:
    """Index terms of a text. A number followed by a unit is one term ("16inch"), so "16 inch"
    cannot match a 16-hour battery; documents also keep the parts (``keep_unit_parts``) so a
    query for "inch" alone still finds them."""
    words = _WORD.findall(fold(text).replace('"', " inch "))
    terms: List[str] = []
    skip = False
    for index, word in enumerate(words):
        if skip:
            skip = False
            continue
        unit = _UNITS.get(words[index + 1]) if index + 1 < len(words) and word[0].isdigit() else None
        if unit:
            terms.append(word + unit)
            if keep_unit_parts:
                terms += [word, normalize_term(words[index + 1])]
            skip = True
            continue
        if drop_stopwords and word in STOPWORDS:
            continue
        terms.append(normalize_term(word))
    return terms
