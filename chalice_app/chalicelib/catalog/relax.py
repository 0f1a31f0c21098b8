"""When a search finds nothing: which single constraint to loosen, and by how much.

An honest "no match" is more useful with a concrete way out ("the cheapest is
$129.95: raise the budget to $130?") than with a bare apology.
"""

import math
from dataclasses import dataclass
from typing import Dict, Iterable, List, Optional

from chalicelib.catalog import data
from chalicelib.catalog.filters import SearchRequest, matches
from chalicelib.catalog.search_engine import search

__all__ = ["Relaxation", "relaxations"]


@dataclass(frozen=True)
class Relaxation:
    request: SearchRequest  # the loosened request (offset 0)
    total: int  # how many products it finds
    change: str  # what to loosen, for the reply: "raise the budget to $130"
    reason: str  # why: "the cheapest is the Hoka Glide 3 at $129.95"


def relaxations(request: SearchRequest, keep: Iterable[str] = ()) -> List[Relaxation]:
    """Every single loosening that finds something, most specific first.

    ``keep`` names SearchRequest fields not to loosen: what the shopper just asked
    for ("only Nike" must not be answered with "look at other brands").
    """
    request = request.with_changes(offset=0)
    kept = set(keep)
    found: List[Relaxation] = []
    for loosens, attempt in (
        ("max_price", _raise_budget),
        ("min_price", _lower_minimum),
        ("min_rating", _lower_rating),
        ("brands", _any_brand),
        ("exclude_brands", _allow_excluded),
        ("text", _drop_words),
        ("category", _any_category),
    ):
        if loosens in kept:
            continue
        relaxation = attempt(request)
        if relaxation is not None and relaxation.total:
            found.append(relaxation)
    return found


def _count(request: SearchRequest) -> int:
    return search(request, limit=1).total


def _raise_budget(request: SearchRequest) -> Optional[Relaxation]:
    if request.max_price is None:
        return None
    loose = request.with_changes(max_price=None)
    over = [item for item in _candidates(loose) if item["price"] > request.max_price]
    if not over:
        return None
    cheapest = min(over, key=lambda item: item["price"])
    budget = float(math.ceil(cheapest["price"] / 10) * 10)
    relaxed = request.with_changes(max_price=budget)
    return Relaxation(
        relaxed,
        _count(relaxed),
        f"raise the budget to ${budget:,.0f}",
        f"the cheapest is the {cheapest['name']} at ${cheapest['price']:,.2f}",
    )


def _lower_minimum(request: SearchRequest) -> Optional[Relaxation]:
    if request.min_price is None:
        return None
    under = [item for item in _candidates(request.with_changes(min_price=None)) if item["price"] < request.min_price]
    if not under:
        return None
    dearest = max(under, key=lambda item: item["price"])
    floor = float(math.floor(dearest["price"] / 10) * 10)
    relaxed = request.with_changes(min_price=floor)
    return Relaxation(
        relaxed,
        _count(relaxed),
        f"start from ${floor:,.0f}",
        f"the most expensive is the {dearest['name']} at ${dearest['price']:,.2f}",
    )


def _lower_rating(request: SearchRequest) -> Optional[Relaxation]:
    if request.min_rating is None:
        return None
    pool = _candidates(request.with_changes(min_rating=None))
    if not pool:
        return None
    best = max(item["rating"] for item in pool)
    relaxed = request.with_changes(min_rating=best)
    return Relaxation(
        relaxed, _count(relaxed), f"accept a rating of {best:.1f}", f"the best rated here has {best:.1f} stars"
    )


def _any_brand(request: SearchRequest) -> Optional[Relaxation]:
    if not request.brands:
        return None
    relaxed = request.with_changes(brands=())
    names = " or ".join(request.brands)
    return Relaxation(relaxed, _count(relaxed), "look at other brands", f"{names} has nothing that fits")


def _allow_excluded(request: SearchRequest) -> Optional[Relaxation]:
    if not request.exclude_brands:
        return None
    relaxed = request.with_changes(exclude_brands=())
    names = " and ".join(request.exclude_brands)
    return Relaxation(relaxed, _count(relaxed), f"include {names} again", f"only {names} has matches")


def _drop_words(request: SearchRequest) -> Optional[Relaxation]:
    if not request.text.strip():
        return None
    relaxed = request.with_changes(text="")
    if not (relaxed.category or relaxed.brands):
        return None  # nothing would be left to search for
    return Relaxation(
        relaxed, _count(relaxed), f"drop \u201c{request.text.strip()}\u201d", "no product mentions all of that"
    )


def _any_category(request: SearchRequest) -> Optional[Relaxation]:
    if not request.category or not (request.text.strip() or request.brands):
        return None
    relaxed = request.with_changes(category=None)
    return Relaxation(relaxed, _count(relaxed), "look in other categories", f"I have no {request.category} like that")


def _candidates(request: SearchRequest) -> List[Dict]:
    """Products meeting the constraints and, when there is free text, matching it."""
    if request.text.strip():
        return search(request, limit=len(data.products())).products
    return [item for item in data.products() if matches(item, request)]
