"""One pattern for several phrases, matched as whole words over folded text."""

import re

__all__ = ["words"]


def words(*phrases: str) -> "re.Pattern[str]":
    """One pattern for several phrases, matched as whole words. The longer phrases are tried first:
    a regex takes the first alternative that matches, so "any others?" listed before "any other
    options" would otherwise take "any other" out of "any other options" and leave "options"."""
    ordered = sorted(phrases, key=len, reverse=True)
    return re.compile(r"(?<![a-z0-9])(?:" + "|".join(ordered) + r")(?![a-z0-9])")
