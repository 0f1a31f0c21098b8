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


def shopper_reason(exc: BaseException) -> str:
    """What went wrong, in words for the shopper (no internals)."""
    for test, words in _REASONS:
        if test(exc):
            return words
    return "an unexpected error"


def cause(exc: BaseException) -> str:
    """What went wrong, for the log: ``Type: message``."""
    return f"{type(exc).__name__}: {exc}"
