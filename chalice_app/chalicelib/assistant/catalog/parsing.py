"""Pull the shopper's constraints out of a message: price bounds, minimum rating,
sort order, brands. Each extractor returns what it found and the text with that
phrase removed, so the words left over are the free-text query.

All matching runs on folded text (``catalog.text.fold``): lower-case ASCII.
"""

import re
from dataclasses import dataclass, field
from typing import List, Optional, Tuple

from chalicelib.catalog import brand_mentions
from chalicelib.catalog.text import fold

__all__ = ["Constraints", "extract_constraints", "parse_price", "parse_rating", "parse_sort", "parse_brands"]

# A number is not a price when a unit follows it ("under 2 kg", "4 stars", "16 inch").
_UNIT = (
    r"(?:mm|cm|m|kg|g|grams?|lbs?|pounds|oz|gb|tb|l|liters?|litres?|inch(?:es)?|in|\"|hours?|hrs?|h|days?|"
    r"person|people|p|stars?|atm|bar|cups?|w|mah|%|x|pcs|pieces|items?|of)"
)
_MONEY = r"\$?\s*(\d[\d,]*(?:\.\d{1,2})?)\s*(k)?(?!\s*" + _UNIT + r"\b)(?![\d.])\s*(?:dollars|usd|bucks|\$)?"
_MAX_WORDS = (
    r"under|below|less than|cheaper than|lower than|max(?:imum)?|at most|up to|no more than|not more than|"
    r"within|budget(?: of| is)?|<=?|for less than|not over|no higher than"
)
_MIN_WORDS = r"over|above|more than|at least|min(?:imum)?|starting at|higher than|>=?|no less than|not under"

_RANGE = re.compile(r"(?:between|from)\s+" + _MONEY + r"\s*(?:and|to|-)\s*" + _MONEY)
_DASH_RANGE = re.compile(r"\$\s*(\d[\d,]*(?:\.\d{1,2})?)\s*(k)?\s*(?:-|to)\s*" + _MONEY)
_MAX = re.compile(r"(?:" + _MAX_WORDS + r")\s*" + _MONEY)
_MAX_AFTER = re.compile(_MONEY + r"\s*(?:or less|or under|or below|max|tops|and under|and below)")
_MIN = re.compile(r"(?:" + _MIN_WORDS + r")\s*" + _MONEY)
_MIN_AFTER = re.compile(_MONEY + r"\s*(?:or more|and up|and above|\+|plus|or above)")
_AROUND = re.compile(r"(?:around|about|roughly|approximately|approx|~)\s*" + _MONEY)
_BARE_DOLLARS = re.compile(r"(?:for|at|costing|priced at)?\s*\$\s*(\d[\d,]*(?:\.\d{1,2})?)\s*(k)?")

_RATING_PATTERNS = (
    re.compile(r"(?:rated|rating|ratings|reviews?)\s*(?:of|above|over|at least|>=?|from)?\s*(\d(?:\.\d)?)\s*"
               r"(?:\+|stars?|and up|or (?:more|higher|better|above))*"),
    re.compile(r"(?:at least|over|above|minimum|min)\s*(\d(?:\.\d)?)\s*stars?"),
    re.compile(r"(\d(?:\.\d)?)\s*(?:\+\s*stars?|stars?\s*(?:\+|and up|or (?:more|higher|better|above)|plus|"
               r"and above|minimum|min)?)"),
    re.compile(r"(\d(?:\.\d)?)\s*\+"),
)
_HIGHLY_RATED = re.compile(
    r"\b(?:highly|well|very well|really well)[\s-]*(?:rated|reviewed)\b|\bgood (?:reviews|ratings)\b|"
    r"\bgreat (?:reviews|ratings)\b|\b(?:4|four)[\s-]*stars? (?:or|and) (?:up|above|better)\b"
)
HIGHLY_RATED = 4.5

# Longest phrases first: "best rated" must win over "best".
_SORTS = (
    ("rating", r"best[\s-]*rated|top[\s-]*rated|highest[\s-]*rated|best[\s-]*reviewed|highest rating|"
               r"best rating|sort(?:ed)? by rating"),
    ("popularity", r"most popular|best[\s-]*selling|bestsell\w*|most reviewed|most reviews|popular"),
    ("price_asc", r"cheapest(?: first)?|lowest price|least expensive|low to high|sort(?:ed)? by price|"
                  r"price ascending|cheap|inexpensive|affordable|budget|bargain"),
    ("price_desc", r"most expensive|priciest|high to low|highest price|price descending|premium|high[\s-]*end|"
                   r"luxury|top of the line"),
    ("rating", r"\bbest\b"),
)
_SORT_PATTERNS = tuple((sort, re.compile(r"(?<![a-z])(?:" + pattern + r")(?![a-z])")) for sort, pattern in _SORTS)

_NEGATION_BEFORE = re.compile(
    r"(?:\bnot|\bno|\bexcept|\bwithout|\bbesides|\bexcluding|\bother than|\banything but|\bbut not|\bnon)"
    r"[\s-]*(?:from\s+|by\s+)?$"
)


@dataclass(frozen=True)
class Constraints:
    min_price: Optional[float] = None
    max_price: Optional[float] = None
    min_rating: Optional[float] = None
    sort: Optional[str] = None
    brands: Tuple[str, ...] = field(default_factory=tuple)
    exclude_brands: Tuple[str, ...] = field(default_factory=tuple)
    text: str = ""  # what is left: the free-text query

    @property
    def has_price(self) -> bool:
        return self.min_price is not None or self.max_price is not None


def _amount(number: str, thousands: Optional[str]) -> float:
    value = float(number.replace(",", ""))
    return value * 1000 if thousands else value


def _cut(text: str, match: "re.Match[str]") -> str:
    return text[: match.start()] + " " + text[match.end() :]


def parse_price(text: str) -> Tuple[Optional[float], Optional[float], str]:
    """(min_price, max_price, rest). "under $80" -> max 79.99: catalog prices have cents."""
    low: Optional[float] = None
    high: Optional[float] = None
    match = _RANGE.search(text) or _DASH_RANGE.search(text)
    if match:
        first, second = _amount(match.group(1), match.group(2)), _amount(match.group(3), match.group(4))
        low, high = min(first, second), max(first, second)
        return low, high, _cut(text, match)
    for pattern, strict in ((_MAX, True), (_MAX_AFTER, False)):
        match = pattern.search(text)
        if match and _plausible_price(match):
            amount = _amount(match.group(1), match.group(2))
            words = match.group(0)
            # "under/below/less than $80" excludes $80; "up to/at most/$80 or less" includes it.
            exclusive = strict and re.match(r"(?:under|below|less|cheaper|lower|for less|<(?!=))", words)
            high = round(amount - 0.01, 2) if exclusive else amount
            text = _cut(text, match)
            break
    for pattern in (_MIN, _MIN_AFTER):
        match = pattern.search(text)
        if match and _plausible_price(match):
            low = _amount(match.group(1), match.group(2))
            text = _cut(text, match)
            break
    if low is None and high is None:
        match = _AROUND.search(text)
        if match and _plausible_price(match):
            amount = _amount(match.group(1), match.group(2))
            return round(amount * 0.8, 2), round(amount * 1.2, 2), _cut(text, match)
        match = _BARE_DOLLARS.search(text)
        if match:  # "a $100 watch": about that much
            amount = _amount(match.group(1), match.group(2))
            return round(amount * 0.8, 2), round(amount * 1.2, 2), _cut(text, match)
    return low, high, text


def _plausible_price(match: "re.Match[str]") -> bool:
    """A bare small number ("at least 4") is a rating or a count, not dollars; "$4" still is."""
    return "$" in match.group(0) or _amount(match.group(1), match.group(2)) > 5 or bool(match.group(2))


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
    """"4+" is a rating only when stars/rating words are near, or a "+" follows a small number."""
    phrase = match.group(0)
    return bool(re.search(r"star|rat|review", phrase)) or (phrase.rstrip().endswith("+") and "$" not in phrase)


def parse_sort(text: str) -> Tuple[Optional[str], str]:
    for sort, pattern in _SORT_PATTERNS:
        match = pattern.search(text)
        if match:
            return sort, _cut(text, match)
    return None, text


def parse_brands(original: str, text: str) -> Tuple[Tuple[str, ...], Tuple[str, ...], str]:
    """(brands, excluded brands, rest). ``original`` keeps the case that "On" and "Keen" need.

    ``text`` must be ``fold(original)`` (so offsets agree); mentions are blanked out in place.
    """
    wanted: List[str] = []
    excluded: List[str] = []
    spans: List[Tuple[int, int]] = []
    for mention in brand_mentions(original):
        window_start = max(0, mention.start - 25)
        negation = _NEGATION_BEFORE.search(text[window_start : mention.start])
        target = excluded if negation else wanted
        if mention.value not in target:
            target.append(mention.value)
        spans.append((window_start + negation.start() if negation else mention.start, mention.end))
    for start, end in sorted(spans, reverse=True):
        text = text[:start] + " " * (end - start) + text[end:]
    return tuple(wanted), tuple(excluded), text


def extract_constraints(message: str) -> Constraints:
    """Every constraint in a message, and the free text left over."""
    text = fold(message)
    brands, excluded, text = parse_brands(message, text)
    min_price, max_price, text = parse_price(text)
    min_rating, text = parse_rating(text)
    sort, text = parse_sort(text)
    return Constraints(
        min_price=min_price,
        max_price=max_price,
        min_rating=min_rating,
        sort=sort,
        brands=brands,
        exclude_brands=excluded,
        text=re.sub(r"\s+", " ", text).strip(),
    )
