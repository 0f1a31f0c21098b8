"""The catalog assistant: understands the message, runs the catalog tools, answers.

Embedded and instant (no model, no network), so it is the default backend. Each
turn (``assistant.turn.run`` loads and saves the session): classify the message,
act on it through ``assistant.tools``, stream the reply line by line, then yield
the Reply (``content`` is exactly the streamed lines joined).
"""

from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple

from chalicelib import catalog
from chalicelib.assistant import tools
from chalicelib.assistant.base import AssistantEvent, Delta, Reply
from chalicelib.assistant.catalog import comparatives, comparison_replies, meta, replies
from chalicelib.assistant.catalog.intents import Intent, Kind, classify
from chalicelib.assistant.catalog.requests import banded, changes_anything, refined, request_from, stated
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
    outcome: Optional[str] = None  # what the turn was, for the session (default: the intent's kind)
    group: Optional[List[str]] = None  # the products now in play ("those", "both"), when this turn sets them
    suggested: Tuple[str, ...] = ()  # categories offered instead of something the shop does not carry


def _ask(text: str) -> Answer:
    """One short question instead of a guess."""
    return Answer([text], outcome=Kind.CLARIFY)


class CatalogAssistant:
    def __init__(self) -> None:
        self._handlers: Dict[str, Callable[[Intent, SessionState], Answer]] = {
            Kind.GREETING: lambda intent, state: Answer(replies.fill(replies.GREETING)),
            Kind.HELP: lambda intent, state: Answer(replies.fill(replies.HELP)),
            Kind.THANKS: lambda intent, state: Answer(list(replies.THANKS)),
            Kind.CLARIFY: self._clarify,
            Kind.NOT_CARRIED: self._not_carried,
            Kind.CART_SET: self._cart_set,
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
            Kind.RESET: lambda intent, state: _reset(state),
            Kind.STOP: lambda intent, state: Answer(["Stopped. What would you like to do next?"]),
            Kind.IDENTITY: lambda intent, state: Answer(list(meta.IDENTITY_REPLY)),
            Kind.ANSWER: self._answer_pick,
            Kind.CART_SWAP: self._cart_swap,
        }

    def respond(self, message: str, state: SessionState) -> Iterator[AssistantEvent]:
        previous_group = (state.last_turn or {}).get("group_ids")
        intent, answer = self._answer(message, state)
        content = ""
        for line in answer.lines:
            content += line
            yield Delta(line)
        products = [catalog.public(item) for item in answer.products[: tools.MAX_RESULTS]]
        # What the turn was and what is now in play: the next message's "those" and "and the third".
        notes = {
            "outcome": answer.outcome or intent.kind,
            "action": intent.action or intent.kind,
            "group_ids": answer.group if answer.group is not None else previous_group,
            "suggested": list(answer.suggested),
            "confidence": _confidence(intent, answer),
        }
        yield Reply(content=content, products=products, notes=notes)

    def answer(self, message: str, state: SessionState) -> Answer:
        """The reply to one message, updating ``state`` (not saved here)."""
        return self._answer(message, state)[1]

    def _answer(self, message: str, state: SessionState) -> Tuple[Intent, Answer]:
        intent = classify(message, state)
        if intent.kind not in (Kind.CONFIRM, Kind.DECLINE):
            state.pending = None  # an offer not taken up at once is gone
        answer = self._handlers[intent.kind](intent, state)
        if intent.corrected and answer.outcome != Kind.CLARIFY:
            read = ", ".join(f"\u201c{wrong}\u201d as \u201c{right}\u201d" for wrong, right in intent.corrected)
            answer.lines = [f"(I read {read}.)\n"] + answer.lines
        return intent, answer

    # --- searching ---------------------------------------------------------------------

    def _search(self, intent: Intent, state: SessionState) -> Answer:
        found = intent.constraints
        text = found.text
        if intent.category or found.brands:
            # The category or brand carries the search; words no product has would only show up in the reply.
            unknown = set(catalog.unknown_words(text))
            text = " ".join(word for word in text.split() if word not in unknown)
        request = request_from(found, text, intent.category)
        return self._run(banded(request, found.band), state)

    def _refine(self, intent: Intent, state: SessionState) -> Answer:
        previous = SearchRequest.from_dict(state.filters)
        found = intent.constraints
        unknown = catalog.unknown_words(found.text)
        if unknown and len(unknown) == len(found.text.split()) and not changes_anything(intent):
            return Answer(
                [f"I don't have anything for \u201c{found.text}\u201d. "] + replies.fill(replies.UNKNOWN)[1:],
                outcome=Kind.CLARIFY,
            )
        known_text = " ".join(word for word in found.text.split() if word not in unknown)
        listed = tools.shown(state)
        request, dropped = refined(previous, intent, known_text, listed)
        request = banded(request, found.band)
        if intent.relative and listed and not catalog.search(request, limit=1).total:
            return self._nothing_further(intent.relative, listed, previous)
        result = tools.search_products(state, request)
        if not result.total and known_text and not intent.relative:
            # Words that find nothing within the current search may start a new one
            # ("noise cancelling" after running shoes).
            fresh = request_from(found, known_text)
            elsewhere = catalog.search(fresh, limit=len(catalog.products())).products
            if elsewhere and len({item["category"] for item in elsewhere}) == 1:
                # Only when the words point at one other category; "lighter" fits everything.
                return self._run(fresh, state)
        answer = self._reply_to(result, state, keep=stated(found))
        if dropped:
            answer.lines = [f"(I dropped the earlier limit of {dropped}.)\n"] + answer.lines
        return answer

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
            return Answer(
                [
                    f"That's all: I have {total} {replies.describe_request(previous.with_changes(offset=0))}."
                    if total
                    else "That's all I have for that search."
                ]
            )
        result = tools.search_products(state, request)
        return Answer(
            replies.search_lines(result, show_hint=False),
            result.products,
            group=[item["id"] for item in result.products],
        )

    def _confirm(self, intent: Intent, state: SessionState) -> Answer:
        request = SearchRequest.from_dict(state.pending)
        state.pending = None
        return self._run(request, state)

    def _decline(self, intent: Intent, state: SessionState) -> Answer:
        state.pending = None
        return Answer(list(replies.DECLINED))

    def _clarify(self, intent: Intent, state: SessionState) -> Answer:
        found = intent.constraints
        if intent.category or found.brands or found.exclude_brands:
            # What was understood stays the active search: the answer ("under 100 then") refines it.
            state.filters = SearchRequest(
                category=intent.category, brands=found.brands, exclude_brands=found.exclude_brands
            ).to_dict()
        if intent.question:
            return _ask(intent.question)
        return _ask(replies.clarify_line(intent.constraints, intent.missing, intent.suggested))

    def _not_carried(self, intent: Intent, state: SessionState) -> Answer:
        return Answer(replies.not_carried_lines(intent.missing, intent.suggested), suggested=intent.suggested)

    def _run(self, request: SearchRequest, state: SessionState) -> Answer:
        return self._reply_to(tools.search_products(state, request), state)

    def _reply_to(self, result: SearchResult, state: SessionState, keep: tuple = ()) -> Answer:
        if result.total:
            hint = len(state.history) < _HINT_TURNS
            return Answer(
                replies.search_lines(result, show_hint=hint),
                result.products,
                group=[item["id"] for item in result.products],
            )
        suggestions = catalog.relaxations(result.request, keep=keep)
        offer = suggestions[0] if suggestions else None
        state.pending = offer.request.to_dict() if offer else None
        return Answer(replies.no_match_lines(result.request, offer))

    # --- one product, or a few -------------------------------------------------------

    def _details(self, intent: Intent, state: SessionState) -> Answer:
        if not intent.products:
            return _ask(intent.reference_error or "Which product do you mean?")
        item = tools.get_product(state, intent.products[0]["id"])
        return Answer(replies.details_lines(item, state.cart.get(item["id"], 0), intent.question), [item])

    def _answer_pick(self, intent: Intent, state: SessionState) -> Answer:
        found = intent.pick
        pair = len(found.values) == 2
        state.focus_id = found.products[0]["id"]  # named first, so "add it" means it
        others = [item for item, _ in found.values if pair and item not in found.products]
        return Answer(comparatives.answer_lines(found, pair), list(found.products) + others, outcome=Kind.ANSWER)

    def _compare(self, intent: Intent, state: SessionState) -> Answer:
        if len(intent.products) < 2:
            error = intent.reference_error or (
                "Which ones should I compare? Say, for example, \u201ccompare 1 and 3\u201d."
            )
            if not state.last_result_ids and not intent.reference_error:
                error = "Search for something first, then I can compare the results."
            return _ask(error)
        items = tools.compare_products(state, [item["id"] for item in intent.products])
        state.focus_id = None
        positions = {pid: index for index, pid in enumerate(state.last_result_ids, start=1)}
        return Answer(comparison_replies.compare_lines(items, positions), items, group=[item["id"] for item in items])

    # --- the cart ------------------------------------------------------------------------

    def _cart_add(self, intent: Intent, state: SessionState) -> Answer:
        if not intent.products:
            return _ask(
                intent.reference_error
                or "Which one should I add? Say, for example, \u201cadd the second one to my cart\u201d."
            )
        added = intent.quantity or 1
        lines: List[Any] = []
        try:
            for item in intent.products[: tools.MAX_RESULTS]:
                lines.append(tools.add_to_cart(state, item["id"], added))
        except tools.ToolError as error:
            return _ask(str(error)) if not lines else Answer([str(error)])
        if len(lines) > 1:
            state.focus_id = None  # "it" no longer says which
            headline = "Added " + " and ".join(f"the {line.product['name']}" for line in lines) + " to your cart."
        elif added > 1:
            headline = f"Added {added} \u00d7 {lines[0].product['name']} to your cart."
        else:
            product = lines[0].product
            headline = f"Added the {product['name']} ({replies.money(product['price'])}) to your cart."
        return Answer(replies.cart_lines(tools.view_cart(state), headline), [line.product for line in lines])

    def _cart_set(self, intent: Intent, state: SessionState) -> Answer:
        if not intent.products or not intent.quantity:
            return _ask(intent.reference_error or "How many of which one? Say, for example, \u201cmake it 2\u201d.")
        item = intent.products[0]
        held = state.cart.get(item["id"], 0)
        try:
            if intent.quantity > held:
                tools.add_to_cart(state, item["id"], intent.quantity - held)
            elif intent.quantity < held:
                tools.remove_from_cart(state, item["id"], held - intent.quantity)
        except tools.ToolError as error:
            return Answer([str(error)])
        state.focus_id = item["id"]
        headline = f"You now have {intent.quantity} \u00d7 {item['name']} in your cart."
        return Answer(replies.cart_lines(tools.view_cart(state), headline), [item])

    def _cart_remove(self, intent: Intent, state: SessionState) -> Answer:
        if not state.cart:
            return Answer(list(replies.EMPTY_CART))
        if not intent.products:
            return _ask(
                intent.reference_error
                or "Which one should I remove? Say \u201cshow my cart\u201d "
                "and then, for example, \u201cremove the first one\u201d."
            )
        if len(intent.products) > 1:
            return _ask(
                "Which one should I remove: " + " or ".join(f"the {item['name']}" for item in intent.products) + "?"
            )
        try:
            line = tools.remove_from_cart(state, intent.products[0]["id"], intent.quantity)
        except tools.ToolError as error:
            return Answer([str(error)])
        name = line.product["name"]
        state.focus_id = line.product["id"] if line.quantity else None
        headline = f"Removed the {name}." if not line.quantity else f"Removed {intent.quantity} \u00d7 {name}."
        return Answer(replies.cart_lines(tools.view_cart(state), headline))

    def _cart_swap(self, intent: Intent, state: SessionState) -> Answer:
        if len(intent.products) != 2:
            return _ask(intent.reference_error or "Which one should I swap for which?")
        old, new = intent.products
        held, before = state.cart.get(old["id"], 0), dict(state.cart)
        try:
            tools.remove_from_cart(state, old["id"], held)
            tools.add_to_cart(state, new["id"], held)
        except tools.ToolError as error:
            state.cart = before  # both or neither
            return Answer([str(error)])
        state.focus_id = new["id"]
        headline = f"Swapped the {old['name']} for the {new['name']} ({replies.money(new['price'])})."
        return Answer(replies.cart_lines(tools.view_cart(state), headline), [new])

    def _cart_show(self, intent: Intent, state: SessionState) -> Answer:
        cart = tools.view_cart(state)
        ids = [line.product["id"] for line in cart.lines]
        if cart.lines:
            # The cart is now the list on screen: "remove the second one" means its second line.
            state.last_result_ids = ids
        return Answer(replies.cart_lines(cart, numbered=True), [line.product for line in cart.lines], group=ids or None)

    def _cart_clear(self, intent: Intent, state: SessionState) -> Answer:
        removed = tools.clear_cart(state)
        state.focus_id = None
        return Answer(
            [
                f"Done: I removed {removed} item{'s' if removed != 1 else ''}. Your cart is empty."
                if removed
                else replies.EMPTY_CART[0]
            ]
        )


# How sure a reply was chosen: a question asked is never a confident reading.
_ASKED_CONFIDENCE = 0.5


def _confidence(intent: Intent, answer: Answer) -> float:
    """The confidence the reply was chosen with, recorded per turn with its outcome."""
    asked = (answer.outcome or intent.kind) == Kind.CLARIFY
    return round(min(intent.confidence, _ASKED_CONFIDENCE) if asked else intent.confidence, 2)


def _reset(state: SessionState) -> Answer:
    """A fresh conversation: the cart, the search and what was shown are cleared, and the reply says so."""
    removed = sum(state.cart.values())
    state.cart, state.filters, state.last_result_ids = {}, None, []
    state.focus_id = state.pending = None
    cart = f"emptied your cart ({removed} item{'s' if removed != 1 else ''}) and " if removed else ""
    return Answer(
        [f"Fresh start: I {cart}cleared our conversation. What are you shopping for?"], outcome=Kind.RESET, group=[]
    )
