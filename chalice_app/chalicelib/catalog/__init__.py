"""The product catalog shipped with the package: data, search (BM25) and filters.

Nothing here touches AWS or a session; ``chalicelib.assistant.tools`` puts it to
work for a conversation.
"""

from chalicelib.catalog.categories import CATEGORIES, Category
from chalicelib.catalog.data import brands, category_names, product, products, public
from chalicelib.catalog.filters import SORTS, SearchRequest, matches, price_band
from chalicelib.catalog.relax import Relaxation, relaxations
from chalicelib.catalog.search_engine import SearchResult, search, unknown_words
from chalicelib.catalog.vocabulary import (
    Mention,
    brand_mentions,
    category_mentions,
    correct,
    feature_mentions,
    is_known,
    names_a_thing,
    pick_category,
    search_words,
)

__all__ = [
    "CATEGORIES",
    "Category",
    "Mention",
    "Relaxation",
    "SORTS",
    "SearchRequest",
    "SearchResult",
    "brand_mentions",
    "brands",
    "category_mentions",
    "category_names",
    "correct",
    "feature_mentions",
    "is_known",
    "names_a_thing",
    "matches",
    "pick_category",
    "price_band",
    "product",
    "products",
    "public",
    "relaxations",
    "search",
    "search_words",
    "unknown_words",
]
