"""The phrases of cart requests, over folded text: the verbs that put in, take out and clear,
the words for the cart itself ("my bag", "basket") and questions about its total.

Re-exported by ``phrases``, where the rest of the vocabulary lives.
"""

from chalicelib.assistant.catalog.wording import words

__all__ = ["ADD", "CART", "CART_QUESTION", "CLEAR", "CLEAR_ALONE", "EVERYTHING", "REMOVE"]

CART = words(
    r"cart", r"basket", r"checkout", r"check out", r"trolley", r"(?:my|the) (?:bag|shopping bag|order)", r"my list"
)
CART_QUESTION = words(
    r"how much (?:is|for) (?:everything|it all|all of it|all that)",
    r"(?:my|the|order) total",
    r"how many (?:items|things|products)(?: do i have| are there)?",
    r"what did i (?:add|pick|buy|choose)",
    r"how much do i owe",
    r"how much (?:is|does) (?:it|everything|that) (?:all )?(?:come to|cost)",
    r"what'?s my total",
    r"total so far",
    r"how much am i (?:spending|paying|in for)",
    r"what am i (?:spending|paying)(?: in total)?",
    r"what'?s the (?:damage|bill|total)",
    r"how much (?:will|would|do) i (?:pay|spend|owe)",
    r"what (?:does|will) (?:it|that|everything) (?:all )?come to",
    r"(?:grand|running) total",
    r"what(?:'?s| is) in my (?:cart|basket|bag)",
)
# With a cart to clear, these alone mean the cart: "clear it all", "empty it".
CLEAR_ALONE = words(r"it", r"all", r"everything", r"please", r"them", r"out", r"the lot", r"ok", r"just")
CLEAR = words(r"clear", r"empty", r"reset", r"remove everything", r"remove all", r"delete everything", r"start over")
# The whole cart as the object of a take-out verb: "get rid of everything", "ditch the lot".
EVERYTHING = words(r"everything", r"it all", r"all of (?:it|them)", r"the lot", r"the whole (?:lot|thing)", r"all")
REMOVE = words(
    r"remove",
    r"delete",
    r"take (?:the |that |this |it |them )?\w* ?(?:out|off|away)",
    r"lose",
    r"scrap",
    r"bin",
    r"take out",
    r"take off",
    r"get rid of",
    r"drop",
    r"don'?t want",
    r"take (?:the |that |this |it |them |one |\w+ ){0,4}(?:out|off)",
    r"no longer want",
    r"ditch",
)
ADD = words(
    r"give me",
    r"let me (?:have|get)",
    r"add",
    r"put",
    r"throw",
    r"i'?ll take",
    r"i'?ll go (?:with|for)",
    r"go with",
    r"goes? (?:in|into)",
    r"i (?:choose|pick)",
    r"i'?ll buy",
    r"take (?:it|that one|this one|both|them)",
    r"i will take",
    r"i'?ll get",
    r"buy",
    r"purchase",
    r"order",
    r"get me",
    r"grab",
    r"i'?ll have",
    r"pop",
    r"stick",
    r"chuck",
    r"toss",
    r"bung",
    r"slap",
    r"i'?ll (?:grab|take|get|buy|have|order)",
    r"i'?d (?:take|buy|get)",
    r"(?:put|pop|stick|chuck|toss|throw) (?:it|that|this|them|the \w+(?: \w+)?) in",
    r"i want (?:the|that|this|it)",
    r"i'?d like (?:the|that|this|it)",
)
