"""Where a message names a category, a brand or a feature, and which words the catalog knows.

Matching is on folded text, word by word (``PhraseIndex``: linear in the text), longest phrase
first, so "hiking shoes" is hiking boots while "shoes" alone is running shoes. Brands that
are also everyday words ("On", "Keen") only count when written with a capital. The catalog's
own words decide what the shop carries (``names_a_thing``), and typos are corrected against
them with rapidfuzz (``correct``).
"""

import functools
import re
from dataclasses import dataclass
from typing import Any, Dict, FrozenSet, Iterable, List, Optional, Sequence, Tuple

from rapidfuzz import fuzz, process

from chalicelib.catalog import data
from chalicelib.catalog.categories import CATEGORIES
from chalicelib.catalog.text import STOPWORDS, fold, normalize_term

__all__ = [
    "Mention",
    "PhraseIndex",
    "brand_mentions",
    "category_mentions",
    "correct",
    "feature_mentions",
    "is_known",
    "names_a_thing",
    "pick_category",
    "remove_mentions",
    "search_words",
    "words",
]

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
_CASE_SENSITIVE_BRANDS = {
    "On": re.compile(r"(?<=\s)On\b|^On(?= (?:running|shoes|sneakers|trainers|runners|cloud))"),
    "Keen": re.compile(r"\bKeen\b"),
}
# A category named after these words describes another one: "backpack for my laptop".
_MODIFIER_WORDS = re.compile(r"\b(?:for|with|fits|fit|holds|to carry)\b")


@dataclass(frozen=True)
class Mention:
    value: str  # the category name or the brand as the catalog spells it
    start: int  # span in the folded text
    end: int
    says_kind: bool = False  # the phrase also names a kind ("espresso machine"): keep it as search text


_ALNUM = re.compile(r"[a-z0-9]+")
_JOIN = re.compile(r"[\s\-.]*")  # what may stand between a phrase's words: "in-ear", "mr. coffee"


class PhraseIndex:
    """Phrases found in a text by looking its words up, not by one pattern per phrase.

    Linear in the text whatever the vocabulary's size: each word is checked only against the
    phrases it starts. Overlaps go to the longer phrase ("hiking shoes" over "shoes"), then the earlier.
    """

    def __init__(self, entries: Iterable[Tuple[str, Any]]):
        phrases: Dict[Tuple[str, ...], Any] = {}
        for phrase, payload in entries:
            key = tuple(_ALNUM.findall(fold(phrase)))
            if key:
                phrases.setdefault(key, payload)
        # First word -> the phrases it starts, longest first.
        self.starting: Dict[str, List[Tuple[Tuple[str, ...], Any]]] = {}
        for key, payload in sorted(phrases.items(), key=lambda item: -len(item[0])):
            self.starting.setdefault(key[0], []).append((key, payload))

    def find(self, folded: str, taken: Optional[bytearray] = None) -> List[Tuple[int, int, Any]]:
        """(start, end, payload) of each phrase in a folded text, in text order."""
        matches = list(_ALNUM.finditer(folded))
        words = [match.group(0) for match in matches]
        candidates = []
        for first, word in enumerate(words):
            for key, payload in self.starting.get(word, ()):
                last = first + len(key) - 1
                if last >= len(words) or tuple(words[first : last + 1]) != key:
                    continue
                if all(
                    _JOIN.fullmatch(folded, matches[index].end(), matches[index + 1].start())
                    for index in range(first, last)
                ):
                    start, end = matches[first].start(), matches[last].end()
                    candidates.append((-(end - start), start, end, payload))
        candidates.sort(key=lambda item: (item[0], item[1]))
        taken = taken if taken is not None else bytearray(len(folded) + 1)
        found = [(start, end, payload) for _, start, end, payload in candidates if _claim(taken, start, end)]
        return sorted(found, key=lambda item: item[0])


@functools.lru_cache(maxsize=1)
def _category_index() -> PhraseIndex:
    phrases = [(term, (category.name, False)) for category in CATEGORIES for term in category.terms]
    phrases += [(term, (category.name, True)) for category in CATEGORIES for term in category.kinds]
    return PhraseIndex(phrases)


@functools.lru_cache(maxsize=1)
def _brand_index() -> PhraseIndex:
    phrases = []
    for brand in data.brands():
        spellings = () if brand in _CASE_SENSITIVE_BRANDS else (brand,)
        if spellings and " " not in brand and not fold(brand).endswith("s"):
            spellings += (brand + "s",)  # "nikes", "hokas"
        phrases += [(spelling, (brand, False)) for spelling in spellings + _BRAND_ALIASES.get(brand, ())]
    return PhraseIndex(phrases)


def _claim(taken: bytearray, start: int, end: int) -> bool:
    """Mark a span as matched unless part of it already is (a longer phrase won it)."""
    if any(taken[start:end]):
        return False
    taken[start:end] = b"\x01" * (end - start)
    return True


def _find(text: str, index: PhraseIndex, taken: Optional[bytearray] = None) -> List[Mention]:
    found = index.find(fold(text), taken)
    return [
        Mention(payload, start, end) if isinstance(payload, str) else Mention(payload[0], start, end, payload[1])
        for start, end, payload in found
    ]


@functools.lru_cache(maxsize=1)
def _feature_index() -> PhraseIndex:
    """What a product can have or be: true flags by name ("gps", "noise cancelling", "grinder" for
    "built_in_grinder") and text values ("in-ear", "pod", "espresso"), with plurals."""
    phrases = []
    for item in data.products():
        for key, value in item["attributes"].items():
            if isinstance(value, bool):
                name = key.replace("_", " ")
                phrases += [(name, name), (name.replace("built in ", ""), name)]
            elif isinstance(value, str) and value not in ("none", "integrated"):
                phrases += [(value, value), (value + "s", value)]
    return PhraseIndex(phrases)


def feature_mentions(text: str) -> List[Mention]:
    """Where a message names a feature a product has or lacks ("without gps", "no pods")."""
    return _find(text, _feature_index())


def category_mentions(text: str) -> List[Mention]:
    return list(_category_mentions(text))


@functools.lru_cache(maxsize=256)
def _category_mentions(text: str) -> Tuple[Mention, ...]:
    return tuple(_find(text, _category_index()))


def brand_mentions(text: str) -> List[Mention]:
    return list(_brand_mentions(text))


@functools.lru_cache(maxsize=256)
def _brand_mentions(text: str) -> Tuple[Mention, ...]:
    taken = bytearray(len(fold(text)) + 1)
    found = _find(text, _brand_index(), taken)
    for brand, pattern in _CASE_SENSITIVE_BRANDS.items():
        # Offsets must be those of the folded text: drop what fold() drops before these words.
        for match in pattern.finditer(text.replace("'", "").replace("\u2019", "")):
            if match.end() <= len(taken) and _claim(taken, match.start(), match.end()):
                found.append(Mention(brand, match.start(), match.end()))
    return tuple(sorted(found, key=lambda mention: mention.start))


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


_WORDS = re.compile(r"[a-z]+")
# A typo is corrected only to a catalog word this similar (rapidfuzz's normalized Indel similarity,
# 0-100): "backpak" -> "backpack" scores 93, "coffe" -> "coffee" 91, while "speaker" -> "sneaker"
# scores 86 and stays a word the shop does not know.
_TYPO_CUTOFF = 88
_SHORTEST_TYPO = 5
_SHORTEST_BRAND_TYPO = 6


@functools.lru_cache(maxsize=1)
def words() -> FrozenSet[str]:
    """Every word the catalog uses: its categories' names for things, brands, product names,
    attribute values and descriptions, folded."""
    texts = [term for category in CATEGORIES for term in category.terms + category.kinds]
    texts += list(data.brands()) + [alias for aliases in _BRAND_ALIASES.values() for alias in aliases]
    for item in data.products():
        texts += [item["name"], item["description"], item["category"]]
        texts += [str(value) for value in item["attributes"].values() if isinstance(value, str)]
        texts += [key.replace("_", " ") for key in item["attributes"]]
    return frozenset(word for text in texts for word in _WORDS.findall(fold(text)))


@functools.lru_cache(maxsize=1)
def _thing_words() -> FrozenSet[str]:
    """The words that name what the shop sells: categories and their kinds, brands, product names
    and attributes, in their indexed forms ("tent", "run"), descriptions left out."""
    texts = [term for category in CATEGORIES for term in category.terms + category.kinds + (category.name,)]
    texts += list(data.brands()) + [alias for aliases in _BRAND_ALIASES.values() for alias in aliases]
    for item in data.products():
        texts.append(item["name"])
        texts += [str(value) for value in item["attributes"].values() if isinstance(value, str)]
        texts += [key.replace("_", " ") for key in item["attributes"]]
    found = {word for text in texts for word in _WORDS.findall(fold(text))}
    return frozenset(found | {normalize_term(word) for word in found})


def names_a_thing(word: str) -> bool:
    """Could this word be what a shopper wants ("tents", "gps", "espresso")? Words only seen in
    descriptions ("phone" in "phone calls") are not: the shop does not sell phones."""
    return word in _thing_words() or normalize_term(word) in _thing_words()


@functools.lru_cache(maxsize=1)
def _candidates() -> Tuple[str, ...]:
    return tuple(sorted(word for word in words() if len(word) >= _SHORTEST_TYPO - 1))


@functools.lru_cache(maxsize=1)
def _brand_words() -> FrozenSet[str]:
    """Words only brands use ("brooks", "salomon"; not "coffee", which "Mr. Coffee" shares)."""
    names = list(data.brands()) + [alias for aliases in _BRAND_ALIASES.values() for alias in aliases]
    texts = [term for category in CATEGORIES for term in category.terms + category.kinds]
    for item in data.products():
        texts += [item["description"], fold(item["name"])[len(fold(item["brand"])) :]]
        texts += [str(value) for value in item["attributes"].values() if isinstance(value, str)]
    other = {word for text in texts for word in _WORDS.findall(fold(text))}
    return frozenset(word for name in names for word in _WORDS.findall(fold(name))) - other


def is_known(word: str) -> bool:
    """A filler word, or a word the catalog uses (in any of its forms: "tents", "hiking")."""
    from chalicelib.catalog.search_engine import search_index

    return word in STOPWORDS or word in words() or search_index().knows(normalize_term(word))


@functools.lru_cache(maxsize=4096)
def correct(word: str) -> Optional[str]:
    """The catalog word a misspelt word stands for ("backpak" -> "backpack"), or None.

    Uses rapidfuzz against the catalog's own vocabulary; short words and words the catalog
    knows are left alone, and so is a word with two equally good corrections.
    """
    if len(word) < _SHORTEST_TYPO or not word.isalpha() or is_known(word):
        return None
    found = process.extract(word, _candidates(), scorer=fuzz.ratio, score_cutoff=_TYPO_CUTOFF, limit=3)
    if len(word) < _SHORTEST_BRAND_TYPO:
        # "books" is not a typo of "Brooks": a short word becomes a brand only when typed in full.
        found = [hit for hit in found if hit[0] not in _brand_words()]
    if not found:
        found = _sounds_like(word)
    if not found or (len(found) > 1 and found[1][1] == found[0][1] and found[1][0] != found[0][0]):
        return None
    return found[0][0]


_SOUNDS = ((re.compile(r"ph"), "f"), (re.compile(r"ck"), "k"), (re.compile(r"([a-z])\1+"), r"\1"))


def _sound(word: str) -> str:
    """A rough spelling-by-ear key: "headphones" and "hedfones" -> "headfones"/"hedfones"."""
    for pattern, spoken in _SOUNDS:
        word = pattern.sub(spoken, word)
    return word


@functools.lru_cache(maxsize=1)
def _sound_index() -> Dict[str, str]:
    return {_sound(word): word for word in _candidates() if len(word) >= _SHORTEST_BRAND_TYPO}


def _sounds_like(word: str) -> list:
    """Typed by ear ("hedfones"): the catalog word whose spoken key is this close to the word's."""
    if len(word) < _SHORTEST_BRAND_TYPO:
        return []
    index = _sound_index()
    found = process.extract(_sound(word), tuple(index), scorer=fuzz.ratio, score_cutoff=_TYPO_CUTOFF, limit=2)
    return [(index[key], score, at) for key, score, at in found]


# A brand typed with one letter off ("Garmn", "Salomin", "Ospry"): brands are few, so a looser
# cutoff is safe among them, and a short word must sit next to a kind of product the brand sells.
_BRAND_CUTOFF = 80
_BRAND_ALONE_CUTOFF = 85  # with no kind of product named: "expresso" is not "Nespresso" (82)


def correct_brand(word: str, categories: Sequence[str]) -> Optional[str]:
    """The brand a misspelt word stands for, given the categories the message names, or None."""
    if len(word) < _SHORTEST_TYPO - 1 or not word.isalpha() or is_known(word):
        return None
    brands = {fold(item["brand"]): item["brand"] for item in data.products()}
    if len(word) < _SHORTEST_BRAND_TYPO or categories:
        sells = {fold(item["brand"]) for item in data.products() if item["category"] in categories}
        brands = {key: name for key, name in brands.items() if key in sells} if categories else {}
    cutoff = _BRAND_CUTOFF if categories else _BRAND_ALONE_CUTOFF
    found = process.extract(word, tuple(brands), scorer=fuzz.ratio, score_cutoff=cutoff, limit=2)
    if not found or (len(found) > 1 and found[1][1] == found[0][1]):
        return None
    return brands[found[0][0]]


def search_words(text: str, category: Optional[str]) -> str:
    """The words of a query worth ranking by: without the category's own name and filler words.

    "waterproof hiking shoes" (hiking boots) -> "waterproof"; "espresso machine" keeps
    "espresso machine", a kind of coffee maker.
    """
    names = [mention for mention in category_mentions(text) if mention.value == category]
    rest = remove_mentions(text, names)
    return " ".join(word for word in re.findall(r"[a-z0-9]+(?:[.-][a-z0-9]+)*", rest) if word not in STOPWORDS)
