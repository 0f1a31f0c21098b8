"""Catalog search: constraints filter, BM25 ranks the free text, an explicit sort reorders.

Ranking prefers products that match *every* meaningful query term ("waterproof
trail" finds waterproof trail shoes first), then BM25 score, then popularity.
The index is built once per process, on first use.
"""

import functools
from dataclasses import dataclass, field
from typing import Any, Dict, List, Tuple

from chalicelib.catalog import data
from chalicelib.catalog.bm25 import BM25Index
from chalicelib.catalog.categories import by_name
from chalicelib.catalog.filters import SearchRequest, matches, popularity, sort_key
from chalicelib.catalog.text import tokenize

__all__ = ["SearchResult", "search", "search_index", "document_terms", "unknown_words"]

Product = Dict[str, Any]

# Attribute-name suffixes that are units, spelled as the tokenizer pairs them with a number.
_UNIT_WORDS = {
    "in": "inch",
    "l": "l",
    "g": "g",
    "kg": "kg",
    "mm": "mm",
    "cm": "cm",
    "gb": "gb",
    "atm": "atm",
    "hours": "hours",
    "days": "days",
    "cups": "cups",
    "people": "people",
    "minutes": "minutes",
    "bar": "bar",
}


@dataclass(frozen=True)
class SearchResult:
    request: SearchRequest
    products: List[Product]  # the requested page, catalog objects (use data.public for replies)
    total: int  # every product that matched
    missing_terms: Tuple[str, ...] = field(default_factory=tuple)  # query terms no shown product has


def document_terms(product: Product) -> List[str]:
    """What the index knows about a product; the name counts twice (it is the best evidence)."""
    category = by_name(product["category"])
    parts = [product["name"], product["name"], product["brand"], product["category"]]
    if category is not None:
        parts.append(category.singular)
    parts.extend(_attribute_words(key, value) for key, value in product["attributes"].items())
    parts.append(product["description"])
    return tokenize(" . ".join(part for part in parts if part), keep_unit_parts=True)


def _attribute_words(key: str, value: Any) -> str:
    """An attribute as words: "ram_gb": 32 -> "ram 32 gb" (so "32gb" finds it), True -> its name."""
    words = key.split("_")
    if value is True:
        return " ".join(words)
    if value is False or value in (0, "none"):
        return ""  # a feature the product lacks must not match its name
    unit = _UNIT_WORDS.get(words[-1]) if len(words) > 1 else None
    if unit is None:
        return " ".join(words + [str(value)])
    text = " ".join(words[:-1] + [f"{value:g}" if isinstance(value, float) else str(value), unit])
    if key == "storage_gb" and value >= 1024:
        text += f" {value // 1024} tb"
    return text


@functools.lru_cache(maxsize=1)
def search_index() -> BM25Index:
    return BM25Index([document_terms(product) for product in data.products()])


def search(request: SearchRequest, limit: int = 5) -> SearchResult:
    catalog = data.products()
    candidates = [position for position, product in enumerate(catalog) if matches(product, request)]
    index = search_index()
    words = list(dict.fromkeys(tokenize(request.text)))
    terms = [term for term in words if index.knows(term)]
    missing: Tuple[str, ...] = ()
    if terms:
        scores = index.scores(terms)
        coverage = {position: len(index.matched_terms(terms, position)) for position in candidates}
        ranked = [position for position in candidates if scores.get(position, 0.0) > 0]
        best = max((coverage[position] for position in ranked), default=0)
        # Products matching fewer terms than the best ones are noise, not alternatives.
        ranked = [position for position in ranked if coverage[position] == best]
        ranked.sort(key=lambda position: (-scores[position], -popularity(catalog[position])))
        if ranked and best < len(terms):
            present = set(index.matched_terms(terms, ranked[0]))
            missing = tuple(term for term in terms if term not in present)
    elif words and not (request.category or request.brands):
        ranked = []  # only words the catalog has never heard of: an honest no-match
    else:
        ranked = sorted(candidates, key=lambda position: -popularity(catalog[position]))
    key = sort_key(request.sort)
    if key is not None:
        ranked.sort(key=lambda position: key(catalog[position]))  # stable: relevance breaks ties
    page = [catalog[position] for position in ranked[request.offset : request.offset + limit]]
    return SearchResult(request=request, products=page, total=len(ranked), missing_terms=missing)


def unknown_words(text: str) -> List[str]:
    """The words of ``text`` (stopwords aside) that no product mentions."""
    index = search_index()
    return [
        word
        for word, term in zip(text.split(), (tokenize(word) for word in text.split()), strict=True)
        if term and not any(index.knows(part) for part in term)
    ]
