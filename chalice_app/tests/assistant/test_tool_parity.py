"""The Bedrock backend's tools answer the quality set's questions the way the catalog assistant does.

Each step is a shopper's sentence for the catalog assistant and the structured tool call a model
would make for it (``bedrock.toolspec.run_tool``, the function the Bedrock backend runs). Both run
in sessions of their own; after every step they must show the same products in the same order and
hold the same cart, and the tool side must meet the quality set's own structural checks (prices,
brands, categories, the referenced product, the cart and its exact total).
"""

import json
import math
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Callable, Dict, List, Sequence, Tuple

import pytest

from chalicelib import catalog
from chalicelib.assistant.bedrock.toolspec import run_tool
from chalicelib.assistant.catalog.parsing import MAX_AMOUNT
from chalicelib.sessions import SessionState
from tests.assistant.conftest import Conversation
from tests.assistant.quality_cases import (
    attribute,
    brand_is,
    brand_not_in,
    category,
    cheapest,
    every,
    price_at_least,
    price_at_most,
    price_down,
    price_up,
    rating_first,
    search_bounded,
)

Arguments = Dict[str, Any]
Call = Tuple[str, Any]  # tool name, arguments (or a function of the tool conversation giving them)


@dataclass
class ToolSaid:
    products: List[Dict[str, Any]]
    result: Dict[str, Any]

    @property
    def ids(self) -> List[str]:
        return [item["id"] for item in self.products]

    @property
    def content(self) -> str:
        return json.dumps(self.result)


@dataclass
class ToolConversation:
    """Tool calls on one session, as the Bedrock backend makes them."""

    session: SessionState = field(default_factory=lambda: SessionState("tools"))
    said: List[ToolSaid] = field(default_factory=list)

    def call(self, name: str, arguments: Arguments) -> ToolSaid:
        outcome = run_tool(name, arguments, self.session)
        assert outcome.ok, f"{name}({arguments}) failed: {outcome.result}"
        said = ToolSaid(list(outcome.products), outcome.result)
        self.said.append(said)
        return said

    def state(self) -> SessionState:
        return self.session


def cart_total_is_exact(conversation: ToolConversation) -> None:
    """The tool's cart total is the exact sum of its lines."""
    result = conversation.said[-1].result
    cart = result.get("cart", result)
    expected = sum(
        Decimal(str(catalog.product(pid)["price"])) * quantity for pid, quantity in conversation.state().cart.items()
    )
    assert Decimal(str(cart["total"])) == expected, f"total {cart['total']} != {expected}"


def _id_of(step: int, pick: Callable[[List[dict]], dict]) -> Callable[[ToolConversation], Arguments]:
    return lambda conversation: {"product": pick(conversation.said[step].products)["id"]}


# (name, steps of (message, tool call, checks on the tool side))
PARITY: List[Tuple[str, Sequence[Tuple[Any, Call, Sequence[Callable]]]]] = [
    (
        "negated brands",
        [
            (
                "running shoes but not Nike or Adidas",
                ("search_products", {"category": "running shoes", "exclude_brands": ["Nike", "Adidas"]}),
                [category("running shoes"), brand_not_in("Nike", "Adidas")],
            ),
        ],
    ),
    (
        "negated features",
        [
            (
                "smartwatches without gps",
                ("search_products", {"category": "smartwatches", "exclude_features": ["gps"]}),
                [category("smartwatches"), attribute("gps", lambda value: not value, "no GPS")],
            ),
        ],
    ),
    (
        "negated categories",
        [
            (
                "waterproof gear except jackets",
                ("search_products", {"query": "waterproof", "exclude_categories": ["jackets"]}),
                [every("not a jacket", lambda item: item["category"] != "jackets")],
            ),
        ],
    ),
    (
        "upper bound",
        [
            (
                "laptops up to 800",
                ("search_products", {"category": "laptops", "max_price": 800}),
                [category("laptops"), price_at_most(800)],
            ),
        ],
    ),
    (
        "range and brands",
        [
            (
                "Sony or Bose headphones between 100 and 300",
                (
                    "search_products",
                    {"category": "headphones", "brands": ["Sony", "Bose"], "min_price": 100, "max_price": 300},
                ),
                [category("headphones"), brand_is("Sony", "Bose"), price_at_least(100), price_at_most(300)],
            ),
        ],
    ),
    (
        "lower bound, best rated",
        [
            (
                "hiking boots from $150, best rated first",
                ("search_products", {"category": "hiking boots", "min_price": 150, "sort": "rating"}),
                [category("hiking boots"), price_at_least(150), rating_first],
            ),
        ],
    ),
    (
        "most to least expensive",
        [
            (
                "coffee makers from most to least expensive",
                ("search_products", {"category": "coffee makers", "sort": "price_desc"}),
                [category("coffee makers"), price_down],
            ),
        ],
    ),
    (
        "top rated",
        [
            (
                "what are the top rated smartwatches?",
                ("search_products", {"category": "smartwatches", "sort": "rating"}),
                [category("smartwatches"), rating_first],
            ),
        ],
    ),
    (
        "cheapest first with words",
        [
            (
                "waterproof jackets, cheapest first",
                ("search_products", {"query": "waterproof", "category": "jackets", "sort": "price_asc"}),
                [category("jackets"), price_up],
            ),
        ],
    ),
    (
        "an absurd budget is bounded",
        [
            (
                "headphones under $" + "9" * 400,
                ("search_products", {"category": "headphones", "max_price": "9" * 400}),
                [category("headphones"), search_bounded],
            ),
        ],
    ),
    (
        "details, compare, cart",
        [
            (
                "tents under 300",
                ("search_products", {"category": "tents", "max_price": 299.99}),
                [category("tents"), price_at_most(299.99)],
            ),
            ("tell me about the second one", ("get_product", {"product": "2"}), []),
            ("compare 1 and 3", ("compare_products", {"products": ["1", "3"]}), []),
            ("add the cheaper of those to my cart", ("add_to_cart", _id_of(2, cheapest)), [cart_total_is_exact]),
            ("make it two", ("add_to_cart", _id_of(2, cheapest)), [cart_total_is_exact]),
            ("add number 2", ("add_to_cart", {"product": "2"}), [cart_total_is_exact]),
            (
                lambda typed: f"remove one {cheapest(typed.said[2].products)['name']}",
                ("remove_from_cart", lambda c: {**_id_of(2, cheapest)(c), "quantity": 1}),
                [cart_total_is_exact],
            ),
            ("show my cart", ("view_cart", {}), [cart_total_is_exact]),
        ],
    ),
]


@pytest.mark.parametrize("steps", [steps for _, steps in PARITY], ids=[name for name, _ in PARITY])
def test_the_tools_answer_like_the_catalog_assistant(assistant, steps):
    typed, tools = Conversation(assistant), ToolConversation()
    for message, (name, arguments), checks in steps:
        message = message(typed) if callable(message) else message
        said = typed.send(message)
        got = tools.call(name, arguments(tools) if callable(arguments) else arguments)
        assert got.ids == said.ids, f"{message!r}: tools {got.ids} != catalog assistant {said.ids}"
        assert tools.state().cart == typed.state().cart, f"{message!r}: carts differ"
        for check in checks:
            check(tools)


def test_a_tool_budget_is_finite_and_bounded():
    tools = ToolConversation()
    tools.call("search_products", {"category": "tents", "max_price": "1e400", "min_price": "-5"})
    filters = tools.state().filters
    assert math.isfinite(filters["max_price"]) and 0 <= filters["min_price"] <= filters["max_price"] <= MAX_AMOUNT
