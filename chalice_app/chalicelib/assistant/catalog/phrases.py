"""The phrases the catalog assistant listens for, as compiled patterns over folded text.

Kept apart from the logic that uses them (intents, references) so the vocabulary
can grow in one place.
"""

import re
from typing import List, Tuple

from chalicelib.assistant.catalog.cart_phrases import ADD, CART, CART_QUESTION, CLEAR, CLEAR_ALONE, EVERYTHING, REMOVE
from chalicelib.assistant.catalog.wording import words

__all__ = [
    "ADD",
    "ALL",
    "ALSO",
    "ASKING",
    "ANOTHER",
    "COUNTED",
    "EVERYTHING",
    "ANY_BRAND",
    "ANY_PRICE",
    "BARE_DIGIT",
    "BETTER_RATED",
    "CART",
    "CART_QUESTION",
    "CHEAPER",
    "CLEAR",
    "CLEAR_ALONE",
    "COMPARE",
    "DETAILS",
    "DETAILS_WEAK",
    "FILLER",
    "GREETING",
    "HELP",
    "MORE",
    "NO",
    "NUMBERED",
    "NUMBER_WORDS",
    "OTHER",
    "ORDINAL",
    "ORDINALS",
    "PRICIER",
    "PRODUCT_ID",
    "PRONOUN",
    "QUANTITY",
    "QUESTION",
    "REMOVE",
    "SELECTORS",
    "SET_QUANTITY",
    "THANKS",
    "WANTING",
    "YES",
    "only",
    "selectors_in",
    "words",
]


GREETING = words(
    r"hi+",
    r"hello+",
    r"hey+",
    r"hiya",
    r"howdy",
    r"yo",
    r"greetings",
    r"good (?:morning|afternoon|evening)",
    r"hi there",
    r"hello there",
    r"hey there",
)
FILLER = words(r"there", r"assistant", r"bot", r"friend", r"again", r"everyone", r"all")
THANKS = words(
    r"thanks?(?: you)?(?: so much| a lot)?",
    r"thx",
    r"ty",
    r"cheers",
    r"appreciate it",
    r"perfect",
    r"great",
    r"awesome",
    r"cool",
    r"ok thanks",
    r"that'?s all",
    r"that is all",
    r"that'?s (?:everything|it)(?: for (?:now|today))?",
    r"that (?:will|'?ll) be all",
    r"i'?m (?:done|all set|good)(?: for (?:now|today))?",
    r"all set",
    r"ok(?:ay)?",
    r"alright",
    r"bye",
    r"goodbye",
)
HELP = words(
    r"help",
    r"what can you do",
    r"how does this work",
    r"what do you (?:sell|have|offer|carry)",
    r"what (?:kinds?|sorts?|types?) of (?:things|stuff|products|items|goods) do you (?:sell|have|offer|carry|stock)",
    r"what (?:can|should) i (?:ask|say|type)",
    r"commands",
    r"options",
    r"how do i use",
)
YES = words(
    r"y",
    r"yes",
    r"yeah",
    r"yep",
    r"yup",
    r"sure",
    r"ok",
    r"okay",
    r"please",
    r"please do",
    r"do it",
    r"go ahead",
    r"sounds good",
    r"why not",
    r"ok do it",
    r"yes please",
    r"absolutely",
    r"fine",
)
NO = words(r"n", r"no", r"nope", r"nah", r"never ?mind", r"no thanks", r"don'?t", r"forget it")
COMPARE = words(
    r"compare",
    r"comparison",
    r"vs\.?",
    r"versus",
    r"difference",
    r"differences",
    r"against",
    r"side by side",
    r"stack up",
    r"which (?:one )?(?:is|should i|would you|do you)",
    r"better choice",
)
# Strong cues take a bare number as a position ("more about 2"); weak ones need "the second", "#2"...
DETAILS = words(
    r"tell me (?:more )?about",
    r"how long",
    r"what'?s .{0,20}? like",
    r"does it have",
    r"is it",
    r"more (?:about|on|info|information|details)",
    r"details?",
    r"describe",
    r"specs?",
    r"specifications",
    r"info(?:rmation)? (?:on|about)",
    r"more on",
    r"how heavy",
    r"how much is",
)
# "is it waterproof?", "how heavy is the second one?": a question about a product already shown.
QUESTION = re.compile(r"^(?:is|are|does|do|has|have|can|will|how|what|which|whats|what's)\b|\?")
DETAILS_WEAK = words(
    r"what about", r"how about", r"what is", r"what'?s", r"show me", r"look at", r"is the", r"does the", r"open"
)
MORE = words(
    r"something else",
    r"other ones",
    r"different ones",
    r"show more",
    r"more results",
    r"more options",
    r"more please",
    r"next(?: page)?",
    r"what else",
    r"anything else",
    r"see more",
    r"any others?",
    r"other options",
    r"more like (?:this|these)",
    r"(?:a )?few more",
    r"some more",
    r"any (?:other|more) (?:options|ones|choices)",
    r"what other (?:options|ones|choices)",
    r"more of (?:them|those|these)",
    r"keep going",
    r"next (?:five|5|few)",
    r"load more",
    r"more",
)
CHEAPER = words(
    r"cheaper",
    r"less expensive",
    r"lower priced?",
    r"more affordable",
    r"lower budget",
    r"not so expensive",
    r"too expensive",
    r"too pricey",
    r"less money",
    r"less (?:pricey|costly|dear)",
    r"not (?:as|so) (?:pricey|costly|dear|expensive)",
    r"lower[- ]?cost",
    r"(?:more )?budget[- ]friendly",
)
PRICIER = words(
    r"more expensive", r"pricier", r"higher end", r"fancier", r"nicer", r"better quality", r"more premium", r"too cheap"
)
BETTER_RATED = words(r"better rated", r"higher rated", r"better reviewed", r"better reviews", r"higher ratings?")
ALSO = words(r"also", r"too", r"as well", r"or", r"and")
ANY_BRAND = words(
    r"any brand",
    r"all brands",
    r"other brands",
    r"any other brand",
    r"every brand",
    r"don'?t care about (?:the )?brand",
)
# "another brand", "a different make": the brands shown so far are not wanted.
OTHER_BRAND = words(
    r"(?:another|a different|different|other|some other|a new|new|any other) (?:brand|make|maker|manufacturer|label)s?",
    r"not (?:this|that|these|those) brands?",
)
# "anything cheaper than these?": a refinement relative to the list, not a comparison of it.
RELATIVE_ASK = words(r"anything", r"something", r"any", r"ones", r"options", r"models", r"stuff")
ANY_PRICE = words(
    r"any price",
    r"no budget",
    r"forget the budget",
    r"(?:ignore|forget|drop|remove|lose|scrap|clear|lift|never ?mind|no) (?:about )?(?:the |my |that |any )?"
    r"(?:price|budget|price limit|budget limit|limit|price cap|cap|spending limit|max(?:imum)?)(?: limit)?",
    r"(?:price|budget|money) (?:is )?(?:no (?:issue|problem|object)|doesn'?t matter)",
    r"whatever (?:it costs|the price)",
    r"price doesn'?t matter",
    r"don'?t care about (?:the )?price",
    r"money is no object",
)

ORDINALS = {
    "first": 1,
    "1st": 1,
    "second": 2,
    "2nd": 2,
    "third": 3,
    "3rd": 3,
    "fourth": 4,
    "4th": 4,
    "fifth": 5,
    "5th": 5,
}
# "last" and "top" point only in these forms: "the battery last on it", "top rated" do not.
ORDINAL = words(*ORDINALS, r"(?<=the )last(?: one)?", r"last one", r"(?<=the )top(?= one| pick| result| choice)")
# "the first two", "the top 3", "the last two": several positions at once.
COUNTED = re.compile(r"\b(?:the )?(first|top|last) (two|three|four|five|2|3|4|5)\b(?! (?:stars?|people|person|days?))")
# "another one", "one more": one more of the product in question.
ANOTHER = words(r"another(?: one)?", r"one more", r"same again", r"add (?:one|1) more", r"(?:one|1) extra")
# "make it two", "change that to 3": set the quantity of the product in question.
SET_QUANTITY = re.compile(
    r"\b(?:make (?:it|that|them|this)|change (?:it|that|the quantity)(?: to)?|"
    r"(?:set|update) (?:it|that|the quantity)(?: to)?)(?: to)? "
    r"(\d+|one|two|three|four|five|six|seven|eight|nine|ten|a couple|a pair)\b"
)
OTHER = words(r"the other(?: one)?", r"the other of (?:the two|them|those)")
NUMBERED = re.compile(r"(?:#|\b(?:number|no\.|nr\.?|option|item|product|result|pick) ?)(\d+)\b")
BARE_DIGIT = re.compile(
    r"(?<![\d.$#])\b([1-9])\b(?!\s*(?:of\b|x\b|mm|cm|kg|g\b|gb|tb|l\b|inch|in\b|\"|"
    r"hours?|days?|people|person|p\b|stars?|\+|\.\d|,\d{3}))"
)
PRONOUN = words(r"it", r"that one", r"this one", r"that", r"this", r"the one", r"that product", r"this product")
# Longest first: the alternation takes the first that matches ("all three" before "all").
ALL = words(
    r"all of them",
    r"all three",
    r"all 3",
    r"all four",
    r"all five",
    r"those two",
    r"these two",
    r"them",
    r"these",
    r"those",
    r"all",
    r"both",
    r"the results",
    r"the options",
    r"the two",
    r"the three",
)
# "the cheapest one", "the cheaper of those": a pick among the products in play, not a new sort
# ("the cheapest tents", "cheaper ones").
_PICK = (
    r"(?= (?:one|of them|of those|of these|of the (?:two|three|four|five|lot)|of both|option|pick|and|or|vs|"
    r"versus|goes|to|in|for|please|with|than|against|compared)\b|$)"
)
_WHICH = (
    r"(?:(?<=which is )|(?<=which one is )|(?<=which of those is )|(?<=which of these is )|"
    r"(?<=which of them is )|(?<=which of the two is )|(?<=the ))"
)
_SUPERLATIVES = (
    ("price_asc", r"cheapest|least expensive|lowest priced?|most affordable"),
    ("price_desc", r"most expensive|priciest|dearest"),
    ("rating", r"best rated|highest rated|top rated|best reviewed|best"),
    ("popularity", r"most popular|most reviewed|best selling|bestseller"),
    ("weight_asc", r"lightest"),
    ("weight_desc", r"heaviest"),
    ("battery_desc", r"longest battery(?: life)?|biggest battery|best battery(?: life)?|longest lasting"),
    ("size_desc", r"biggest|largest|roomiest|most spacious"),
    ("size_asc", r"smallest|most compact"),
)
_COMPARATIVES = (
    ("price_asc", r"cheaper|less expensive|more affordable"),
    ("price_desc", r"more expensive|pricier|dearer"),
    ("rating", r"better rated|higher rated|better reviewed|better"),
    ("weight_asc", r"lighter"),
    ("weight_desc", r"heavier"),
)
# A superlative picks only as "the cheapest …" or "cheapest one/of those"; "best rated" alone is a sort.
SELECTORS = tuple(
    (
        sort,
        re.compile(r"(?:(?<=the )(?:" + pattern + r")" + _PICK + r"|(?<![a-z])(?:" + pattern + r")(?= (?:one|of)\b))"),
    )
    for sort, pattern in _SUPERLATIVES
) + tuple((sort, re.compile(_WHICH + r"(?:" + pattern + r")" + _PICK)) for sort, pattern in _COMPARATIVES)
# The first word of every selector phrase: a message without any of them needs no selector search
# (the patterns start with look-behinds, so each would otherwise be tried at every position).
_SELECTOR_WORDS = frozenset(
    alternative.split()[0] for _, pattern in _SUPERLATIVES + _COMPARATIVES for alternative in pattern.split("|")
)
_FIRST_WORDS = re.compile(r"[a-z]+")


def selectors_in(text: str) -> "List[Tuple[str, re.Match[str]]]":
    """The picks a message makes ("the cheapest one", "the better rated of those"), as (sort, match)."""
    if not _SELECTOR_WORDS & set(_FIRST_WORDS.findall(text)):
        return []
    return [(sort, match) for sort, pattern in SELECTORS for match in [pattern.search(text)] if match]


PRODUCT_ID = re.compile(r"\b([a-z]{3})[\s-]?(\d{3})\b")
NUMBER_WORDS = {
    "one": 1,
    "a": 1,
    "an": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "a couple": 2,
    "a pair": 2,
    "a couple of": 2,
    "couple": 2,
    "a few": 3,
}
QUANTITY = re.compile(
    r"\b(\d+|one|two|three|four|five|six|seven|eight|nine|ten|a couple|a pair)\s*"
    r"(?:x\b|of\b|pairs?\b|units?\b|more\b|copies\b|pieces\b)"
    r"|\bx\s*(\d+)\b|\b(?:qty|quantity)\s*:?\s*(\d+)\b"
    r"|\b(?:remove|delete|drop|take out) (\d+|one|two|three|four|five)\b"
)


# A question about the shop rather than a request for a product: "what's your return policy?"
ASKING = re.compile(r"^(?:what|whats|how|when|where|why|who|is|are|can|could|will|would|does|did|do)\b")
WANTING = re.compile(
    r"\b(?:do you (?:have|sell|carry|stock|got)|looking for|need|want|show me|find|get me|buy|recommend|"
    r"suggest|is there|are there|any good)\b"
)


# "yes", "thanks", "show more" and their like are short: a longer message is never only them.
_LONGEST_ONLY = 200


def only(text: str, *patterns: "re.Pattern[str]") -> bool:
    """The message says nothing but these phrases."""
    if len(text) > _LONGEST_ONLY:
        return False
    rest = text
    for pattern in patterns:
        rest = pattern.sub(" ", rest)
    return not rest.strip() and rest != text
