"""Numbers with units in a message, read as bounds on a measured attribute ("30+ hours of
battery", "lighter than 1.3 kilos", "a tent that sleeps three", "32 gigs of ram").

The dimensions and base units are the catalog's (``catalog.measures``, read from attribute
names); this module knows only how shoppers say units, numbers and directions. A number next to
a unit is never a price: the span is taken out of the text before prices are parsed, or (for a
plain size such as "16 inch") rewritten in the catalog's own spelling, which the price parser
skips and the search ranks on.
"""

import re
from typing import Dict, List, Tuple

from chalicelib.catalog.measures import Measure

__all__ = ["extract_measures", "number_value"]

# said unit -> (dimension, factor to base, the attribute suffix it is, the catalog's spelling)
_SAID: Dict[str, Tuple[str, float, str, str]] = {}


def _unit(dimension: str, factor: float, suffix: str, spelling: str, *names: str) -> None:
    for name in names:
        _SAID[name] = (dimension, factor, suffix, spelling)


_unit("mass", 1.0, "g", "g", "g", "gr", "gram", "grams", "gramme", "grammes")
_unit("mass", 1000.0, "kg", "kg", "kg", "kgs", "kilo", "kilos", "kilogram", "kilograms", "kilogramme", "kilogrammes")
_unit("mass", 453.6, "lb", "lb", "lb", "lbs", "pound", "pounds")
_unit("mass", 28.35, "oz", "oz", "oz", "ounce", "ounces")
_unit("length", 1.0, "mm", "mm", "mm", "millimeter", "millimeters", "millimetre", "millimetres", "mil", "mils")
_unit("length", 10.0, "cm", "cm", "cm", "centimeter", "centimeters", "centimetre", "centimetres")
_unit("length", 25.4, "in", "inch", "in", "inch", "inches", "inchs", '"', "''")
_unit("length", 1000.0, "m", "m", "meter", "meters", "metre", "metres")
_unit("volume", 1.0, "l", "l", "l", "liter", "liters", "litre", "litres", "ltr", "ltrs")
_unit("time", 1.0, "hours", "hours", "h", "hr", "hrs", "hour", "hours")
_unit("time", 24.0, "days", "days", "day", "days")
_unit("time", 168.0, "weeks", "weeks", "week", "weeks")
_unit("time", 1 / 60, "minutes", "minutes", "min", "mins", "minute", "minutes")
_unit("people", 1.0, "people", "people", "people", "person", "persons", "sleepers", "adults", "campers", "p")
_unit("data", 1.0, "gb", "gb", "gb", "gig", "gigs", "gigabyte", "gigabytes")
_unit("data", 1024.0, "tb", "tb", "tb", "tera", "terabyte", "terabytes")
_unit("cups", 1.0, "cups", "cups", "cup", "cups")
_unit("pressure", 1.0, "bar", "bar", "bar", "bars")
_unit("atm", 1.0, "atm", "atm", "atm", "atmospheres")

_NUMBER_WORDS = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9,
    "ten": 10, "eleven": 11, "twelve": 12, "fifteen": 15, "twenty": 20, "thirty": 30, "forty": 40,
    "fifty": 50, "sixty": 60, "a dozen": 12, "dozen": 12, "half a dozen": 6, "a couple of": 2,
    "a couple": 2, "couple of": 2, "a pair of": 2, "a single": 1, "a": 1, "an": 1,
}  # fmt: skip
_NUMBER = r"(\d+(?:\.\d+)?|" + "|".join(sorted(_NUMBER_WORDS, key=len, reverse=True)) + r")"
_UNITS = "|".join(re.escape(name) for name in sorted(_SAID, key=len, reverse=True))
# "30+ hours", "5-millimetre", "14\"", "1 TB"; a verb that counts people ("sleeps three").
_MEASURE = re.compile(
    r"(?<![\w.])" + _NUMBER + r" ?(\+)?[ -]?(" + _UNITS + r")(?![a-z0-9])(?: ?(\+|plus\b))?"
    r"|\b(?:sleeps?|sleeping|fits?|for|holds?|seats?) (?:up to |at least )?" + r"(\d+|[a-z]+(?: a dozen)?)"
    r"(?= ?(?:$|[,.?!]|and|or|with|under|over|that|please|in|for)\b)"
)
_MIN = re.compile(
    r"(?:at least|min(?:imum)?|over|more than|above|greater than|upwards of|no less than|"
    r"(?:bigger|larger|longer|heavier|thicker|roomier|higher) than|>=?) (?:a |an )?$"
)
_MAX = re.compile(
    r"(?:under|below|less than|at most|up to|max(?:imum)?|no more than|fewer than|within|"
    r"(?:lighter|smaller|shorter|thinner|lower) than|<=?) (?:a |an )?$"
)
_STRICT = re.compile(r"(?:over|more than|above|greater than|under|below|less than|fewer than|\w+er than|[<>] )")
_NEAR = re.compile(r"(?:around|about|approx(?:imately)?|roughly|~|close to|something like) (?:a |an )?$")
_MIN_AFTER = re.compile(r"^ ?(?:\+|plus\b|or (?:more|bigger|larger|longer|higher|better|above)\b|and up\b|minimum\b)")
_MAX_AFTER = re.compile(r"^ ?(?:or (?:less|lighter|smaller|shorter|under|below|fewer)\b|max(?:imum)?\b|tops\b)")
# What the shopper calls the attribute, next to the number: an attribute name's stem.
_HINTS = (
    ("thickness", r"thick|thickness"),
    ("length", r"long|length|tall"),
    ("ram", r"ram|memory"),
    ("storage", r"storage|ssd|disk|drive|hard drive"),
    ("battery", r"battery|lasts?|lasting|charge|runtime"),
    ("setup", r"set ?up|sets up|pitch(?:es)?|assemble"),
    ("screen", r"screen|display"),
    ("laptop_sleeve", r"sleeve|laptop|fits a|holds a"),
    ("case", r"case|face|dial"),
    ("drop", r"drop|offset"),
    ("weight", r"weigh\w*|heavy|light\w*"),
)
_HINT_PATTERNS = tuple((name, re.compile(r"\b(?:" + words + r")\b")) for name, words in _HINTS)
_WINDOW = 24  # characters either side of a number that may say what it measures


def number_value(said: str) -> float:
    return float(said) if said[0].isdigit() else float(_NUMBER_WORDS.get(said, 0))


def extract_measures(text: str) -> Tuple[Tuple[Measure, ...], str]:
    """The measure bounds in folded text, and the text with them taken out (or a plain size in
    the catalog's spelling). Linear: one scan, and bounded look-arounds at each match."""
    measures: List[Measure] = []
    pieces: List[str] = []
    at = 0
    for match in _MEASURE.finditer(text):
        found = _read(text, match)
        if found is None:
            continue
        measure, keep, start, end = found
        measures.append(measure)
        pieces += [text[at:start], f" {keep} "]
        at = end
    pieces.append(text[at:])
    return tuple(measures), re.sub(r" +", " ", "".join(pieces)).strip()


def _read(text: str, match: "re.Match[str]"):
    if match.group(1) is not None:
        said, unit = match.group(1), match.group(3)
        dimension, factor, suffix, spelling = _SAID[unit]
    else:
        said, unit = match.group(5), "people"
        if said not in _NUMBER_WORDS and not said.isdigit():
            return None
        dimension, factor, suffix, spelling = _SAID["people"]
        if match.group(0).startswith("for ") and not said.isdigit() and said in ("a", "an"):
            return None
    if not said[0].isdigit() and len(unit) <= 2 and unit not in ("kg", "mm", "cm", "gb", "tb", "lb", "oz"):
        return None  # "one in blue", "a g": a one-letter unit only after digits
    value = number_value(said)
    if value <= 0 or (match.group(1) is None and match.group(0).startswith("for ")):
        return None  # "for 2" is a party size the search already reads, not a measure
    before, after = text[max(0, match.start() - _WINDOW) : match.start()], text[match.end() : match.end() + _WINDOW]
    op = _op(before, after, match)
    hint = _hint(before + " " + after)
    start, end = match.start(), match.end()
    if op != "default":
        start = _MIN.search(before) or _MAX.search(before) or _NEAR.search(before)
        start = match.start() - len(start.group(0)) if start is not None else match.start()
        tail = _MIN_AFTER.match(after) or _MAX_AFTER.match(after)
        end = match.end() + (len(tail.group(0)) if tail else 0)
    keep = "" if op != "default" else f"{said if said[0].isdigit() else int(value)} {spelling}"
    return (dimension, hint, op, round(value * factor, 9), suffix), keep, start, end


def _op(before: str, after: str, match: "re.Match[str]") -> str:
    """ "at least", "30+", "or more": min; "more than", "over": above (strict); likewise max and below."""
    if match.group(1) is None and " at least " in match.group(0):
        return "min"  # "sleeps at least 4"
    if match.group(1) is None and " up to " in match.group(0):
        return "max"
    if match.group(2) or match.group(4) or _MIN_AFTER.match(after):
        return "min"
    lower = _MIN.search(before)
    if lower:
        return "above" if _STRICT.match(lower.group(0)) else "min"
    upper = _MAX.search(before)
    if upper:
        return "below" if _STRICT.match(upper.group(0)) else "max"
    if _MAX_AFTER.match(after):
        return "max"
    return "near" if _NEAR.search(before) else "default"


def _hint(window: str) -> str:
    return next((name for name, pattern in _HINT_PATTERNS if pattern.search(window)), "")
