"""The intents the catalog assistant tells apart, and what one carries."""

from dataclasses import dataclass, field
from typing import Any, Dict, Optional, Tuple

from chalicelib.assistant.catalog import meta
from chalicelib.assistant.catalog.parsing import Constraints

__all__ = ["CONTINUED", "Intent", "Kind"]

Product = Dict[str, Any]


class Kind:
    GREETING = "greeting"
    HELP = "help"
    THANKS = "thanks"
    CONFIRM = "confirm"  # "yes" to a loosened search offered after a no-match
    DECLINE = "decline"
    SEARCH = "search"  # a new search
    REFINE = "refine"  # change the active search: "cheaper ones", "only Nike"
    MORE = "more"  # the next page of the active search
    DETAILS = "details"
    COMPARE = "compare"
    CART_ADD = "cart_add"
    CART_SET = "cart_set"  # "make it two": set the quantity of the product in question
    CART_REMOVE = "cart_remove"
    CART_SHOW = "cart_show"
    CART_CLEAR = "cart_clear"
    CART_SWAP = "cart_swap"  # "swap the mat for the cheaper one"
    NOT_CARRIED = "not_carried"  # something the shop does not sell
    CLARIFY = "clarify"  # ask one short question instead of guessing
    RESET = meta.RESET  # "start again", "new chat": a fresh conversation (cart and context cleared)
    STOP = meta.STOP  # "stop" typed alone: never a search
    IDENTITY = meta.IDENTITY  # "who am I talking to?"
    ANSWER = "answer"  # a question answered from the products in play ("which is the lightest?")


# Actions a bare reference continues: after "add the first one", "and the third" adds the third.
CONTINUED = (Kind.CART_ADD, Kind.CART_REMOVE, Kind.DETAILS, Kind.COMPARE)


@dataclass(frozen=True)
class Intent:
    kind: str
    products: Tuple[Product, ...] = ()  # the products the message refers to, resolved
    reference_error: Optional[str] = None  # why a reference could not be resolved ("I only showed 3")
    quantity: Optional[int] = None
    constraints: Constraints = field(default_factory=Constraints)
    category: Optional[str] = None
    relative: Optional[str] = None  # "cheaper" | "pricier" | "better_rated"
    widen: Tuple[str, ...] = ()  # constraints to drop: "brand", "price"
    add_brands: bool = False  # "also Adidas": add to the brands instead of replacing them
    question: str = ""  # a question about the product ("is it waterproof"), answered first
    action: Optional[str] = None  # CLARIFY: the action waiting for an answer ("cart_remove")
    missing: str = ""  # NOT_CARRIED: what the shop does not carry ("mountain bikes")
    suggested: Tuple[str, ...] = ()  # NOT_CARRIED: the nearest categories
    corrected: Tuple[Tuple[str, str], ...] = ()  # typos corrected: ("backpak", "backpack")
    pick: Optional[Any] = None  # ANSWER: the comparatives.Pick that answers it
    confidence: float = 1.0  # how sure the reading is; a low one asks instead of acting
