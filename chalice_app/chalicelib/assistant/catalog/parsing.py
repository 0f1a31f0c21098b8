"""Pull the shopper's constraints out of a message: price bounds (every everyday form, with
their direction, and contradictions flagged), "cheap"/"premium", minimum rating, sort order
in both directions, brands wanted and excluded, excluded categories and features ("not Nike or
Adidas", "except jackets", "without gps"). Each extractor returns what it found and the text
with that phrase removed, so the words left over are the free-text query. Pure: no session.

All matching runs on folded text (``catalog.text.fold``): lower-case ASCII. ``squeeze`` runs
first, so the whole parse is linear in the message's length, and every amount is finite and
at most ``MAX_AMOUNT``.
"""

import math
import re
from dataclasses import dataclass, field
from typing import List, Optional, Tuple

from chalicelib.assistant.catalog.negations import parse_brands, parse_exclusions
from chalicelib.assistant.catalog.phrases import NUMBER_WORDS
from chalicelib.assistant.catalog.units import extract_measures
from chalicelib.catalog.filters import MAX_AMOUNT
from chalicelib.catalog.measures import Measure
from chalicelib.catalog.text import fold

__all__ = [
    "MAX_AMOUNT",
    "Constraints",
    "amounts_in_words",
    "extract_constraints",
    "parse_band",
    "parse_exclusions",
    "party_sizes",
    "parse_brands",
    "parse_price",
    "parse_price_bounds",
    "parse_rating",
    "parse_sort",
    "squeeze",
    "strip_sort_directions",
]

# A run of digits longer than this is no price anyone means: it becomes MAX_AMOUNT before any pattern
# sees it, so no pattern can backtrack over a long digit run (the parse stays linear in the length).
_LONGEST_NUMBER = 12
# Only runs longer than _LONGEST_NUMBER match, so ordinary numbers cost nothing here.
_NUMBER_RUN = re.compile(r"\d[\d,]{" + str(_LONGEST_NUMBER) + r",}(?:\.\d+)?")
_SPACES = re.compile(r"\s+")

# Amounts in words: "a hundred bucks", "two hundred", "fifty dollars", "a grand".
_TENS = {"twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90}
_WORD_AMOUNT = re.compile(
    r"\b(?:(a couple|a few|couple|a|one|two|three|four|five|six|seven|eight|nine)\s+)?(hundred|thousand|grand)\b"
    r"|\b(" + "|".join(_TENS) + r")\b(?= ?(?:dollars|bucks|usd|\$|or less|tops|and|to|-)\b|$|[,.!?])"
)

# A number is not a price when a unit follows it ("under 2 kg", "4 stars", "16 inch").
_UNIT = (
    r"(?:mm|cm|m|kg|g|grams?|lbs?|pounds|oz|gb|tb|l|liters?|litres?|inch(?:es)?|in|\"|hours?|hrs?|h|days?|"
    r"person|people|p|stars?|atm|bar|cups?|w|mah|%|x|pcs|pieces|items?|of|minutes?|mins?|weeks?|gigs?|kilos?|"
    r"millimet(?:er|re)s?|centimet(?:er|re)s?|lb|tb)"
)
_MONEY = r"\$? ?(\d[\d,]*(?:\.\d{1,2})?) ?(k)?(?! ?" + _UNIT + r"\b)(?![\d.]) ?(?:dollars|usd|bucks|\$)?"
_MAX_WORDS = (
    r"nothing (?:over|above|more than|higher than|pricier than)|none over|not (?:over|above|more than)|"
    r"no (?:more|higher) than|under|below|less than|cheaper than|lower than|max(?:imum)?|at most|up to|"
    r"within|budget(?: of| is)?|<=?|for less than"
)
_MIN_WORDS = (
    r"nothing (?:under|below|less than|cheaper than)|not (?:under|below|less than)|no less than|over|above|"
    r"more than|at least|min(?:imum)?|starting (?:at|from)|higher than|>=?|from|pricier than"
)
_RANGE = re.compile(r"(?:between|from) " + _MONEY + r" ?(?:and|to|-) ?" + _MONEY)
_DASH_RANGE = re.compile(r"\$ ?(\d[\d,]*(?:\.\d{1,2})?) ?(k)? ?(?:-|to) ?" + _MONEY)
# "jackets 100-200": two plain amounts (each over 5, no unit after) joined by a dash.
_BARE_RANGE = re.compile(r"(?<![\d.$])([1-9]\d{1,}[\d,]*) ?(k)? ?- ?" + _MONEY)
_MAX = re.compile(r"(?<![a-z])(?:" + _MAX_WORDS + r") ?" + _MONEY)
_MAX_AFTER = re.compile(_MONEY + r" ?(?:or less|or under|or below|max|tops|and under|and below|or cheaper)\b")
_MIN = re.compile(r"(?<![a-z])(?:" + _MIN_WORDS + r") ?" + _MONEY)
_MIN_AFTER = re.compile(_MONEY + r" ?(?:or more|and up|and above|\+|plus|or above)")
_AROUND = re.compile(r"(?<![a-z])(?:around|about|roughly|approximately|approx|~|something like) ?" + _MONEY)
_BARE_DOLLARS = re.compile(
    r"(?:for |at |costing |priced at )?\$ ?(\d[\d,]*(?:\.\d{1,2})?) ?(k)?"
    r"|(\d[\d,]*(?:\.\d{1,2})?) ?(k)? ?(?:dollars|bucks|usd)\b"
)
# Bounds that exclude their amount: "under $80" is at most 79.99 (catalog prices have cents).
_EXCLUSIVE = re.compile(
    r"(?:under|below|less|cheaper|lower|for less|<(?!=)|nothing (?:over|above|more|higher|"
    r"pricier)|none over|not (?:over|above|more)|no (?:more|higher))"
)

# Relative price words: the cheaper or dearer part of whatever the search covers.
_BAND_LOW = re.compile(
    r"(?<![a-z])(?:cheap|inexpensive|affordable|budget(?: friendly)?|bargain|low[ -]cost|"
    r"not (?:too |very |so )?(?:expensive|pricey|costly)|on a budget|cheapish)(?![a-z])"
)
_BAND_HIGH = re.compile(
    r"(?<![a-z])(?:premium|high[ -]end|luxury|luxurious|top of the line|fancy|fancier|"
    r"splurge|money is no object)(?![a-z])"
)

_RATING_PATTERNS = (
    re.compile(
        r"(?:rated|rating|ratings|reviews?)\s*(?:of|above|over|at least|>=?|from)?\s*(\d(?:\.\d)?)\s*"
        r"(?:\+|stars?|and up|or (?:more|higher|better|above))*"
    ),
    re.compile(r"(?:at least|over|above|minimum|min)\s*(\d(?:\.\d)?)\s*stars?"),
    re.compile(
        r"(\d(?:\.\d)?)\s*(?:\+\s*stars?|stars?\s*(?:\+|and up|or (?:more|higher|better|above)|plus|"
        r"and above|minimum|min)?)"
    ),
    re.compile(r"(\d(?:\.\d)?)\s*\+"),
)
_HIGHLY_RATED = re.compile(
    r"\b(?:highly|well|very well|really well)[\s-]*(?:rated|reviewed)\b|\bgood (?:reviews|ratings)\b|"
    r"\bgreat (?:reviews|ratings)\b|\b(?:4|four)[\s-]*stars? (?:or|and) (?:up|above|better)\b"
)
HIGHLY_RATED = 4.5

# Checked in this order, the first that matches wins: a direction stated in full ("from most to
# least expensive", "sort by price, high to low") before the words it contains ("most expensive",
# "sort by price"), and "best rated" before "best".
_SORTS = (
    (
        "price_desc",
        r"(?:from )?(?:most|highest|priciest|dearest) (?:price )?to (?:the )?(?:least|lowest|cheapest)"
        r"(?: expensive| price[ds]?)?|high(?:est)? to low(?:est)?|(?:most )?expensive (?:ones )?first|"
        r"highest price(?:s|d)?(?: first)?|price descending|priciest(?: first)?|dearest first",
    ),
    (
        "price_asc",
        r"(?:from )?(?:least|lowest|cheapest) (?:price )?to (?:the )?(?:most|highest|priciest)"
        r"(?: expensive| price[ds]?)?|low(?:est)? to high(?:est)?|cheap(?:est|er) (?:ones )?first|"
        r"lowest price(?:s|d)?(?: first)?|least expensive first|price ascending",
    ),
    (
        "rating",
        r"best[ -]*rated|top[ -]*rated|highest[ -]*rated|best[ -]*reviewed|highest ratings?|best ratings?|"
        r"best reviews(?: first)?|(?:sort(?:ed)? |order(?:ed)? )?by (?:rating|reviews|stars)|rating first",
    ),
    ("popularity", r"most popular|best[ -]*selling|bestsell\w*|most reviewed|most reviews|popular"),
    ("price_asc", r"(?:sort(?:ed)? |order(?:ed)? )?by price|cheapest|least expensive|lowest priced?"),
    ("price_desc", r"most expensive|priciest|dearest|top of the line"),
    ("rating", r"\bbest\b"),
)
_SORT_PATTERNS = tuple(
    (sort, re.compile(r"(?<![a-z])(?:" + pattern + r")(?: first)?(?![a-z])")) for sort, pattern in _SORTS
)


@dataclass(frozen=True)
class Constraints:
    min_price: Optional[float] = None
    max_price: Optional[float] = None
    min_rating: Optional[float] = None
    sort: Optional[str] = None
    brands: Tuple[str, ...] = field(default_factory=tuple)
    exclude_brands: Tuple[str, ...] = field(default_factory=tuple)
    exclude_categories: Tuple[str, ...] = field(default_factory=tuple)  # "except jackets"
    exclude_features: Tuple[str, ...] = field(default_factory=tuple)  # "without gps", "no pods"
    band: Optional[str] = None  # "low" for "cheap", "high" for "premium": relative to the search
    contradictory: bool = False  # a lower bound above the upper one ("over 500 but under 100")
    text: str = ""  # what is left: the free-text query
    measures: Tuple[Measure, ...] = field(default_factory=tuple)  # "under 1.3 kg" (see units)

    @property
    def has_price(self) -> bool:
        return self.min_price is not None or self.max_price is not None

    @property
    def filters_anything(self) -> bool:
        """A brand, an exclusion, a price, a rating, an order or a measure: more than words."""
        return bool(
            self.brands
            or self.exclude_brands
            or self.exclude_categories
            or self.exclude_features
            or self.has_price
            or self.min_rating is not None
            or self.sort
            or self.measures
        )


def squeeze(message: str) -> str:
    """The message with runs of white space as one space and absurdly long numbers capped.

    Linear, and run before any other pattern: afterwards no digit run is longer than
    ``_LONGEST_NUMBER`` and no two spaces are adjacent, so no pattern can backtrack far.
    """
    text = _SPACES.sub(" ", message).strip()
    return _NUMBER_RUN.sub(f"{MAX_AMOUNT:.0f}", text)


def amounts_in_words(text: str) -> str:
    """ "a hundred bucks" -> "100 bucks", "two hundred" -> "200", "fifty dollars" -> "50 dollars"."""

    def number(match: "re.Match[str]") -> str:
        if match.group(3):
            return str(_TENS[match.group(3)])
        scale = 100 if match.group(2) == "hundred" else 1000
        return str(NUMBER_WORDS.get(match.group(1) or "a", 1) * scale)

    return _WORD_AMOUNT.sub(number, text)


_PARTY = re.compile(
    r"\bfor (one|two|three|four|five|six|seven|eight|[1-8])"
    r"(?=$|[,.!?]| (?:under|below|over|with|and|please|at|up|max|that|which|around|about)\b)"
)


def party_sizes(text: str) -> str:
    """ "a tent for two" -> "a tent for 2 people": how the catalog states a capacity."""
    return _PARTY.sub(lambda match: f"for {NUMBER_WORDS.get(match.group(1), match.group(1))} people", text)


def _amount(number: str, thousands: Optional[str]) -> float:
    """A parsed amount, never above MAX_AMOUNT (so it is finite and DynamoDB can store it)."""
    value = float(number.replace(",", "") or 0) * (1000 if thousands else 1)
    return min(value, MAX_AMOUNT) if math.isfinite(value) else MAX_AMOUNT


def _cut(text: str, match: "re.Match[str]") -> str:
    return text[: match.start()] + " " + text[match.end() :]


def _blank(text: str, spans: List[Tuple[int, int]]) -> str:
    for start, end in sorted(spans, reverse=True):
        text = text[:start] + " " + text[end:]
    return text


# Each bound pattern with the words one of which it needs: a text without any is not searched
# (the patterns that start with an amount would otherwise be tried at every digit).
_BOUNDS = (
    ("range", _RANGE, ("between", "from")),
    ("range", _DASH_RANGE, ("$",)),
    ("range", _BARE_RANGE, ("-",)),
    ("max", _MAX, None),
    ("max", _MAX_AFTER, ("less", "under", "below", "max", "tops", "cheaper")),
    ("min", _MIN, None),
    ("min", _MIN_AFTER, ("more", "up", "above", "+", "plus")),
)


def parse_price(text: str) -> Tuple[Optional[float], Optional[float], str]:
    """(min_price, max_price, rest). "under $80" -> max 79.99: catalog prices have cents.

    Each phrase is read where it stands ("nothing over 800" is an upper bound, "nothing under
    50" a lower one); a later phrase in the same direction replaces an earlier one.
    """
    low, high, _conflict, rest = parse_price_bounds(text)
    return low, high, rest


def parse_price_bounds(text: str) -> Tuple[Optional[float], Optional[float], bool, str]:
    """(min_price, max_price, contradictory, rest): contradictory when the lower bound is above the upper."""
    found = []
    for kind, pattern, needs in _BOUNDS:
        if needs is None or any(word in text for word in needs):
            found += [(match.start(), -len(match.group(0)), kind, match) for match in pattern.finditer(text)]
    found.sort(key=lambda item: (item[0], item[1]))
    low: Optional[float] = None
    high: Optional[float] = None
    spans: List[Tuple[int, int]] = []
    end = -1
    for start, _length, kind, match in found:
        if start < end or (kind != "range" and not _plausible_price(match)):
            continue
        end = match.end()
        spans.append((match.start(), match.end()))
        if kind == "range":
            first, second = _amount(match.group(1), match.group(2)), _amount(match.group(3), match.group(4))
            low, high = min(first, second), max(first, second)
            continue
        amount = _amount(match.group(1), match.group(2))
        words = match.group(0)
        if kind == "max":
            high = round(amount - 0.01, 2) if amount >= 0.01 and _EXCLUSIVE.match(words) else amount
        else:
            low = amount
    if low is None and high is None:
        for pattern, needs in (
            (_AROUND, ("around", "about", "rough", "approx", "~", "like")),
            (_BARE_DOLLARS, ("$", "dollar", "buck", "usd")),
        ):
            match = pattern.search(text) if any(word in text for word in needs) else None
            if match and (pattern is _BARE_DOLLARS or _plausible_price(match)):  # "a $100 watch": about that
                number, thousands = (match.group(1), match.group(2)) if match.group(1) else match.group(3, 4)
                amount = _amount(number, thousands)
                return round(amount * 0.8, 2), round(amount * 1.2, 2), False, _cut(text, match)
    contradictory = low is not None and high is not None and low > high
    return low, high, contradictory, _blank(text, spans)


def _plausible_price(match: "re.Match[str]") -> bool:
    """A bare small number ("at least 4") is a rating or a count, not dollars; "$4" still is."""
    return "$" in match.group(0) or _amount(match.group(1), match.group(2)) > 5 or bool(match.group(2))


def parse_band(text: str) -> Tuple[Optional[str], str]:
    """ "cheap" -> "low", "premium" -> "high": a part of the price range, relative to the search."""
    for band, pattern in (("low", _BAND_LOW), ("high", _BAND_HIGH)):
        match = pattern.search(text)
        if match:
            return band, _cut(text, match)
    return None, text


def parse_rating(text: str) -> Tuple[Optional[float], str]:
    for pattern in _RATING_PATTERNS:
        for match in pattern.finditer(text):
            value = float(match.group(1))
            if 1 <= value <= 5 and _rating_context(text, match):
                return value, _cut(text, match)
    match = _HIGHLY_RATED.search(text)
    if match:
        return HIGHLY_RATED, _cut(text, match)
    return None, text


def _rating_context(text: str, match: "re.Match[str]") -> bool:
    """ "4+" is a rating only when stars/rating words are near, or a "+" follows a small number."""
    phrase = match.group(0)
    return bool(re.search(r"star|rat|review", phrase)) or (phrase.rstrip().endswith("+") and "$" not in phrase)


def parse_sort(text: str) -> Tuple[Optional[str], str]:
    """The first sort phrase by priority; every sort phrase leaves the text ("sort by price, high to low")."""
    found: Optional[str] = None
    for sort, pattern in _SORT_PATTERNS:
        match = pattern.search(text)
        if match:
            found = found or sort
            text = pattern.sub(" ", text)
    return found, text


def strip_sort_directions(text: str) -> str:
    """The text without phrases that state a sort's direction in full ("from most to least expensive")."""
    for _sort, pattern in _SORT_PATTERNS[:2]:
        text = pattern.sub(" ", text)
    return text


def extract_constraints(message: str) -> Constraints:
    """Every constraint in a message, and the free text left over. Linear in the message's length."""
    message = squeeze(message)
    text = fold(message)
    brands, excluded, text = parse_brands(message, text)
    measures, text = extract_measures(text)
    text = party_sizes(amounts_in_words(_SPACES.sub(" ", text)))
    min_price, max_price, contradictory, text = parse_price_bounds(text)
    min_rating, text = parse_rating(text)
    sort, text = parse_sort(text)
    exclude_categories, exclude_features, text = parse_exclusions(text)
    band, text = parse_band(text)
    band = band if min_price is None and max_price is None else None
    return Constraints(
        min_price=min_price,
        max_price=max_price,
        min_rating=min_rating,
        sort=sort,
        brands=brands,
        exclude_brands=excluded,
        exclude_categories=exclude_categories,
        exclude_features=exclude_features,
        band=band,
        contradictory=contradictory,
        measures=measures,
        text=_SPACES.sub(" ", text).strip(),
    )
