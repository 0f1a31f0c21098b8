"""What went wrong, kept twice: for the log (``cause``: the exception's type and message) and
for the shopper (``shopper_reason``: plain words, no internals). Every failure that ends or
delays an acked message is logged with the first and told with the second."""

from typing import Callable, List, Tuple

from botocore.exceptions import ClientError

from chalicelib.errors import AssistantError, DeadlineError

__all__ = ["cause", "shopper_reason"]

_ACCESS_CODES = {"AccessDenied", "AccessDeniedException", "UnrecognizedClientException", "ResourceNotFoundException"}


def _client_code(exc: BaseException) -> str:
    return exc.response.get("Error", {}).get("Code", "") if isinstance(exc, ClientError) else ""


# The shopper's words for a failure, first match wins: rules as (test, words).
_REASONS: List[Tuple[Callable[[BaseException], bool], str]] = [
    (lambda exc: isinstance(exc, DeadlineError), "the reply took too long"),
    (lambda exc: isinstance(exc, ImportError), "the service is misconfigured (a part of it failed to load)"),
    (lambda exc: _client_code(exc) in _ACCESS_CODES, "the service could not reach its storage"),
    (lambda exc: "Throttl" in _client_code(exc), "the service is busy"),
    (lambda exc: isinstance(exc, ClientError), "a service it depends on failed"),
    (lambda exc: isinstance(exc, (AssistantError, RuntimeError)), "the assistant failed"),
]


def _chain(exc: BaseException) -> List[BaseException]:
    """The exception and what caused it (``raise ... from``, or raised while handling), a few deep:
    a library's wrapper (Powertools' persistence error) keeps the AWS error as its cause."""
    chain: List[BaseException] = []
    current: BaseException | None = exc
    while current is not None and len(chain) < 5 and current not in chain:
        chain.append(current)
        current = current.__cause__ or current.__context__
    return chain


def shopper_reason(exc: BaseException) -> str:
    """What went wrong, in words for the shopper (no internals): the first rule that matches the
    exception or one of its causes."""
    chain = _chain(exc)
    for test, words in _REASONS:
        if any(test(link) for link in chain):
            return words
    return "an unexpected error"


def cause(exc: BaseException) -> str:
    """What went wrong, for the log: ``Type: message``, then ``(caused by Type: message)`` for each cause."""
    first, *causes = _chain(exc)
    text = f"{type(first).__name__}: {first}"
    return text + "".join(f" (caused by {type(link).__name__}: {link})" for link in causes)
