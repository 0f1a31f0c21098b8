"""The phrases the catalog assistant listens for, as compiled patterns over folded text.

Kept apart from the logic that uses them (intents, references) so the vocabulary
can grow in one place.
"""

import re

__all__ = [
    "ADD",
    "ALL",
    "ALSO",
    "ANY_BRAND",
    "ANY_PRICE",
    "BARE_DIGIT",
    "BETTER_RATED",
    "CART",
    "CART_QUESTION",
    "CHEAPER",
    "CLEAR",
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
    "ORDINAL",
    "ORDINALS",
    "PRICIER",
    "PRODUCT_ID",
    "PRONOUN",
    "QUANTITY",
    "QUESTION",
    "REMOVE",
    "SELECTORS",
    "THANKS",
    "YES",
    "only",
    "words",
]


def words(*phrases: str) -> "re.Pattern[str]":
    """One pattern for several phrases, matched as whole words."""
    return re.compile(r"(?<![a-z0-9])(?:" + "|".join(phrases) + r")(?![a-z0-9])")


GREETING = words(r"hi+", r"hello+", r"hey+", r"hiya", r"howdy", r"yo", r"greetings",
                   r"good (?:morning|afternoon|evening)", r"hi there", r"hello there", r"hey there")
FILLER = words(r"there", r"assistant", r"bot", r"friend", r"again", r"everyone", r"all")
THANKS = words(r"thanks?(?: you)?(?: so much| a lot)?", r"thx", r"ty", r"cheers", r"appreciate it", r"perfect",
                 r"great", r"awesome", r"cool", r"ok thanks", r"that'?s all", r"bye", r"goodbye")
HELP = words(r"help", r"what can you do", r"how does this work", r"what do you (?:sell|have|offer|carry)",
               r"what (?:can|should) i (?:ask|say|type)", r"commands", r"options", r"how do i use")
YES = words(r"y", r"yes", r"yeah", r"yep", r"yup", r"sure", r"ok", r"okay", r"please", r"please do", r"do it",
              r"go ahead", r"sounds good", r"why not", r"ok do it", r"yes please", r"absolutely", r"fine")
NO = words(r"n", r"no", r"nope", r"nah", r"never ?mind", r"no thanks", r"don'?t", r"forget it")
CART = words(r"cart", r"basket", r"checkout", r"check out", r"trolley")
CART_QUESTION = words(r"(?:my|the|order) total", r"what did i (?:add|pick|buy|choose)", r"how much do i owe",
                        r"how much (?:is|does) (?:it|everything|that) (?:all )?(?:come to|cost)", r"what'?s my total",
                        r"total so far")
CLEAR = words(r"clear", r"empty", r"reset", r"remove everything", r"remove all", r"delete everything",
                r"start over")
REMOVE = words(r"remove", r"delete", r"take out", r"take off", r"get rid of", r"drop", r"don'?t want")
ADD = words(r"add", r"put", r"throw", r"i'?ll take", r"i will take", r"i'?ll get", r"buy", r"purchase", r"order",
              r"get me", r"grab", r"i'?ll have", r"i want (?:the|that|this|it)", r"i'?d like (?:the|that|this|it)")
COMPARE = words(r"compare", r"comparison", r"vs\.?", r"versus", r"difference", r"differences",
                  r"which (?:one )?(?:is|should i|would you|do you)", r"better choice")
# Strong cues take a bare number as a position ("more about 2"); weak ones need "the second", "#2"...
DETAILS = words(r"tell me (?:more )?about", r"more (?:about|on|info|information|details)", r"details?",
                  r"describe", r"specs?", r"specifications", r"info(?:rmation)? (?:on|about)", r"more on",
                  r"how heavy", r"how much is")
# "is it waterproof?", "how heavy is the second one?": a question about a product already shown.
QUESTION = re.compile(r"^(?:is|are|does|do|has|have|can|will|how|what|which|whats|what's)\b|\?")
DETAILS_WEAK = words(r"what about", r"how about", r"what is", r"what'?s", r"show me", r"look at", r"is the",
                       r"does the", r"open")
MORE = words(r"show more", r"more results", r"more options", r"more please", r"next(?: page)?", r"what else",
               r"anything else", r"see more", r"any others?", r"other options", r"more like (?:this|these)",
               r"load more", r"more")
CHEAPER = words(r"cheaper", r"less expensive", r"lower priced?", r"more affordable", r"lower budget",
                  r"not so expensive", r"too expensive", r"too pricey", r"less money")
PRICIER = words(r"more expensive", r"pricier", r"higher end", r"fancier", r"nicer", r"better quality",
                  r"more premium", r"too cheap")
BETTER_RATED = words(r"better rated", r"higher rated", r"better reviewed", r"better reviews", r"higher ratings?")
ALSO = words(r"also", r"too", r"as well", r"or", r"and")
ANY_BRAND = words(r"any brand", r"all brands", r"other brands", r"any other brand", r"every brand",
                    r"don'?t care about (?:the )?brand")
ANY_PRICE = words(r"any price", r"no budget", r"forget the budget", r"price doesn'?t matter",
                    r"don'?t care about (?:the )?price", r"money is no object")

ORDINALS = {"first": 1, "1st": 1, "second": 2, "2nd": 2, "third": 3, "3rd": 3, "fourth": 4, "4th": 4,
             "fifth": 5, "5th": 5, "top": 1}
ORDINAL = words(*ORDINALS, r"last(?: one)?")
NUMBERED = re.compile(r"(?:#|\bnumber\s*|\bno\.?\s*|\boption\s*|\bitem\s*|\bproduct\s*|\bresult\s*|\bpick\s*)(\d+)\b")
BARE_DIGIT = re.compile(r"(?<![\d.$#])\b([1-9])\b(?!\s*(?:of\b|x\b|mm|cm|kg|g\b|gb|tb|l\b|inch|in\b|\"|"
                         r"hours?|days?|people|person|p\b|stars?|\+|\.\d|,\d{3}|\d))")
PRONOUN = words(r"it", r"that one", r"this one", r"that", r"this", r"the one", r"that product", r"this product")
ALL = words(r"them", r"these", r"those", r"all of them", r"all", r"both", r"the top (?:two|three|2|3)",
              r"the results", r"the options")
# "the cheapest one": a pick among the products shown, not a new sort ("the cheapest tents").
_PICK = r"(?=\s*(?:one|ones|of them|of those|of these|option|pick|and|or|vs|versus|$))"
SELECTORS = (
    ("price_asc", re.compile(r"\b(?:cheapest|least expensive|lowest priced?|most affordable)" + _PICK)),
    ("price_desc", re.compile(r"\b(?:most expensive|priciest|dearest)" + _PICK)),
    ("rating", re.compile(r"\b(?:best rated|highest rated|top rated|best reviewed|best)" + _PICK)),
    ("popularity", re.compile(r"\b(?:most popular|most reviewed|best selling|bestseller)" + _PICK)),
)
PRODUCT_ID = re.compile(r"\b([a-z]{3})[\s-]?(\d{3})\b")
NUMBER_WORDS = {"one": 1, "a": 1, "an": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
                 "eight": 8, "nine": 9, "ten": 10, "a couple": 2, "a pair": 2, "a couple of": 2}
QUANTITY = re.compile(
    r"\b(\d+|one|two|three|four|five|six|seven|eight|nine|ten|a couple|a pair)\s*"
    r"(?:x\b|of\b|pairs?\b|units?\b|more\b|copies\b|pieces\b)"
    r"|\bx\s*(\d+)\b|\b(?:qty|quantity)\s*:?\s*(\d+)\b"
)


def only(text: str, *patterns: "re.Pattern[str]") -> bool:
    """The message says nothing but these phrases."""
    rest = text
    for pattern in patterns:
        rest = pattern.sub(" ", rest)
    return not rest.strip() and rest != text
