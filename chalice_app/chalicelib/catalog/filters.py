"""A search request: free text plus the shopper's constraints, and whether a product meets them.

Prices are inclusive bounds in USD; "under $80" is stored as ``max_price=79.99``
(catalog prices have cents), so the bound always reads "at most". Exclusions cover brands,
categories and features (``has_feature``: a true flag or a value, "gps", "in-ear").
"""

from dataclasses import asdict, dataclass, field, replace
from typing import Any, Callable, Dict, Optional, Sequence, Tuple

from chalicelib.catalog.measures import Measure, satisfies
from chalicelib.catalog.text import fold

__all__ = ["MAX_AMOUNT", "SORTS", "SearchRequest", "has_feature", "matches", "popularity", "price_band", "sort_key"]

Product = Dict[str, Any]

SORTS = ("relevance", "price_asc", "price_desc", "rating", "popularity")

# No price in the catalog comes near this: a larger bound from a shopper or a model is read as
# this one, so every bound is finite and DynamoDB can store the search (it refuses infinity).
MAX_AMOUNT = 1_000_000.0


_LISTS = ("brands", "exclude_brands", "exclude_categories", "exclude_features")


@dataclass(frozen=True)
class SearchRequest:
    text: str = ""
    category: Optional[str] = None
    brands: Tuple[str, ...] = field(default_factory=tuple)
    exclude_brands: Tuple[str, ...] = field(default_factory=tuple)
    exclude_categories: Tuple[str, ...] = field(default_factory=tuple)
    exclude_features: Tuple[str, ...] = field(default_factory=tuple)  # "gps", "in-ear", "pod": see has_feature
    min_price: Optional[float] = None
    max_price: Optional[float] = None
    min_rating: Optional[float] = None
    sort: str = "relevance"
    offset: int = 0
    measures: Tuple[Measure, ...] = field(default_factory=tuple)  # "under 1.3 kg": see catalog.measures

    def __post_init__(self) -> None:
        if self.sort not in SORTS:
            raise ValueError(f"sort must be one of {SORTS}, got {self.sort!r}")

    def with_changes(self, **changes: Any) -> "SearchRequest":
        return replace(self, **changes)

    def has_constraints(self) -> bool:
        return bool(
            self.text.strip()
            or self.category
            or self.brands
            or self.exclude_brands
            or self.exclude_categories
            or self.exclude_features
            or self.min_price is not None
            or self.max_price is not None
            or self.min_rating is not None
            or bool(self.measures)
        )

    def to_dict(self) -> Dict[str, Any]:
        data = asdict(self)
        for name in _LISTS:
            data[name] = list(getattr(self, name))
        data["measures"] = [list(measure) for measure in self.measures]
        return data

    @classmethod
    def from_dict(cls, data: Optional[Dict[str, Any]]) -> Optional["SearchRequest"]:
        if not data:
            return None
        known = {name: data[name] for name in cls.__dataclass_fields__ if name in data}
        for name in _LISTS:
            known[name] = tuple(known.get(name) or ())
        for name in ("min_price", "max_price", "min_rating"):
            if known.get(name) is not None:
                known[name] = float(known[name])
        known["offset"] = int(known.get("offset") or 0)
        known["measures"] = tuple(
            (str(dim), str(hint), str(op), float(value), str(unit))
            for dim, hint, op, value, unit in known.get("measures") or ()
        )
        return cls(**known)


def matches(product: Product, request: SearchRequest) -> bool:
    """Does the product meet every constraint (the free text is ranked, not filtered, here)?"""
    if request.category and product["category"] != request.category:
        return False
    brand = fold(product["brand"])
    if request.brands and brand not in {fold(name) for name in request.brands}:
        return False
    if request.exclude_brands and brand in {fold(name) for name in request.exclude_brands}:
        return False
    if product["category"] in request.exclude_categories:
        return False
    if any(has_feature(product, feature) for feature in request.exclude_features):
        return False
    if request.min_price is not None and product["price"] < request.min_price:
        return False
    if request.max_price is not None and product["price"] > request.max_price:
        return False
    if request.measures and not satisfies(product, list(request.measures)):
        return False
    return request.min_rating is None or product["rating"] >= request.min_rating


def price_band(products: Sequence[Product], band: str) -> Dict[str, Optional[float]]:
    """ "cheap" is the cheapest third of what a search covers, "premium" the dearest third:
    bounds relative to the products, since a cheap laptop costs more than a premium yoga mat."""
    prices = sorted(product["price"] for product in products)
    if not prices:
        return {}
    if band == "low":
        return {"max_price": prices[max(0, len(prices) // 3 - 1)] if len(prices) >= 3 else prices[0]}
    return {"min_price": prices[len(prices) - max(1, len(prices) // 3)]}


def has_feature(product: Product, feature: str) -> bool:
    """Does the product have this feature: a true flag named so ("gps", "noise cancelling") or a
    value saying so ("in-ear", "pod", "down" in "650-fill down")?"""
    wanted = fold(feature).replace("-", " ").strip()
    for key, value in product["attributes"].items():
        if value is True and wanted in (key.replace("_", " "), key.replace("_", " ").replace("built in ", "")):
            return True
        if isinstance(value, str):
            said = fold(value).replace("-", " ")
            if wanted == said or f" {wanted} " in f" {said} ":
                return True
    return False


def popularity(product: Product) -> float:
    """Rating shrunk towards 4.0 by few reviews: 4.9 from 3 reviews ranks below 4.7 from 3,000."""
    reviews = product["review_count"]
    return (product["rating"] * reviews + 4.0 * 50) / (reviews + 50)


_SORT_KEYS: Dict[str, Callable[[Product], Any]] = {
    "price_asc": lambda product: product["price"],
    "price_desc": lambda product: -product["price"],
    "rating": lambda product: (-product["rating"], -product["review_count"]),
    "popularity": lambda product: (-product["review_count"], -product["rating"]),
}


def sort_key(sort: str) -> Optional[Callable[[Product], Any]]:
    """The key for an explicit sort; None for relevance (keep the ranking's order)."""
    return _SORT_KEYS.get(sort)
