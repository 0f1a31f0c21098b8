"""Which Bedrock errors are worth another try, and how long to wait first.

Throttling and transient service or stream errors are retried a bounded number of
times with exponential backoff and jitter; anything else (a validation error, an
unknown model, missing permissions) is raised at once, so chat_processor's retry
and ``processing_failed`` path applies. boto3's own retries cover the first HTTP
response only; these cover errors inside the stream as well.
"""

import random
from typing import Optional

from botocore.exceptions import ClientError, ConnectionClosedError, EndpointConnectionError, ReadTimeoutError

__all__ = ["RETRYABLE_CODES", "is_retryable", "backoff_seconds"]

# Lower-cased: the first HTTP response says "ThrottlingException", the stream "throttlingException".
RETRYABLE_CODES = frozenset(
    {
        "throttlingexception",
        "modelstreamerrorexception",
        "serviceunavailableexception",
        "serviceunavailable",
        "internalserverexception",
    }
)


def is_retryable(error: BaseException) -> bool:
    if isinstance(error, (ReadTimeoutError, ConnectionClosedError, EndpointConnectionError)):
        return True
    if isinstance(error, ClientError):
        return str(error.response.get("Error", {}).get("Code", "")).lower() in RETRYABLE_CODES
    return False


def backoff_seconds(attempt: int, base: float = 0.5, cap: float = 8.0, rng: Optional[random.Random] = None) -> float:
    """Before retry ``attempt`` (1, 2, ...): base * 2^(attempt-1), capped, plus up to 25% jitter."""
    delay = min(cap, base * 2 ** (attempt - 1))
    return delay + (rng or random).uniform(0, delay / 4)
