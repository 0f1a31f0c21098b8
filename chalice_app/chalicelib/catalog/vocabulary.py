"""Where a message names a category or a brand.

Matching is on folded text with word boundaries, longest phrase first, so
"hiking shoes" is hiking boots while "shoes" alone is running shoes. Brands that
are also everyday words ("On", "Keen") only count when written with a capital.
"""

import functools
import re
from dataclasses import dataclass
from typing import Dict, List, Optional, Pattern, Tuple

from chalicelib.catalog import data
from chalicelib.catalog.categories import CATEGORIES
from chalicelib.catalog.text import STOPWORDS, fold

__all__ = ["Mention", "brand_mentions", "category_mentions", "pick_category", "remove_mentions", "search_words"]

# Extra spellings shoppers use; the folded brand name always matches too.
_BRAND_ALIASES: Dict[str, Tuple[str, ...]] = {
    "Audio-Technica": ("audio technica", "audiotechnica"),
    "Mr. Coffee": ("mr coffee", "mister coffee"),
    "De'Longhi": ("de longhi",),
    "REI Co-op": ("rei",),
    "The North Face": ("north face", "tnf"),
    "Anker Soundcore": ("soundcore", "anker"),
    "Alo Yoga": ("alo",),
    "Arc'teryx": ("arcteryx", "arc teryx"),
    "On": ("on cloud",),
    "Hoka": ("hoka one one",),
}
# Everyday words that are also brands: matched case-sensitively in the original text.
_CASE_SENSITIVE_BRANDS = {"On": re.compile(r"(?<=\s)On\b"), "Keen": re.compile(r"\bKeen\b")}
# A category named after these words describes another one: "backpack for my laptop".
_MODIFIER_WORDS = re.compile(r"\b(?:for|with|fits|fit|holds|to carry)\b")


@dataclass(frozen=True)
class Mention:
    value: str  # the category name or the brand as the catalog spells it
    start: int  # span in the folded text
    end: int
    says_kind: bool = False  # the phrase also names a kind ("espresso machine"): keep it as search text


def _pattern(phrase: str) -> Pattern[str]:
    words = [re.escape(word) for word in re.split(r"[\s\-.]+", fold(phrase)) if word]
    return re.compile(r"(?<![a-z0-9])" + r"[\s\-.]*".join(words) + r"(?![a-z0-9])")


@functools.lru_cache(maxsize=1)
def _category_patterns() -> Tuple[Tuple[str, Pattern[str], bool], ...]:
    phrases = [(term, category.name, False) for category in CATEGORIES for term in category.terms]
    phrases += [(term, category.name, True) for category in CATEGORIES for term in category.kinds]
    phrases.sort(key=lambda item: -len(item[0]))
    return tuple((name, _pattern(term), kind) for term, name, kind in phrases)


@functools.lru_cache(maxsize=1)
def _brand_patterns() -> Tuple[Tuple[str, Pattern[str], bool], ...]:
    phrases = []
    for brand in data.brands():
        spellings = () if brand in _CASE_SENSITIVE_BRANDS else (brand,)
        phrases += [(spelling, brand) for spelling in spellings + _BRAND_ALIASES.get(brand, ())]
    phrases.sort(key=lambda item: -len(item[0]))
    return tuple((brand, _pattern(spelling), False) for spelling, brand in phrases)


def _find(text: str, patterns) -> List[Mention]:
    folded = fold(text)
    found: List[Mention] = []
    for value, pattern, says_kind in patterns:
        for match in pattern.finditer(folded):
            if not any(match.start() < other.end and other.start < match.end() for other in found):
                found.append(Mention(value, match.start(), match.end(), says_kind))
    return sorted(found, key=lambda mention: mention.start)


def category_mentions(text: str) -> List[Mention]:
    return _find(text, _category_patterns())


def brand_mentions(text: str) -> List[Mention]:
    found = _find(text, _brand_patterns())
    for brand, pattern in _CASE_SENSITIVE_BRANDS.items():
        # Offsets must be those of the folded text: drop what fold() drops before these words.
        for match in pattern.finditer(text.replace("'", "").replace("\u2019", "")):
            if not any(match.start() < other.end and other.start < match.end() for other in found):
                found.append(Mention(brand, match.start(), match.end()))
    return sorted(found, key=lambda mention: mention.start)


def pick_category(text: str) -> Optional[str]:
    """The category a message asks for: its head noun, not a "for …" modifier.

    "laptop backpack" and "backpack for my laptop" are both backpacks.
    """
    mentions = category_mentions(text)
    if not mentions:
        return None
    folded = fold(text)
    modifier = _MODIFIER_WORDS.search(folded, mentions[0].end)
    if modifier is not None:
        mentions = [mention for mention in mentions if mention.start < modifier.start()]
    return mentions[-1].value


def remove_mentions(text: str, mentions: List[Mention]) -> str:
    """The folded text with the mentioned spans blanked out (those that say a kind stay)."""
    folded = fold(text)
    for mention in sorted(mentions, key=lambda item: -item.start):
        if not mention.says_kind:
            folded = folded[: mention.start] + " " + folded[mention.end :]
    return folded


def search_words(text: str, category: Optional[str]) -> str:
    """The words of a query worth ranking by: without the category's own name and filler words.

    "waterproof hiking shoes" (hiking boots) -> "waterproof"; "espresso machine" keeps
    "espresso machine", a kind of coffee maker.
    """
    names = [mention for mention in category_mentions(text) if mention.value == category]
    rest = remove_mentions(text, names)
    return " ".join(word for word in re.findall(r"[a-z0-9]+(?:[.-][a-z0-9]+)*", rest) if word not in STOPWORDS)
