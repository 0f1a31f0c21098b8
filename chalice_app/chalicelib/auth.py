"""Optional token check on $connect.

Two kinds of token, either or both configured:

- static API keys: ``AUTH_API_KEYS`` (comma-separated), for trusted integrations;
- signed, expiring tokens: ``AUTH_TOKEN_SECRET``; a token is
  ``v1.<expires epoch s>.<subject>.<HMAC-SHA256 signature, base64url>``, made by
  ``sign`` (the token script in chalice_app/scripts/ calls it) or any backend that
  shares the secret. The subject may hold dots (``john.doe@example.com``). A token
  whose expiry is further away than ``AUTH_MAX_TTL_SECONDS`` (default a day) is
  refused, so a leaked secret cannot mint tokens that live for years.

With neither configured every connection is accepted. The client passes the token
as ``?token=`` (browsers cannot set headers on a WebSocket upgrade). Whatever the
token holds (non-ASCII, a lone surrogate), the answer is 401 or 403, never an error.
"""

import base64
import hashlib
import hmac
import re
import time
from typing import Optional, Sequence

__all__ = [
    "AuthResult",
    "sign",
    "check",
    "DEFAULT_MAX_TTL_SECONDS",
    "NOT_CONFIGURED",
    "API_KEY",
    "SIGNED_TOKEN",
]

TOKEN_VERSION = "v1"
SUBJECT_PATTERN = re.compile(r"[A-Za-z0-9_.@-]{1,64}")
# v1.<expiry>.<subject>.<signature>: the expiry is digits and the signature base64url
# (RFC 4648 s. 5, no padding), neither holds a dot, so the subject may.
SIGNATURE_PATTERN = r"[A-Za-z0-9_-]{43}"  # 32 bytes of HMAC-SHA256, base64url without padding
SIGNED_TOKEN_PATTERN = re.compile(
    rf"{TOKEN_VERSION}\.([0-9]{{1,12}})\.({SUBJECT_PATTERN.pattern})\.({SIGNATURE_PATTERN})"
)
DEFAULT_MAX_TTL_SECONDS = 24 * 3600

# How a connection was let in (AuthResult.kind).
NOT_CONFIGURED = "not_configured"
API_KEY = "api_key"
SIGNED_TOKEN = "signed_token"


class AuthResult:
    def __init__(self, status: int, reason: str, subject: Optional[str] = None, kind: Optional[str] = None):
        self.status = status
        self.reason = reason
        self.subject = subject
        self.kind = kind

    @property
    def allowed(self) -> bool:
        return self.status == 200


def _signature(secret: str, payload: str) -> str:
    digest = hmac.new(secret.encode("utf-8"), payload.encode("utf-8"), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def sign(
    secret: str,
    subject: str,
    ttl_seconds: int,
    now: Optional[float] = None,
    max_ttl_seconds: int = DEFAULT_MAX_TTL_SECONDS,
) -> str:
    """A ``v1`` token for ``subject`` that expires in ``ttl_seconds`` (at most ``max_ttl_seconds``)."""
    if not SUBJECT_PATTERN.fullmatch(subject):
        raise ValueError("subject must be 1-64 characters of A-Z a-z 0-9 _ . @ -")
    if not 0 < ttl_seconds <= max_ttl_seconds:
        raise ValueError(f"ttl must be 1-{max_ttl_seconds} s (AUTH_MAX_TTL_SECONDS), got {ttl_seconds}")
    expires = int((now if now is not None else time.time()) + ttl_seconds)
    payload = f"{TOKEN_VERSION}.{expires}.{subject}"
    return f"{payload}.{_signature(secret, payload)}"


def check(
    token: Optional[str],
    api_keys: Sequence[str],
    secret: Optional[str],
    now: Optional[float] = None,
    max_ttl_seconds: int = DEFAULT_MAX_TTL_SECONDS,
) -> AuthResult:
    if not api_keys and not secret:
        return AuthResult(200, "auth not configured", kind=NOT_CONFIGURED)
    if not token:
        return AuthResult(401, "missing token: connect with ?token=")
    # Compared as bytes: hmac.compare_digest refuses str with non-ASCII characters.
    given = _bytes(token)
    if any(hmac.compare_digest(given, _bytes(key)) for key in api_keys):
        return AuthResult(200, "api key", subject="api-key", kind=API_KEY)
    if secret:
        return _check_signed(token, secret, time.time() if now is None else now, max_ttl_seconds)
    return AuthResult(403, "invalid token")


def _bytes(text: str) -> bytes:
    # surrogatepass: a query string can carry a lone surrogate; it must not raise.
    return text.encode("utf-8", "surrogatepass")


def _check_signed(token: str, secret: str, now: float, max_ttl_seconds: int) -> AuthResult:
    matched = SIGNED_TOKEN_PATTERN.fullmatch(token) if token.isascii() else None
    if not matched:
        return AuthResult(403, "invalid token")
    expires, subject, signature = matched.groups()
    payload = f"{TOKEN_VERSION}.{expires}.{subject}"
    if not hmac.compare_digest(signature, _signature(secret, payload)):
        return AuthResult(403, "invalid token")
    if int(expires) < now:
        return AuthResult(403, "expired token")
    if int(expires) - now > max_ttl_seconds:
        return AuthResult(403, "token lifetime over the maximum")
    return AuthResult(200, "signed token", subject=subject, kind=SIGNED_TOKEN)
