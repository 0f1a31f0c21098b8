"""Optional token check on $connect.

Two kinds of token, either or both configured:

- static API keys: ``AUTH_API_KEYS`` (comma-separated), for trusted integrations;
- signed, expiring tokens: ``AUTH_TOKEN_SECRET``; a token is
  ``v1.<expires epoch s>.<subject>.<HMAC-SHA256 signature, base64url>``, made by
  ``chalice_app/scripts/token.py`` or any backend that shares the secret.

With neither configured every connection is accepted. The client passes the token
as ``?token=`` (browsers cannot set headers on a WebSocket upgrade).
"""

import base64
import hashlib
import hmac
import re
import time
from typing import Optional, Sequence

__all__ = ["AuthResult", "sign", "check"]

TOKEN_VERSION = "v1"
SUBJECT_PATTERN = re.compile(r"[A-Za-z0-9_.@-]{1,64}")


class AuthResult:
    def __init__(self, status: int, reason: str, subject: Optional[str] = None):
        self.status = status
        self.reason = reason
        self.subject = subject

    @property
    def allowed(self) -> bool:
        return self.status == 200


def _signature(secret: str, payload: str) -> str:
    digest = hmac.new(secret.encode("utf-8"), payload.encode("utf-8"), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def sign(secret: str, subject: str, ttl_seconds: int, now: Optional[float] = None) -> str:
    if not SUBJECT_PATTERN.fullmatch(subject):
        raise ValueError("subject must be 1-64 characters of A-Z a-z 0-9 _ . @ -")
    expires = int((now if now is not None else time.time()) + ttl_seconds)
    payload = f"{TOKEN_VERSION}.{expires}.{subject}"
    return f"{payload}.{_signature(secret, payload)}"


def check(
    token: Optional[str], api_keys: Sequence[str], secret: Optional[str], now: Optional[float] = None
) -> AuthResult:
    if not api_keys and not secret:
        return AuthResult(200, "auth not configured")
    if not token:
        return AuthResult(401, "missing token: connect with ?token=")
    if any(hmac.compare_digest(token, key) for key in api_keys):
        return AuthResult(200, "api key", subject="api-key")
    if secret:
        return _check_signed(token, secret, time.time() if now is None else now)
    return AuthResult(403, "invalid token")


def _check_signed(token: str, secret: str, now: float) -> AuthResult:
    parts = token.split(".")
    if len(parts) != 4 or parts[0] != TOKEN_VERSION or not parts[1].isdigit():
        return AuthResult(403, "invalid token")
    payload = ".".join(parts[:3])
    if not hmac.compare_digest(parts[3], _signature(secret, payload)):
        return AuthResult(403, "invalid token")
    if int(parts[1]) < now:
        return AuthResult(403, "expired token")
    return AuthResult(200, "signed token", subject=parts[2])
