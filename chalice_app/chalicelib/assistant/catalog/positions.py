"""Positions in the list on screen, in every everyday form, rewritten to the one form the
reference resolver reads ("the 3rd one"): "the one in the centre", "the final option", "third
from the top", "second from the bottom", "the penultimate one", "number two", "no. 4".

A position word the assistant does not know ("the umpteenth one") is reported, so the caller
asks instead of guessing.
"""

import re
from typing import Callable, Optional, Tuple

__all__ = ["normalize"]

_ORDINAL_WORDS = {
    "first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "1st": 1, "2nd": 2, "3rd": 3, "4th": 4, "5th": 5,
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "1": 1, "2": 2, "3": 3, "4": 4, "5": 5,
}  # fmt: skip
_ORDINAL = r"(first|second|third|fourth|fifth|1st|2nd|3rd|4th|5th|one|two|three|four|five|[1-5])"
_THING = r"(?: (?:one|option|item|result|pick|product|choice|listing|entry))?"
# A thing word after a position, or the end of the message: "the last one", "the final option", "the last".
_ENDS = r"(?: (?:one|option|item|result|pick|product|choice|listing|entry)\b|(?= please|$))"
_SPELLED = {1: "1st", 2: "2nd", 3: "3rd", 4: "4th", 5: "5th"}


def _from_top(match: "re.Match[str]", count: int) -> Optional[int]:
    return _ORDINAL_WORDS[match.group(1)]


def _from_bottom(match: "re.Match[str]", count: int) -> Optional[int]:
    return count - _ORDINAL_WORDS[match.group(1)] + 1


def _middle(match: "re.Match[str]", count: int) -> Optional[int]:
    return (count + 1) // 2 if count % 2 else None  # no middle of an even list: ask


def _last(match: "re.Match[str]", count: int) -> Optional[int]:
    return count


def _one_before_last(match: "re.Match[str]", count: int) -> Optional[int]:
    return count - 1


def _top(match: "re.Match[str]", count: int) -> Optional[int]:
    return 1


def _number(match: "re.Match[str]", count: int) -> Optional[int]:
    return _ORDINAL_WORDS[match.group(1)]


_RULES: Tuple[Tuple["re.Pattern[str]", Callable[["re.Match[str]", int], Optional[int]]], ...] = tuple(
    (re.compile(pattern), rule)
    for pattern, rule in (
        (r"\b(?:the )?" + _ORDINAL + _THING + r" from the (?:top|start|beginning|left)\b", _from_top),
        (r"\b(?:the )?" + _ORDINAL + _THING + r" from the (?:bottom|end|right)\b", _from_bottom),
        (
            r"\b(?:the )?(?:penultimate|second[ -](?:to[ -])?last|next[ -]to[ -]last|last but one"
            r"|one before (?:the )?last)" + _THING + r"\b",
            _one_before_last,
        ),
        (r"\b(?:the )?(?:one |item |option )?(?:in|at) the (?:centre|center|middle)\b", _middle),
        (r"\bthe (?:centre|center|middle)" + _ENDS, _middle),
        (r"\b(?:the )?(?:one |item |option )?(?:at|on) the (?:very )?(?:bottom|end)(?: of the list)?\b", _last),
        (r"\bthe (?:very last|final|bottom|last)" + _ENDS, _last),
        (r"\b(?:the )?(?:one |item |option )?(?:at|on) the (?:very )?top(?: of the list)?\b", _top),
        (r"\bthe top (?:one|option|item|result|pick|choice)\b", _top),
        (r"(?:#|\b(?:number|no\.?|nr\.?|num) ?)(one|two|three|four|five|[1-5])\b", _number),
    )
)
# "the umpteenth one", "the seventh option": a position word the rules above do not know.
_UNKNOWN = re.compile(r"\bthe ([a-z]+th|\d+(?:st|nd|rd|th)|umpteenth|nth)" + _THING + r"$")


def normalize(text: str, count: int) -> Tuple[str, bool]:
    """``text`` with position phrases as "the Nth one" for a list of ``count``; and whether a
    position was named that cannot be told (unknown word, out of range, no middle): ask."""
    unsure = False
    for pattern, rule in _RULES:
        match = pattern.search(text)
        if match is None:
            continue
        position = rule(match, count) if count else None
        if position is None or not 1 <= position <= max(count, 1):
            unsure = True
            continue
        text = text[: match.start()] + f"the {_SPELLED.get(position, position)} one" + text[match.end() :]
    unknown = _UNKNOWN.search(text)
    if (
        unknown
        and unknown.group(1) not in _ORDINAL_WORDS
        and unknown.group(1) not in ("last", "best", "first", "both", "north")
    ):
        unsure = True
    return text, unsure
