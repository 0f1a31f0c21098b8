"""The shopping tools both assistants use: search, get a product, compare, and the cart.

Each works on a ``SessionState`` and updates it (what was shown, the active search,
the cart), so the rule-based catalog assistant and the Bedrock model's tool calls
leave a session in the same shape. Money is summed as Decimal: a cart total must
be exact to the cent.
"""

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Dict, List, Optional, Sequence

from chalicelib import catalog
from chalicelib.catalog import SearchRequest, SearchResult
from chalicelib.sessions import SessionState

__all__ = [
    "MAX_RESULTS",
    "MAX_QUANTITY",
    "MAX_CART_LINES",
    "ToolError",
    "Cart",
    "CartLine",
    "search_products",
    "shown",
    "resolve",
    "get_product",
    "compare_products",
    "add_to_cart",
    "remove_from_cart",
    "view_cart",
    "clear_cart",
]

MAX_RESULTS = 5  # products per reply: enough to choose from, few enough to read on a phone
MAX_QUANTITY = 10
MAX_CART_LINES = 20

Product = Dict[str, Any]


class ToolError(ValueError):
    """The request cannot be done as asked; the message says why, for the shopper."""


@dataclass(frozen=True)
class CartLine:
    product: Product
    quantity: int
    line_total: Decimal


@dataclass(frozen=True)
class Cart:
    lines: List[CartLine]
    total: Decimal

    @property
    def item_count(self) -> int:
        return sum(line.quantity for line in self.lines)


def search_products(state: SessionState, request: SearchRequest, limit: int = MAX_RESULTS) -> SearchResult:
    """Search, and remember the results (for "the second one") and the request (for "cheaper ones")."""
    result = catalog.search(request, limit=min(limit, MAX_RESULTS))
    state.filters = request.to_dict()
    state.pending = None
    if result.products:
        state.last_result_ids = [item["id"] for item in result.products]
        state.focus_id = result.products[0]["id"] if len(result.products) == 1 else None
    return result


def shown(state: SessionState) -> List[Product]:
    """The products last shown, in order (ids that left the catalog are skipped)."""
    return [item for item in (catalog.product(pid) for pid in state.last_result_ids) if item is not None]


def resolve(state: SessionState, reference: Any) -> Product:
    """A product from an id ("RUN-004") or a 1-based position in the last results."""
    if isinstance(reference, int) or (isinstance(reference, str) and reference.strip().isdigit()):
        position = int(reference)
        listed = shown(state)
        if not listed:
            raise ToolError("I haven't shown you any products yet; tell me what you're looking for.")
        if not 1 <= position <= len(listed):
            raise ToolError(f"I only showed {len(listed)}; pick a number from 1 to {len(listed)}.")
        return listed[position - 1]
    item = catalog.product(str(reference))
    if item is None:
        raise ToolError(f"I can't find a product with the id {reference}.")
    return item


def get_product(state: SessionState, reference: Any) -> Product:
    item = resolve(state, reference)
    state.focus_id = item["id"]
    return item


def compare_products(state: SessionState, references: Sequence[Any]) -> List[Product]:
    items: List[Product] = []
    for reference in references:
        item = resolve(state, reference)
        if item["id"] not in {existing["id"] for existing in items}:
            items.append(item)
    if len(items) < 2:
        raise ToolError("Give me at least two different products to compare.")
    return items[:MAX_RESULTS]


def add_to_cart(state: SessionState, reference: Any, quantity: int = 1) -> CartLine:
    item = resolve(state, reference)
    if quantity < 1:
        raise ToolError("The quantity must be at least 1.")
    if item["id"] not in state.cart and len(state.cart) >= MAX_CART_LINES:
        raise ToolError(f"Your cart already holds {MAX_CART_LINES} different products; remove one first.")
    new_quantity = state.cart.get(item["id"], 0) + quantity
    if new_quantity > MAX_QUANTITY:
        raise ToolError(f"You can have at most {MAX_QUANTITY} of one product in the cart.")
    state.cart[item["id"]] = new_quantity
    state.focus_id = item["id"]
    return _line(item, new_quantity)


def remove_from_cart(state: SessionState, reference: Any, quantity: Optional[int] = None) -> CartLine:
    """Remove ``quantity`` (default: all) of a product; returns what is left (quantity 0: gone)."""
    item = resolve(state, reference)
    if item["id"] not in state.cart:
        raise ToolError(f"The {item['name']} isn't in your cart.")
    left = 0 if quantity is None else max(0, state.cart[item["id"]] - quantity)
    if left:
        state.cart[item["id"]] = left
    else:
        del state.cart[item["id"]]
    return _line(item, left)


def view_cart(state: SessionState) -> Cart:
    lines = []
    for product_id, quantity in state.cart.items():
        item = catalog.product(product_id)
        if item is not None and quantity > 0:
            lines.append(_line(item, quantity))
    total = sum((line.line_total for line in lines), Decimal("0.00"))
    return Cart(lines=lines, total=total.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def clear_cart(state: SessionState) -> int:
    count = sum(state.cart.values())
    state.cart.clear()
    return count


def _line(item: Product, quantity: int) -> CartLine:
    return CartLine(product=item, quantity=quantity, line_total=Decimal(str(item["price"])) * quantity)
