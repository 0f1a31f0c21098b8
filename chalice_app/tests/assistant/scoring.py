"""Scores a set of kinded cases turn by turn (a failed turn does not end its conversation)."""

import collections
from dataclasses import dataclass, field
from typing import Dict, List, Tuple

from tests.assistant.conftest import Conversation
from tests.assistant.quality_cases import Case, not_carried

_ERRORS = (AssertionError, IndexError, KeyError, TypeError, ValueError)


@dataclass
class Score:
    passed: int = 0
    total: int = 0
    by_kind: Dict[str, List[int]] = field(default_factory=lambda: collections.defaultdict(lambda: [0, 0]))
    wrong_cart: int = 0  # the cart changed on a turn that failed its expectations
    false_not_carried: int = 0  # "we don't carry" where the expectation was something else
    failures: List[str] = field(default_factory=list)

    @property
    def percent(self) -> float:
        return 100 * self.passed / self.total if self.total else 0.0

    def summary(self, title: str) -> str:
        kinds = ", ".join(f"{kind} {ok}/{all_}" for kind, (ok, all_) in sorted(self.by_kind.items()))
        return (
            f"{title}: {self.passed}/{self.total} turns ({self.percent:.1f}%); wrong cart changes {self.wrong_cart}, "
            f"false not-carried {self.false_not_carried}; {kinds}"
        )


def score(assistant, kinded: List[Tuple[str, Case]]) -> Score:
    result = Score()
    for kind, built in kinded:
        conversation = Conversation(assistant)
        for step, (message, checks) in enumerate(built.steps):
            ok, why = _turn(conversation, message, checks)
            result.total += 1
            result.by_kind[kind][1] += 1
            if ok:
                result.passed += 1
                result.by_kind[kind][0] += 1
                continue
            result.failures.append(f"[{kind}] {built.name} step {step}: {why}")
            carts = conversation.carts
            if len(carts) >= 1 and (carts[-2] if len(carts) > 1 else {}) != carts[-1]:
                result.wrong_cart += 1
            recorded = (conversation.state().last_turn or {}).get("outcome")
            if recorded == "not_carried" and not_carried not in checks:
                result.false_not_carried += 1
    return result


def _turn(conversation, message, checks) -> Tuple[bool, str]:
    try:
        text = message(conversation) if callable(message) else message
    except _ERRORS as error:
        conversation.send("hello")  # keep the step numbering
        return False, f"could not build the message: {error}"
    try:
        said = conversation.send(text)
        for check in checks:
            check(conversation)
    except _ERRORS as error:
        content = conversation.said[-1].content if conversation.said else ""
        return False, f"{text!r}: {error} | {content[:160]!r}"
    del said
    return True, ""
