"""A search request from what a message stated, or the active search changed by a follow-up.

Pure functions of the intent, the previous request and the products listed: no session writes.
"""

from typing import Any, Dict, List, Optional, Tuple

from chalicelib import catalog
from chalicelib.assistant.catalog import replies
from chalicelib.assistant.catalog.kinds import Intent
from chalicelib.catalog import SearchRequest

__all__ = ["banded", "changes_anything", "refined", "request_from", "stated"]

Product = Dict[str, Any]


def stated(found: Any) -> tuple:
    """The constraints the shopper just stated: a no-match must not suggest undoing them."""
    stated = []
    if found.brands:
        stated.append("brands")
    if found.exclude_brands:
        stated.append("exclude_brands")
    stated += [name for name in ("exclude_categories", "exclude_features") if getattr(found, name)]
    if found.has_price:
        stated += ["min_price", "max_price"]
    if found.min_rating is not None:
        stated.append("min_rating")
    return tuple(stated)


def banded(request: SearchRequest, band: Optional[str]) -> SearchRequest:
    """ "cheap" and "premium" as price bounds over what the rest of the request covers."""
    if band is None or request.min_price is not None or request.max_price is not None:
        return request
    pool = [item for item in catalog.products() if catalog.matches(item, request)]
    return request.with_changes(**catalog.price_band(pool, band))


def refined(
    previous: SearchRequest, intent: Intent, known_text: str, listed: List[Product]
) -> Tuple[SearchRequest, str]:
    """The active search changed by a follow-up: what it states replaces, its words add.

    A new bound replaces the old one in its direction; an old bound in the other direction that
    the new one contradicts ("over $500" after "up to $250") is dropped, and named in the reply.
    """
    found = intent.constraints
    changes: Dict[str, Any] = {"offset": 0}
    if known_text:
        changes["text"] = " ".join(dict.fromkeys((previous.text + " " + known_text).split()))
    changes.update(_brand_changes(previous, intent))
    if "price" in intent.widen or found.band:
        changes.update(min_price=None, max_price=None)
    for name in ("min_price", "max_price", "min_rating", "sort"):
        if getattr(found, name) is not None:
            changes[name] = getattr(found, name)
    if found.measures:
        changes["measures"] = _merged_measures(previous.measures, found.measures)
    dropped = ""
    low, high = changes.get("min_price", previous.min_price), changes.get("max_price", previous.max_price)
    if low is not None and high is not None and low > high:
        if found.min_price is not None:
            dropped, changes["max_price"] = replies.describe_bound(None, previous.max_price), None
        else:
            dropped, changes["min_price"] = replies.describe_bound(previous.min_price, None), None
    if intent.relative and not found.has_price and listed:
        changes.update(_relative_bounds(intent.relative, listed))
    return previous.with_changes(**changes), dropped


def _brand_changes(previous: SearchRequest, intent: Intent) -> Dict[str, Any]:
    """Brands wanted replace (or, with "also", add to) the old; excluded ones add; "any brand" clears."""
    found = intent.constraints
    changes: Dict[str, Any] = {}
    if "brand" in intent.widen:
        changes.update(brands=(), exclude_brands=())
    if found.brands:
        brands = previous.brands + found.brands if intent.add_brands else found.brands
        changes["brands"] = tuple(dict.fromkeys(brands))
        changes["exclude_brands"] = tuple(brand for brand in previous.exclude_brands if brand not in found.brands)
    for name in ("exclude_categories", "exclude_features"):
        if getattr(found, name):
            changes[name] = tuple(dict.fromkeys(getattr(previous, name) + getattr(found, name)))
    if found.exclude_brands:
        changes["exclude_brands"] = tuple(dict.fromkeys(previous.exclude_brands + found.exclude_brands))
        kept = changes.get("brands", previous.brands)
        changes["brands"] = tuple(brand for brand in kept if brand not in found.exclude_brands)
    return changes


def _relative_bounds(kind: str, listed: List[Product]) -> Dict[str, Any]:
    """ "cheaper ones": cheaper than everything just shown; "better rated": better than the worst shown."""
    if kind == "cheaper":
        return {"max_price": round(min(item["price"] for item in listed) - 0.01, 2)}
    if kind == "pricier":
        return {"min_price": round(max(item["price"] for item in listed) + 0.01, 2), "max_price": None}
    return {"min_rating": min(5.0, round(min(item["rating"] for item in listed) + 0.1, 1)), "sort": "rating"}


def request_from(found: Any, text: str, category: Optional[str] = None) -> SearchRequest:
    """A new search from what one message stated (its constraints), with these words."""
    return SearchRequest(
        text=text,
        category=category,
        brands=found.brands,
        exclude_brands=found.exclude_brands,
        exclude_categories=found.exclude_categories,
        exclude_features=found.exclude_features,
        min_price=found.min_price,
        max_price=found.max_price,
        min_rating=found.min_rating,
        sort=found.sort or "relevance",
        measures=found.measures,
    )


def changes_anything(intent: Intent) -> bool:
    """Does a follow-up change the search other than by its words?"""
    return bool(intent.constraints.filters_anything or intent.relative or intent.widen)


def _merged_measures(old: tuple, new: tuple) -> tuple:
    """A new bound on a dimension replaces the old ones on it ("any that sleep 4" after "for 2")."""
    said = {(measure[0], measure[1]) for measure in new}
    return tuple(measure for measure in old if (measure[0], measure[1]) not in said) + tuple(new)
