"""The catalog assistant: understands the message, runs the catalog tools, answers.

Embedded and instant (no model, no network), so it is the default backend. Each
turn (``assistant.turn.run`` loads and saves the session): classify the message,
act on it through ``assistant.tools``, stream the reply line by line, then yield
the Reply (``content`` is exactly the streamed lines joined).
"""

from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Iterator, List

from chalicelib import catalog
from chalicelib.assistant import tools
from chalicelib.assistant.base import AssistantEvent, Delta, Reply
from chalicelib.assistant.catalog import replies
from chalicelib.assistant.catalog.intents import Intent, Kind, classify
from chalicelib.catalog import SearchRequest, SearchResult
from chalicelib.sessions import SessionState

__all__ = ["CatalogAssistant", "Answer"]

Product = Dict[str, Any]

# Below this many turns the search reply ends with a hint of what to say next.
_HINT_TURNS = 2


@dataclass
class Answer:
    lines: List[str]
    products: List[Product] = field(default_factory=list)


class CatalogAssistant:
    def __init__(self) -> None:
        self._handlers: Dict[str, Callable[[Intent, SessionState], Answer]] = {
            Kind.GREETING: lambda intent, state: Answer(replies.fill(replies.GREETING)),
            Kind.HELP: lambda intent, state: Answer(replies.fill(replies.HELP)),
            Kind.THANKS: lambda intent, state: Answer(list(replies.THANKS)),
            Kind.UNKNOWN: self._unknown,
            Kind.DECLINE: self._decline,
            Kind.CONFIRM: self._confirm,
            Kind.SEARCH: self._search,
            Kind.REFINE: self._refine,
            Kind.MORE: self._more,
            Kind.DETAILS: self._details,
            Kind.COMPARE: self._compare,
            Kind.CART_ADD: self._cart_add,
            Kind.CART_REMOVE: self._cart_remove,
            Kind.CART_SHOW: self._cart_show,
            Kind.CART_CLEAR: self._cart_clear,
        }

    def respond(self, message: str, state: SessionState) -> Iterator[AssistantEvent]:
        answer = self.answer(message, state)
        content = ""
        for line in answer.lines:
            content += line
            yield Delta(line)
        products = [catalog.public(item) for item in answer.products[: tools.MAX_RESULTS]]
        yield Reply(content=content, products=products)

    def answer(self, message: str, state: SessionState) -> Answer:
        """The reply to one message, updating ``state`` (not saved here)."""
        intent = classify(message, state)
        if intent.kind not in (Kind.CONFIRM, Kind.DECLINE):
            state.pending = None  # an offer not taken up at once is gone
        return self._handlers[intent.kind](intent, state)

    # --- searching ---------------------------------------------------------------------

    def _search(self, intent: Intent, state: SessionState) -> Answer:
        found = intent.constraints
        text = found.text
        if intent.category or found.brands:
            # The category or brand carries the search; words no product has would only show up in the reply.
            unknown = set(catalog.unknown_words(text))
            text = " ".join(word for word in text.split() if word not in unknown)
        request = SearchRequest(
            text=text,
            category=intent.category,
            brands=found.brands,
            exclude_brands=found.exclude_brands,
            min_price=found.min_price,
            max_price=found.max_price,
            min_rating=found.min_rating,
            sort=found.sort or "relevance",
        )
        return self._run(request, state)

    def _refine(self, intent: Intent, state: SessionState) -> Answer:
        previous = SearchRequest.from_dict(state.filters)
        found = intent.constraints
        unknown = catalog.unknown_words(found.text)
        if unknown and len(unknown) == len(found.text.split()) and not _changes_anything(intent):
            return Answer([f"I don't have anything for \u201c{found.text}\u201d. "]
                          + replies.fill(replies.UNKNOWN)[1:])
        known_text = " ".join(word for word in found.text.split() if word not in unknown)
        listed = tools.shown(state)
        request = _refined(previous, intent, known_text, listed)
        if intent.relative and listed and not catalog.search(request, limit=1).total:
            return self._nothing_further(intent.relative, listed, previous)
        result = tools.search_products(state, request)
        if not result.total and known_text and not intent.relative:
            # Words that find nothing within the current search may start a new one
            # ("noise cancelling" after running shoes).
            fresh = SearchRequest(text=known_text, brands=found.brands, exclude_brands=found.exclude_brands,
                                  min_price=found.min_price, max_price=found.max_price,
                                  min_rating=found.min_rating, sort=found.sort or "relevance")
            if catalog.search(fresh, limit=1).total:
                return self._run(fresh, state)
        return self._reply_to(result, state, keep=_stated(found))

    @staticmethod
    def _nothing_further(kind: str, listed: List[Product], previous: SearchRequest) -> Answer:
        what = replies.describe_request(previous.with_changes(offset=0))
        if kind == "cheaper":
            cheapest = min(listed, key=lambda item: item["price"])
            text = f"Nothing is cheaper than the {cheapest['name']} ({replies.money(cheapest['price'])}) among {what}."
        elif kind == "pricier":
            dearest = max(listed, key=lambda item: item["price"])
            text = f"The {dearest['name']} ({replies.money(dearest['price'])}) is already the most expensive of {what}."
        else:
            best = max(listed, key=lambda item: item["rating"])
            text = f"The {best['name']} (\u2605 {best['rating']:.1f}) is already the best rated of {what}."
        return Answer([text + " Want to change something else, like the brand or the budget?"])

    def _more(self, intent: Intent, state: SessionState) -> Answer:
        previous = SearchRequest.from_dict(state.filters)
        request = previous.with_changes(offset=previous.offset + tools.MAX_RESULTS)
        result = catalog.search(request, limit=tools.MAX_RESULTS)
        if not result.products:
            total = result.total
            return Answer([f"That's all: I have {total} {replies.describe_request(previous.with_changes(offset=0))}."
                           if total else "That's all I have for that search."])
        result = tools.search_products(state, request)
        return Answer(replies.search_lines(result, show_hint=False), result.products)

    def _confirm(self, intent: Intent, state: SessionState) -> Answer:
        request = SearchRequest.from_dict(state.pending)
        state.pending = None
        return self._run(request, state)

    def _decline(self, intent: Intent, state: SessionState) -> Answer:
        state.pending = None
        return Answer(list(replies.DECLINED))

    def _unknown(self, intent: Intent, state: SessionState) -> Answer:
        return Answer(replies.fill(replies.UNKNOWN))

    def _run(self, request: SearchRequest, state: SessionState) -> Answer:
        return self._reply_to(tools.search_products(state, request), state)

    def _reply_to(self, result: SearchResult, state: SessionState, keep: tuple = ()) -> Answer:
        if result.total:
            hint = len(state.history) < _HINT_TURNS
            return Answer(replies.search_lines(result, show_hint=hint), result.products)
        suggestions = catalog.relaxations(result.request, keep=keep)
        offer = suggestions[0] if suggestions else None
        state.pending = offer.request.to_dict() if offer else None
        return Answer(replies.no_match_lines(result.request, offer))

    # --- one product, or a few -------------------------------------------------------

    def _details(self, intent: Intent, state: SessionState) -> Answer:
        if not intent.products:
            return Answer([intent.reference_error or "Which product do you mean?"])
        item = tools.get_product(state, intent.products[0]["id"])
        return Answer(replies.details_lines(item, state.cart.get(item["id"], 0), intent.question), [item])

    def _compare(self, intent: Intent, state: SessionState) -> Answer:
        if len(intent.products) < 2:
            error = intent.reference_error or "Tell me which ones to compare, for example \u201ccompare 1 and 3\u201d."
            if not state.last_result_ids and not intent.reference_error:
                error = "Search for something first, then I can compare the results."
            return Answer([error])
        items = tools.compare_products(state, [item["id"] for item in intent.products])
        positions = {pid: index for index, pid in enumerate(state.last_result_ids, start=1)}
        return Answer(replies.compare_lines(items, positions), items)

    # --- the cart ------------------------------------------------------------------------

    def _cart_add(self, intent: Intent, state: SessionState) -> Answer:
        if not intent.products:
            return Answer([intent.reference_error or "Which one should I add? Say, for example, "
                           "\u201cadd the second one to my cart\u201d."])
        try:
            line = tools.add_to_cart(state, intent.products[0]["id"], intent.quantity or 1)
        except tools.ToolError as error:
            return Answer([str(error)])
        added = intent.quantity or 1
        headline = f"Added {added} \u00d7 {line.product['name']} to your cart." if added > 1 else \
            f"Added the {line.product['name']} ({replies.money(line.product['price'])}) to your cart."
        return Answer(replies.cart_lines(tools.view_cart(state), headline), [line.product])

    def _cart_remove(self, intent: Intent, state: SessionState) -> Answer:
        if not state.cart:
            return Answer(list(replies.EMPTY_CART))
        if not intent.products:
            return Answer([intent.reference_error or "Which one should I remove? Say \u201cshow my cart\u201d "
                           "and then, for example, \u201cremove the first one\u201d."])
        try:
            line = tools.remove_from_cart(state, intent.products[0]["id"], intent.quantity)
        except tools.ToolError as error:
            return Answer([str(error)])
        name = line.product["name"]
        headline = f"Removed the {name}." if not line.quantity else f"Removed {intent.quantity} \u00d7 {name}."
        return Answer(replies.cart_lines(tools.view_cart(state), headline))

    def _cart_show(self, intent: Intent, state: SessionState) -> Answer:
        cart = tools.view_cart(state)
        if cart.lines:
            # The cart is now the list on screen: "remove the second one" means its second line.
            state.last_result_ids = [line.product["id"] for line in cart.lines]
        return Answer(replies.cart_lines(cart, numbered=True), [line.product for line in cart.lines])

    def _cart_clear(self, intent: Intent, state: SessionState) -> Answer:
        removed = tools.clear_cart(state)
        return Answer([f"Done: I removed {removed} item{'s' if removed != 1 else ''}. Your cart is empty."
                       if removed else replies.EMPTY_CART[0]])


def _stated(found: Any) -> tuple:
    """The constraints the shopper just stated: a no-match must not suggest undoing them."""
    stated = []
    if found.brands:
        stated.append("brands")
    if found.exclude_brands:
        stated.append("exclude_brands")
    if found.has_price:
        stated += ["min_price", "max_price"]
    if found.min_rating is not None:
        stated.append("min_rating")
    return tuple(stated)


def _refined(previous: SearchRequest, intent: Intent, known_text: str, listed: List[Product]) -> SearchRequest:
    """The active search changed by a follow-up: what it states replaces, its words add."""
    found = intent.constraints
    changes: Dict[str, Any] = {"offset": 0}
    if known_text:
        changes["text"] = " ".join(dict.fromkeys((previous.text + " " + known_text).split()))
    if "brand" in intent.widen:
        changes.update(brands=(), exclude_brands=())
    if found.brands:
        brands = previous.brands + found.brands if intent.add_brands else found.brands
        changes["brands"] = tuple(dict.fromkeys(brands))
        changes["exclude_brands"] = tuple(brand for brand in previous.exclude_brands if brand not in found.brands)
    if found.exclude_brands:
        changes["exclude_brands"] = tuple(dict.fromkeys(previous.exclude_brands + found.exclude_brands))
        kept = changes.get("brands", previous.brands)
        changes["brands"] = tuple(brand for brand in kept if brand not in found.exclude_brands)
    if "price" in intent.widen:
        changes.update(min_price=None, max_price=None)
    for name in ("min_price", "max_price", "min_rating", "sort"):
        if getattr(found, name) is not None:
            changes[name] = getattr(found, name)
    if intent.relative and not found.has_price and listed:
        changes.update(_relative_bounds(intent.relative, listed))
    return previous.with_changes(**changes)


def _relative_bounds(kind: str, listed: List[Product]) -> Dict[str, Any]:
    """"cheaper ones": cheaper than everything just shown; "better rated": better than the worst shown."""
    if kind == "cheaper":
        return {"max_price": round(min(item["price"] for item in listed) - 0.01, 2)}
    if kind == "pricier":
        return {"min_price": round(max(item["price"] for item in listed) + 0.01, 2), "max_price": None}
    return {"min_rating": min(5.0, round(min(item["rating"] for item in listed) + 0.1, 1)), "sort": "rating"}


def _changes_anything(intent: Intent) -> bool:
    """Does a follow-up change the search other than by its words?"""
    found = intent.constraints
    return bool(found.brands or found.exclude_brands or found.has_price or found.min_rating is not None
                or found.sort or intent.relative or intent.widen)
