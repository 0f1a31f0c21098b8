"""The reply to "compare them": each product's line, what differs, and a verdict."""

from typing import Dict, List, Sequence

from chalicelib.assistant.catalog.replies import Product, _as_lines, _attribute, money, product_line

__all__ = ["compare_lines"]


def compare_lines(items: Sequence[Product], positions: Dict[str, int]) -> List[str]:
    lines = [f"Comparing {len(items)} {items[0]['category'] if _same_category(items) else 'products'}:"]
    lines += [
        product_line(f"#{positions[item['id']]}" if item["id"] in positions else "\u2022", item) for item in items
    ]
    differences = _differences(items)
    if differences:
        lines.append("They differ in " + "; ".join(differences) + ".")
    lines.append(_verdict(items))
    return _as_lines(lines)


def _same_category(items: Sequence[Product]) -> bool:
    return len({item["category"] for item in items}) == 1


def _differences(items: Sequence[Product]) -> List[str]:
    """Attributes whose values differ, as "cushioning max vs moderate" (same category only)."""
    if not _same_category(items):
        return []
    found = []
    for key in items[0]["attributes"]:
        values = [item["attributes"].get(key) for item in items]
        if len({str(value) for value in values}) > 1:
            found.append(
                _attribute(key, values[0]).split(":")[0].lower()
                + " "
                + " vs ".join(_attribute(key, value).split(": ", 1)[1] for value in values)
            )
    return found[:4]


def _verdict(items: Sequence[Product]) -> str:
    cheapest = min(items, key=lambda item: item["price"])
    best = max(items, key=lambda item: (item["rating"], item["review_count"]))
    if cheapest is best:
        return f"The {best['name']} is both the cheapest and the best rated: the easy pick."
    return (
        f"Cheapest: {cheapest['name']} ({money(cheapest['price'])}). "
        f"Best rated: {best['name']} (\u2605 {best['rating']:.1f}). "
        f"If price matters most take the {cheapest['name']}; for the best reviews, the {best['name']}."
    )
