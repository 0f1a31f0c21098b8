"""What the model is told: the system prompt with this session's context, and the conversation.

The session's context (the products last shown, the cart) goes into the system
prompt so "the second one" and "what's in my cart" work from the first round,
without a tool call.
"""

from typing import Any, Dict, List

from chalicelib import catalog
from chalicelib.assistant import tools
from chalicelib.sessions import SessionState

__all__ = ["system_prompt", "conversation"]

_RULES = """You are the shopping assistant of an online store. You help shoppers find, compare and buy products.
Rules:
- Answer only from the store's catalog, through the tools. Never invent products, prices, ratings or stock.
- The store sells: {categories}. All prices are in USD.
- Keep answers short and plain text (no Markdown tables). Mention at most 5 products, one line each with name,
  price and rating. The page shows a card for every product your tools return, so do not repeat every detail.
- "The second one", "#2" and "number 2" mean that position in the products last shown (listed below).
- For a cart total, use the total the cart tools give; never add prices up yourself.
- If nothing matches, say so plainly and suggest loosening one thing (a higher budget, another brand).
- If the request has nothing to do with shopping in this store, say what you can help with instead."""


def system_prompt(state: SessionState) -> List[Dict[str, Any]]:
    lines = [_RULES.format(categories=", ".join(catalog.category_names())), "", "Session context:"]
    shown = tools.shown(state)
    if shown:
        lines.append("Products last shown, by position:")
        lines += [
            f"{position}. {item['id']} {item['name']} ${item['price']:.2f} rating {item['rating']:.1f}"
            for position, item in enumerate(shown, start=1)
        ]
    else:
        lines.append("No products shown yet.")
    cart = tools.view_cart(state)
    if cart.lines:
        lines.append(f"Cart ({cart.item_count} items, total ${cart.total}):")
        lines += [f"- {line.quantity} x {line.product['id']} {line.product['name']}" for line in cart.lines]
    else:
        lines.append("The cart is empty.")
    return [{"text": "\n".join(lines)}]


def conversation(state: SessionState, message: str) -> List[Dict[str, Any]]:
    """Earlier turns (text only: their tool calls are summed up in the context) and this message."""
    messages: List[Dict[str, Any]] = []
    for turn in state.history:
        user, answer = str(turn.get("user") or "").strip(), str(turn.get("assistant") or "").strip()
        if user and answer:  # Converse wants user/assistant alternating and no empty text
            messages.append({"role": "user", "content": [{"text": user}]})
            messages.append({"role": "assistant", "content": [{"text": answer}]})
    messages.append({"role": "user", "content": [{"text": message}]})
    return messages
