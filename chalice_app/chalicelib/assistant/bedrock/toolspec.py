"""The catalog tools as Bedrock sees them: JSON-schema specs, and running a call.

Every call goes to the same functions the catalog assistant uses
(``chalicelib.assistant.tools``), so a model's search updates the session exactly
as a typed search does. Results are compact JSON for the model; the products a
call returns also become the reply's product cards.
"""

import math
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Tuple

from chalicelib import catalog
from chalicelib.assistant import tools
from chalicelib.catalog import SORTS, SearchRequest
from chalicelib.catalog.filters import MAX_AMOUNT
from chalicelib.catalog.text import fold
from chalicelib.sessions import SessionState

__all__ = ["TOOL_CONFIG", "ToolOutcome", "run_tool"]

Product = Dict[str, Any]

_PRODUCT_REF = {
    "type": "string",
    "description": "A product id such as RUN-004, or its position (1-5) in the last search results",
}


def _spec(name: str, description: str, properties: Dict[str, Any], required: Tuple[str, ...] = ()) -> Dict[str, Any]:
    schema: Dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        schema["required"] = list(required)
    return {"toolSpec": {"name": name, "description": description, "inputSchema": {"json": schema}}}


TOOL_CONFIG: Dict[str, Any] = {
    "tools": [
        _spec(
            "search_products",
            "Search the store's catalog. Returns at most 5 products, best match first, numbered by position.",
            {
                "query": {"type": "string", "description": "What the shopper wants, in their words"},
                "category": {"type": "string", "enum": [c.name for c in catalog.CATEGORIES]},
                "brand": {"type": "string"},
                "brands": {"type": "array", "items": {"type": "string"}, "description": "Any of these brands"},
                "exclude_brands": {"type": "array", "items": {"type": "string"}, "description": "None of these"},
                "exclude_categories": {
                    "type": "array",
                    "items": {"type": "string", "enum": [c.name for c in catalog.CATEGORIES]},
                },
                "exclude_features": {
                    "type": "array",
                    "items": {"type": "string"},
                    "description": "Features the products must not have: 'gps', 'in-ear', 'pod', 'hood'",
                },
                "min_price": {"type": "number", "description": "USD, inclusive"},
                "max_price": {"type": "number", "description": "USD, inclusive"},
                "min_rating": {"type": "number", "description": "0-5 stars"},
                "sort": {"type": "string", "enum": list(SORTS)},
            },
        ),
        _spec("get_product", "Everything about one product.", {"product": _PRODUCT_REF}, ("product",)),
        _spec(
            "compare_products",
            "Compare 2 to 5 products side by side.",
            {"products": {"type": "array", "items": _PRODUCT_REF, "minItems": 2, "maxItems": 5}},
            ("products",),
        ),
        _spec(
            "add_to_cart",
            "Add a product to the shopper's cart.",
            {"product": _PRODUCT_REF, "quantity": {"type": "integer", "minimum": 1, "maximum": tools.MAX_QUANTITY}},
            ("product",),
        ),
        _spec(
            "remove_from_cart",
            "Remove a product from the cart (all of it unless a quantity is given).",
            {"product": _PRODUCT_REF, "quantity": {"type": "integer", "minimum": 1}},
            ("product",),
        ),
        _spec("view_cart", "The cart's contents and its exact total.", {}),
    ]
}


@dataclass
class ToolOutcome:
    result: Dict[str, Any]  # the toolResult's JSON for the model
    products: List[Product] = field(default_factory=list)  # cards for the reply
    ok: bool = True


def run_tool(name: str, arguments: Dict[str, Any], state: SessionState) -> ToolOutcome:
    """Run one tool call; a bad call becomes an error result the model can read and correct."""
    handler = _HANDLERS.get(name)
    if handler is None:
        return ToolOutcome({"error": f"unknown tool {name!r}"}, ok=False)
    if "_invalid_json" in arguments:
        return ToolOutcome({"error": "the tool input was not valid JSON"}, ok=False)
    try:
        return handler(state, arguments)
    except (tools.ToolError, ValueError, TypeError) as error:
        return ToolOutcome({"error": str(error)}, ok=False)


# --- one handler per tool ---------------------------------------------------------------


def _search(state: SessionState, arguments: Dict[str, Any]) -> ToolOutcome:
    query = str(arguments.get("query") or "")
    category = arguments.get("category") or catalog.pick_category(query)
    if category and category not in catalog.category_names():
        raise tools.ToolError(f"no category {category!r}; use one of: {', '.join(catalog.category_names())}")
    brands = (
        _brands(arguments.get("brand"), query)
        if not arguments.get("brands")
        else _known_brands(arguments.get("brands"))
    )
    excluded = _known_brands(arguments.get("exclude_brands"))
    brands = tuple(brand for brand in brands if brand not in excluded)
    text = fold(query)
    for mention in sorted(catalog.brand_mentions(query), key=lambda item: -item.start):
        text = text[: mention.start] + " " + text[mention.end :]
    request = SearchRequest(
        text=catalog.search_words(text, category),
        category=category,
        brands=brands,
        exclude_brands=excluded,
        exclude_categories=_names(arguments.get("exclude_categories"), catalog.category_names(), "category"),
        exclude_features=tuple(str(feature) for feature in _list(arguments.get("exclude_features"))),
        min_price=_number(arguments, "min_price"),
        max_price=_number(arguments, "max_price"),
        min_rating=_number(arguments, "min_rating"),
        sort=arguments.get("sort") or "relevance",
    )
    result = tools.search_products(state, request)
    found: Dict[str, Any] = {
        "total_matches": result.total,
        "products": [_summary(item, position) for position, item in enumerate(result.products, start=1)],
    }
    if result.missing_terms:
        found["not_matched"] = list(result.missing_terms)
    if not result.total:
        suggestions = catalog.relaxations(request)
        if suggestions:
            found["suggestion"] = f"{suggestions[0].reason}; {suggestions[0].change}"
    return ToolOutcome(found, list(result.products))


def _get(state: SessionState, arguments: Dict[str, Any]) -> ToolOutcome:
    item = tools.get_product(state, _reference(arguments["product"]))
    return ToolOutcome({**item, "in_cart": state.cart.get(item["id"], 0)}, [item])


def _compare(state: SessionState, arguments: Dict[str, Any]) -> ToolOutcome:
    references = arguments.get("products")
    if not isinstance(references, list):
        raise tools.ToolError("products must be a list of ids or positions")
    items = tools.compare_products(state, [_reference(reference) for reference in references])
    cheapest = min(items, key=lambda item: item["price"])
    best = max(items, key=lambda item: (item["rating"], item["review_count"]))
    return ToolOutcome({"products": items, "cheapest": cheapest["id"], "best_rated": best["id"]}, items)


def _add(state: SessionState, arguments: Dict[str, Any]) -> ToolOutcome:
    line = tools.add_to_cart(state, _reference(arguments["product"]), int(arguments.get("quantity") or 1))
    return ToolOutcome(
        {"added": _summary(line.product), "quantity_in_cart": line.quantity, "cart": _cart(state)}, [line.product]
    )


def _remove(state: SessionState, arguments: Dict[str, Any]) -> ToolOutcome:
    quantity = arguments.get("quantity")
    line = tools.remove_from_cart(state, _reference(arguments["product"]), int(quantity) if quantity else None)
    return ToolOutcome({"removed": line.product["id"], "quantity_left": line.quantity, "cart": _cart(state)})


def _view(state: SessionState, arguments: Dict[str, Any]) -> ToolOutcome:
    cart = tools.view_cart(state)
    return ToolOutcome(_cart(state), [line.product for line in cart.lines])


_HANDLERS: Dict[str, Callable[[SessionState, Dict[str, Any]], ToolOutcome]] = {
    "search_products": _search,
    "get_product": _get,
    "compare_products": _compare,
    "add_to_cart": _add,
    "remove_from_cart": _remove,
    "view_cart": _view,
}


# --- helpers ----------------------------------------------------------------------------


def _summary(item: Product, position: Optional[int] = None) -> Dict[str, Any]:
    summary = {key: item[key] for key in ("id", "name", "brand", "category", "price", "rating", "review_count")}
    summary["attributes"] = item["attributes"]
    return {"position": position, **summary} if position else summary


def _cart(state: SessionState) -> Dict[str, Any]:
    cart = tools.view_cart(state)
    return {
        "items": [
            {
                "id": line.product["id"],
                "name": line.product["name"],
                "price": line.product["price"],
                "quantity": line.quantity,
                "line_total": float(line.line_total),
            }
            for line in cart.lines
        ],
        "item_count": cart.item_count,
        "total": float(cart.total),
        "currency": "USD",
    }


def _reference(value: Any) -> Any:
    text = str(value).strip().lstrip("#")
    return int(text) if text.isdigit() else text


def _number(arguments: Dict[str, Any], name: str) -> Optional[float]:
    """A bound from the model, finite and within 0..MAX_AMOUNT (as the typed parser's are)."""
    value = arguments.get(name)
    if value is None or value == "":
        return None
    number = float(str(value).replace("$", "").replace(",", ""))
    if math.isnan(number):
        raise tools.ToolError(f"{name} must be a number")
    return min(max(number, 0.0), MAX_AMOUNT)


def _list(value: Any) -> List[Any]:
    if not value:
        return []
    return [value] if isinstance(value, str) else list(value)


def _names(value: Any, known: Tuple[str, ...], what: str) -> Tuple[str, ...]:
    """Names the catalog knows, as it spells them; an unknown one is an error the model can read."""
    spelled = {fold(name): name for name in known}
    found = []
    for name in _list(value):
        if fold(str(name)) not in spelled:
            raise tools.ToolError(f"no {what} {name!r}; use one of: {', '.join(known)}")
        found.append(spelled[fold(str(name))])
    return tuple(dict.fromkeys(found))


def _known_brands(names: Any) -> Tuple[str, ...]:
    """Brands as the catalog spells them; a list from the model, each checked like ``brand``."""
    if not names:
        return ()
    if isinstance(names, str):
        names = [names]
    return tuple(dict.fromkeys(brand for name in names for brand in _brands(name, "")))


def _brands(brand: Any, query: str) -> Tuple[str, ...]:
    if brand:
        known = {fold(name): name for name in catalog.brands()}
        match = known.get(fold(str(brand))) or next((m.value for m in catalog.brand_mentions(str(brand))), None)
        if match is None:
            raise tools.ToolError(f"the store has no brand {brand!r}")
        return (match,)
    return tuple(dict.fromkeys(mention.value for mention in catalog.brand_mentions(query)))
