"""Brands, categories and features a shopper wants or rules out: "not Nike or Adidas", "without
gps", "except jackets". A negation covers the mention right after it and those joined to it."""

import re
from typing import List, Sequence, Tuple

from chalicelib import catalog
from chalicelib.catalog import Mention, brand_mentions

__all__ = ["parse_brands", "parse_exclusions"]

# A negation covers the brand right after it and those joined to it: "not Nike or Adidas", "nothing
# from Columbia or The North Face", "except Patagonia", "and no Puma either".
_NEGATION_BEFORE = re.compile(
    r"(?:\bnot|\bno|\bnor|\bexcept(?: for)?|\bwithout|\bbesides|\bexcluding|\bexclude|\bother than|"
    r"\banything but|\bbut not|\bnon|\bnothing|\bnone|\bapart from|\bavoid|\bskip|\bhate|"
    r"\bdon'?t (?:want|like)|\bnot a fan of|\bnot interested in|\bnot into|\bnot keen on|\bno interest in|"
    r"\bsick of|\btired of)"
    r"[ -]*(?:(?:from|by|made by|of|any|the|more|with|a|an|ones?|that are|that is|are|is)[ -]+)*$"
)
_LIST_JOINER = re.compile(r"^ *(?:,|/|&)? *(?:or|and|nor|, or|, and)? *(?:,|/)? *$")


def _negations(text: str, mentions: Sequence[Mention]) -> List[Tuple[Mention, bool, int]]:
    """Each mention, whether a negation covers it, and where its phrase starts (the cue, if negated).

    A negation carries over a list: in "not Nike or Adidas" both are negated.
    """
    found = []
    previous_end, previous_negated = 0, False
    for mention in mentions:
        window_start = max(0, mention.start - 30)
        negation = _NEGATION_BEFORE.search(text[window_start : mention.start])
        joined = previous_negated and _LIST_JOINER.match(text[previous_end : mention.start])
        negated = bool(negation or joined)
        start = window_start + negation.start() if negation else (previous_end if joined else mention.start)
        found.append((mention, negated, start))
        previous_end, previous_negated = mention.end, negated
    return found


def _blank_spans(text: str, spans: List[Tuple[int, int]]) -> str:
    """Blank spans in place (offsets stay valid for later mentions)."""
    for start, end in sorted(spans, reverse=True):
        text = text[:start] + " " * (end - start) + text[end:]
    return text


def parse_brands(original: str, text: str) -> Tuple[Tuple[str, ...], Tuple[str, ...], str]:
    """(brands, excluded brands, rest). ``original`` keeps the case that "On" and "Keen" need.

    ``text`` must be ``fold(original)`` (so offsets agree); mentions are blanked out in place.
    """
    wanted: List[str] = []
    excluded: List[str] = []
    spans: List[Tuple[int, int]] = []
    for mention, negated, start in _negations(text, brand_mentions(original)):
        target = excluded if negated else wanted
        if mention.value not in target:
            target.append(mention.value)
        spans.append((start, mention.end))
    return tuple(wanted), tuple(excluded), _blank_spans(text, spans)


def parse_exclusions(text: str) -> Tuple[Tuple[str, ...], Tuple[str, ...], str]:
    """(excluded categories, excluded features, rest): "except jackets", "without gps", "no pods or
    espresso". Only negated mentions count; a feature wins over a category's kind ("espresso")."""
    features = catalog.feature_mentions(text)
    covered = {(mention.start, mention.end) for mention in features}
    categories = [
        mention
        for mention in catalog.category_mentions(text)
        if (mention.start, mention.end) not in covered and not mention.says_kind
    ]
    mentions = sorted(features + categories, key=lambda mention: mention.start)
    excluded_categories: List[str] = []
    excluded_features: List[str] = []
    spans: List[Tuple[int, int]] = []
    for mention, negated, start in _negations(text, mentions):
        if not negated:
            continue
        target = excluded_features if (mention.start, mention.end) in covered else excluded_categories
        if mention.value not in target:
            target.append(mention.value)
        spans.append((start, mention.end))
    return tuple(excluded_categories), tuple(excluded_features), _blank_spans(text, spans)
