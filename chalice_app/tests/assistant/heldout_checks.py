"""Checks shared by the held-out and development sets (on top of quality_cases' checks)."""

from typing import Any, Callable

from tests.assistant.quality_cases import Check, _last


def attr(key: str, accepted: Callable[[Any], bool], description: str) -> Check:
    """Every product shown has the attribute and it is accepted (at least one product)."""

    def check(conversation):
        products = _last(conversation).products
        assert products, f"expected products {description}, got none: {_last(conversation).content!r}"
        bad = [(item["name"], item["attributes"].get(key)) for item in products if not _ok(accepted, item, key)]
        assert not bad, f"not {description}: {bad}"

    check.__name__ = f"attr({description})"
    return check


def _ok(accepted, item, key) -> bool:
    value = item["attributes"].get(key)
    try:
        return value is not None and bool(accepted(value))
    except TypeError:
        return False


def at_least(key: str, value: float) -> Check:
    return attr(key, lambda got: float(got) >= value, f"{key} >= {value}")


def at_most(key: str, value: float) -> Check:
    return attr(key, lambda got: float(got) <= value, f"{key} <= {value}")


def near(key: str, value: float, slack: float) -> Check:
    return attr(key, lambda got: abs(float(got) - value) <= slack, f"{key} ~ {value}")


def no_price_bound(conversation) -> None:
    filters = conversation.state().filters or {}
    bounds = (filters.get("min_price"), filters.get("max_price"))
    assert bounds == (None, None), f"a unit was read as a price: {bounds}"


def extreme_of_step(step: int, key: str, highest: bool) -> Check:
    """The reply is about a product of step ``step`` with the extreme value of ``key`` (any of a tie)."""

    def check(conversation):
        shown = [item for item in conversation.said[step].products if item["attributes"].get(key) is not None]
        assert shown, f"step {step} showed nothing with {key}"
        best = (max if highest else min)(float(item["attributes"][key]) for item in shown)
        allowed = {item["id"]: item["name"] for item in shown if float(item["attributes"][key]) == best}
        reply = _last(conversation)
        named = [pid for pid, name in allowed.items() if name in reply.content]
        assert named, f"reply names none of {sorted(allowed.values())}: {reply.content!r}"
        assert not reply.ids or reply.ids[0] in allowed, f"first product {reply.ids[:1]} not in {sorted(allowed)}"

    check.__name__ = f"extreme_of_step({step}, {key}, {'max' if highest else 'min'})"
    return check


def only_shown_from(step: int) -> Check:
    """No new search: whatever the reply shows was shown at step ``step``."""

    def check(conversation):
        earlier = set(conversation.said[step].ids)
        extra = set(_last(conversation).ids) - earlier
        assert not extra, f"new products {extra}: {_last(conversation).content!r}"
        recorded = (conversation.state().last_turn or {}).get("outcome")
        assert recorded not in ("search", "refine", "not_carried", "more"), f"outcome {recorded!r}"

    check.__name__ = f"only_shown_from({step})"
    return check


def not_outcome(*kinds: str) -> Check:
    def check(conversation):
        recorded = (conversation.state().last_turn or {}).get("outcome")
        assert recorded not in kinds, f"outcome {recorded!r}: {_last(conversation).content!r}"

    check.__name__ = f"not_outcome({kinds})"
    return check


def outcome_in(*kinds: str) -> Check:
    def check(conversation):
        recorded = (conversation.state().last_turn or {}).get("outcome")
        assert recorded in kinds, f"outcome {recorded!r} not in {kinds}: {_last(conversation).content!r}"

    check.__name__ = f"outcome_in({kinds})"
    return check


def brand_not_shown_at(step: int) -> Check:
    def check(conversation):
        brands = {item["brand"] for item in conversation.said[step].products}
        products = _last(conversation).products
        assert products, "expected products"
        bad = [item["brand"] for item in products if item["brand"] in brands]
        assert not bad, f"brands shown before: {bad}"

    check.__name__ = f"brand_not_shown_at({step})"
    return check


def lines_of(conversation) -> int:
    return len(conversation.state().cart)
