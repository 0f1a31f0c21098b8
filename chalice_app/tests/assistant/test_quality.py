"""The quality set (quality_cases.py) against the catalog assistant, with a real session table (moto).

Every step also checks the streaming contract (see conftest.Conversation): deltas
then one Reply whose content is their concatenation, at most 5 products.
"""

import statistics

import pytest

from tests.assistant.conftest import PRODUCT_FIELDS, Conversation
from tests.assistant.quality_cases import CASES


def run_case(assistant, quality_case) -> Conversation:
    conversation = Conversation(assistant)
    for step, (message, checks) in enumerate(quality_case.steps):
        text = message(conversation) if callable(message) else message
        said = conversation.send(text)
        for product in said.products:
            assert set(product) == PRODUCT_FIELDS, f"product fields: {sorted(product)}"
        for check in checks:
            try:
                check(conversation)
            except AssertionError as error:
                raise AssertionError(f"step {step} {text!r}: {error}\nreply:\n{said.content}") from None
    return conversation


def test_the_quality_set_is_big_enough():
    assert len(CASES) >= 60
    assert sum(len(case.steps) for case in CASES) >= 250
    assert len({case.name for case in CASES}) == len(CASES)


def test_pass_rate(assistant, record_property, capsys):
    """The share of user turns that meet every expectation (a failed turn ends its conversation)."""
    passed = total = 0
    for quality_case in CASES:
        total += len(quality_case.steps)
        passed += _turns_passed(assistant, quality_case)
    record_property("quality_turns_passed", passed)
    with capsys.disabled():
        print(f"\nquality set: {passed}/{total} turns pass ({100 * passed / total:.1f}%) in {len(CASES)} conversations")


def _turns_passed(assistant, quality_case) -> int:
    conversation = Conversation(assistant)
    for step, (message, checks) in enumerate(quality_case.steps):
        try:
            conversation.send(message(conversation) if callable(message) else message)
            for check in checks:
                check(conversation)
        except (AssertionError, IndexError, KeyError, TypeError, ValueError):
            return step
    return len(quality_case.steps)


@pytest.mark.parametrize("quality_case", CASES, ids=[case.name for case in CASES])
def test_quality_case(assistant, quality_case):
    run_case(assistant, quality_case)


def test_reply_latency_over_the_quality_set(assistant, record_property, capsys):
    """Every reply of the set, timed as chat_processor sees it (session load and save included)."""
    times = []
    for quality_case in CASES:
        times += [said.seconds for said in run_case(assistant, quality_case).said]
    p50, p95 = statistics.median(times), statistics.quantiles(times, n=20)[-1]
    record_property("catalog_reply_p50_ms", round(p50 * 1000, 2))
    record_property("catalog_reply_p95_ms", round(p95 * 1000, 2))
    with capsys.disabled():
        print(
            f"\ncatalog assistant over {len(times)} replies: p50 {p50 * 1000:.1f} ms, p95 {p95 * 1000:.1f} ms "
            "(moto DynamoDB included)"
        )
    assert p50 < 0.1, f"p50 {p50 * 1000:.0f} ms"
