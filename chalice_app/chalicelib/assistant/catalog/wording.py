"""One pattern for several phrases, matched as whole words over folded text."""

import re

__all__ = ["words"]


def words(*phrases: str) -> "re.Pattern[str]":
    """One pattern for several phrases, matched as whole words."""
    return re.compile(r"(?<![a-z0-9])(?:" + "|".join(phrases) + r")(?![a-z0-9])")
