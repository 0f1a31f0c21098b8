"""Messages about the conversation itself, not products: start again, stop, who is this, and
whether an unknown phrase reads as a kind of product at all (only then "we don't carry it").

Rules as a table of (pattern over the whole folded message, what it is); the first that matches
the whole message wins, so "stop" alone is a command and "stop watches" is not.
"""

import re
from typing import Optional, Sequence

__all__ = ["IDENTITY", "IDENTITY_REPLY", "RESET", "STOP", "command", "reads_as_item"]

RESET = "reset"
STOP = "stop"
IDENTITY = "identity"

IDENTITY_REPLY = (
    "I'm the shop's catalog assistant, a program (not a person). I find products, answer questions about "
    "them, compare them and keep your cart. What are you shopping for?",
)

_PLEASE = r"(?: please| now| thanks| then| ok)*"
_RULES = (
    (
        RESET,
        r"(?:(?:ok |okay |can we |let'?s |i want to |please |i'?d like to )*"
        r"(?:start|begin) (?:again|over|afresh|from scratch)"
        r"|(?:start |begin |open )?(?:a )?(?:new|fresh|clean) (?:chat|conversation|session|start|search)"
        r"|restart|reset(?: (?:everything|the chat|the conversation|it all))?|clear (?:everything|it all) and start"
        r"|forget everything)" + _PLEASE,
    ),
    (STOP, r"(?:stop|stop it|stop that|halt|cancel|cancel that|enough|shush|quiet)" + _PLEASE),
    (
        IDENTITY,
        r"(?:who (?:am i talking|am i speaking|am i chatting) (?:to|with)|who (?:are|r) (?:you|u)|what are you"
        r"|are you (?:a |an )?(?:real )?(?:person|human|bot|robot|ai|machine)|is this (?:a )?(?:bot|human|person|ai)"
        r"|what'?s your name|what is your name|who is this)" + _PLEASE,
    ),
)
_COMPILED = tuple((kind, re.compile(r"^(?:hi |hey |hello |so |um |uh |and )*" + rule + r"$")) for kind, rule in _RULES)


def command(text: str) -> Optional[str]:
    """RESET, STOP or IDENTITY when the whole (folded, punctuation-free) message is one."""
    return next((kind for kind, pattern in _COMPILED if pattern.match(text)), None)


# Evidence that an unknown phrase names a thing: a determiner or a buying verb just before it.
_ITEM_BEFORE = re.compile(
    r"\b(?:a|an|some|any|another|few|several|(?:have|sell|carry|stock|want|need|buy|find|get|got|recommend|"
    r"selling|offer|for|looking for|after|show me)(?: you)?)\s+(?:\w+\s+){0,2}$"
)
# Evidence against: a verb's company ("can go", "to ignore"), comparatives and superlatives,
# question words, and a message that starts with a command verb.
_VERB_BEFORE = re.compile(r"\b(?:can|could|will|would|should|must|to|i|we|you|please|don'?t|do|let'?s)\s+$")
_NOT_NOUN = re.compile(r"^(?:\w+(?:est|ier|ly)|what|which|who|why|how|when|where|more|less|most|least|than)$")
_COMMAND_START = re.compile(
    r"^(?:ignore|forget|start|stop|go|tell|explain|make|let|keep|try|sort|order|swap|switch|change|pop|stick|"
    r"chuck|throw|grab|drop|clear|open|close|cancel|reset|restart|remove|put|move|give|go|lower|raise|increase|"
    r"decrease|skip|undo|repeat|say|speak|talk|list|send)\b"
)


# Nouns for "products" in general: what a shopper asks about the shop, never a product it lacks.
_GENERIC = frozenset(
    [
        "kind",
        "kinds",
        "type",
        "types",
        "sort",
        "sorts",
        "thing",
        "things",
        "stuff",
        "product",
        "products",
        "item",
        "items",
        "option",
        "options",
        "range",
        "categories",
        "category",
        "brands",
        "selection",
        "goods",
    ]
)


def reads_as_item(text: str, phrase: str, words: Sequence[str]) -> bool:
    """Does ``phrase`` (the message's unknown head words ``words``) read as a kind of product?

    Yes with a determiner or buying verb before it ("a blender", "do you sell kayaks"), or as a
    plural or several-word noun phrase; never when a word is a comparative, a question word or
    follows a modal ("can go"), nor in a message that starts with a command verb."""
    if not words or any(_NOT_NOUN.match(word) for word in words) or words[-1] in _GENERIC:
        return False
    at = text.find(words[0])
    before = text[:at] if at >= 0 else ""
    if _ITEM_BEFORE.search(before):
        return True
    if _VERB_BEFORE.search(before) or _COMMAND_START.match(text):
        return False
    last = words[-1]
    plural = len(last) > 3 and last.endswith("s") and not last.endswith(("ss", "us", "is"))
    return plural or len(words) >= 2
