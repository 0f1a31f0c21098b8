"""Describing words in the catalog's own terms: "a tent for snow" is a 4-season tent, "ladies"
boots are women's, "a jacket for the rain" is waterproof.

A table of (everyday words, the catalog's word); every catalog word on the right is one the
catalog uses (a test checks), so the search and the filters read the rewritten message as
they read the catalog's own vocabulary.
"""

import re
from typing import Tuple

__all__ = ["DESCRIBES", "rewrite"]

DESCRIBES: Tuple[Tuple[str, str], ...] = (
    (r"(?:for |in )?(?:the )?(?:snow|winter|cold weather|alpine|mountaineering|all[ -]seasons?|four[ -]seasons?)",
     " 4 season "),
    (r"ladies'?|lady'?s|womens'?|woman'?s|female|for her|girls'?", " women "),
    (r"mens'?|man'?s|male|for him|gents'?|guys'?", " men "),
    (r"(?:for |in )?(?:the )?(?:rain|rainy|downpours?|showers|storms?|wet weather)|keeps? (?:me |you )?dry",
     " waterproof "),
    (r"off[ -]road|for trails|on trails", " trail "),
    (r"grippy|sticky|anti[ -]slip|no[ -]slip|slip[ -]resistant", " non slip "),
    (r"(?:noise[ -]cancel\w*|anc)", " noise cancelling "),
    (r"(?:ultra ?light|light ?weight)", " lightweight "),
)  # fmt: skip
_COMPILED = tuple(
    (re.compile(r"(?<![a-z0-9-])(?:" + words + r")(?![a-z0-9-])", re.IGNORECASE), said) for words, said in DESCRIBES
)


def rewrite(text: str) -> str:
    """The message with everyday describing words in the catalog's terms."""
    for pattern, said in _COMPILED:
        text = pattern.sub(said, text)
    return re.sub(r" +", " ", text).strip()
