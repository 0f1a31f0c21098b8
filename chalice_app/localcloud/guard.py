"""Who may call the local stack's HTTP endpoints, and the headers every response carries.

The stack listens on loopback, but any web page the developer opens can still send it
requests (a ``text/plain`` POST needs no CORS preflight), and a DNS-rebound name makes
such a page same-origin with it. So, per request:

- the WebSocket upgrade (``GET /{stage}`` with ``Upgrade: websocket``) is open to any
  Origin and Host, as API Gateway's is (it does not check Origin; the app's ``$connect``
  decides);
- the chat page (``/``) and ``/static/*`` need a loopback ``Host`` (DNS rebinding);
- everything else (``/health``, ``/_local/*``, ``@connections``, unknown paths) also
  needs the ``Origin`` to be absent or this very origin;
- ``/_local/*`` needs the per-run token (``X-Local-Token``) printed on the console;
- ``@connections`` needs a SigV4 ``Authorization`` header for ``execute-api``, as the
  real Management API (IAM auth) does: boto3 and the AWS CLI always sign, and a page
  cannot add that header cross-site without a CORS preflight, which is never granted.
  The signature itself is not verified (the emulator has no secret keys to check it with).

Refusals answer 403 with API Gateway's JSON body and ``x-amzn-ErrorType``. Every
response gets ``X-Content-Type-Options``, ``Referrer-Policy``, a Content-Security-Policy
with ``frame-ancestors 'none'``, and no ``Server`` header (aiohttp's names its version).
Only a request too malformed to reach the app (aiohttp's own 400, which no browser can
be made to send) still gets aiohttp's ``Server`` header.
"""

import hmac
import ipaddress
import re
from typing import Awaitable, Callable, Dict, Mapping, Optional, Tuple
from urllib.parse import urlsplit

from aiohttp import hdrs, web

__all__ = [
    "LOCAL_TOKEN_HEADER",
    "SECURITY_HEADERS",
    "CONTENT_SECURITY_POLICY",
    "Refusal",
    "is_loopback_host",
    "is_same_origin",
    "sigv4_problem",
    "token_matches",
    "checks_for",
    "refusal_for",
    "install",
]

LOCAL_TOKEN_HEADER = "X-Local-Token"

# The chat page loads only its own files; it may open a WebSocket to itself or, after the
# page's own check (web/app.js: loopback and execute-api hosts directly, anything else
# only once the user agrees), to a ?ws= server. CSP host sources cannot say
# "*.execute-api.*.amazonaws.com" or name [::1], so connect-src allows ws: and wss:.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self' ws: wss:",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)

SECURITY_HEADERS: Dict[str, str] = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",  # frame-ancestors for browsers without CSP level 2
    "Referrer-Policy": "no-referrer",
}

HOST, ORIGIN, TOKEN, SIGV4 = "host", "origin", "token", "sigv4"

Refusal = Tuple[str, str]  # (x-amzn-ErrorType, message)

_HOST_PORT = re.compile(r"^(?P<name>\[[0-9a-fA-F:.]+\]|[^:\[\]]+)(?::(?P<port>[0-9]{1,5}))?$")
_DATE = re.compile(r"^[0-9]{8}$")


def is_loopback_host(host: Optional[str]) -> bool:
    """A ``Host`` header naming this machine: ``localhost``, ``127.x.x.x`` or ``[::1]``,
    with an optional port. Any other name could be a DNS-rebound one (RFC 6761 reserves
    ``localhost``; API Gateway likewise refuses a Host that is not its own with 403)."""
    match = _HOST_PORT.match(host or "")
    if not match:
        return False
    name = match.group("name").lower()
    if name == "localhost":
        return True
    bracketed = name.startswith("[")
    try:
        address = ipaddress.ip_address(name[1:-1] if bracketed else name)
    except ValueError:
        return False
    return address.is_loopback and bracketed == (address.version == 6)  # RFC 3986: only IPv6 in brackets


def is_same_origin(origin: Optional[str], host: Optional[str]) -> bool:
    """``Origin`` absent (not a browser, or a same-origin GET), or exactly
    ``http://{Host}`` of this request (RFC 6454: scheme, host and port all equal).
    ``null`` (sandboxed frames, ``file:`` pages) is another origin."""
    if origin is None:
        return True
    if not is_loopback_host(host):
        return False
    parts = urlsplit(origin)
    if parts.scheme != "http" or parts.path or parts.query or parts.fragment or not is_loopback_host(parts.netloc):
        return False
    return _with_port(parts.netloc) == _with_port(host)


def _with_port(loopback_host: str) -> str:
    """``host[:port]`` with HTTP's default port made explicit, lower-cased."""
    name = loopback_host.lower()
    return name if _HOST_PORT.match(name).group("port") else name + ":80"


def sigv4_problem(authorization: Optional[str], headers: Mapping[str, str]) -> Optional[Refusal]:
    """What API Gateway answers a request to an IAM-authorized route (such as
    ``@connections``) whose SigV4 ``Authorization`` header is missing or malformed,
    or None for the shape boto3 and the AWS CLI send:
    ``AWS4-HMAC-SHA256 Credential={key}/{yyyymmdd}/{region}/execute-api/aws4_request,
    SignedHeaders={…;host;…}, Signature={64 hex}``, with ``X-Amz-Date`` or ``Date``."""
    if not authorization:
        return "MissingAuthenticationTokenException", "Missing Authentication Token"
    algorithm, _, rest = authorization.strip().partition(" ")
    fields = dict(part.strip().partition("=")[::2] for part in rest.split(",") if "=" in part)
    problems = [
        f"Authorization header requires '{name}' parameter."
        for name in ("Credential", "Signature", "SignedHeaders")
        if not fields.get(name)
    ]
    if not any(name.lower() in ("x-amz-date", "date") for name in headers):
        problems.append("Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.")
    if algorithm != "AWS4-HMAC-SHA256":
        problems.insert(0, "Authorization header requires the 'AWS4-HMAC-SHA256' algorithm.")
    if not problems:
        scope = fields["Credential"].split("/")
        if len(scope) != 5 or not scope[0] or not _DATE.match(scope[1]) or scope[3:] != ["execute-api", "aws4_request"]:
            problems.append("Credential should be scoped to a valid region and the 'execute-api' service.")
        if "host" not in fields["SignedHeaders"].lower().split(";"):
            problems.append("'Host' must be a signed header.")
        if not re.fullmatch(r"[0-9a-f]{64}", fields["Signature"]):
            problems.append("Signature must be 64 hexadecimal characters.")
    if problems:
        return "IncompleteSignatureException", " ".join(problems) + f" Authorization={authorization}"
    return None


def token_matches(given: Optional[str], expected: Optional[str]) -> bool:
    """The ``/_local`` token, compared in constant time; no token configured: never."""
    return bool(given and expected) and hmac.compare_digest(given.encode(), expected.encode())


def checks_for(method: str, path: str, headers: Mapping[str, str], stage: str) -> Tuple[str, ...]:
    """Which rules a request must pass, by what it asks for (see the module docstring)."""
    if path in (f"/{stage}", f"/{stage}/") and method == "GET" and headers.get("Upgrade", "").lower() == "websocket":
        return ()
    if path == "/" or path.startswith("/static/"):
        return (HOST,)
    if path.startswith(f"/{stage}/@connections/"):
        return (HOST, ORIGIN, SIGV4)
    if path == "/_local" or path.startswith("/_local/"):
        return (HOST, ORIGIN, TOKEN)
    return (HOST, ORIGIN)


def refusal_for(checks: Tuple[str, ...], headers: Mapping[str, str], local_token: Optional[str]) -> Optional[Refusal]:
    """The first rule the request breaks, as API Gateway would word it, or None."""
    host = headers.get(hdrs.HOST)
    if HOST in checks and not is_loopback_host(host):
        return "ForbiddenException", "Forbidden: this server answers only to localhost, 127.0.0.1 or [::1]"
    if ORIGIN in checks and not is_same_origin(headers.get(hdrs.ORIGIN), host):
        return "ForbiddenException", "Forbidden: cross-origin requests are not accepted"
    if TOKEN in checks and not token_matches(headers.get(LOCAL_TOKEN_HEADER), local_token):
        return "ForbiddenException", f"Forbidden: send the {LOCAL_TOKEN_HEADER} printed on the stack's console"
    if SIGV4 in checks:
        return sigv4_problem(headers.get(hdrs.AUTHORIZATION), headers)
    return None


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _middleware(stage: str, local_token: Optional[str]):
    @web.middleware
    async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
        refused = refusal_for(
            checks_for(request.method, request.path, request.headers, stage), request.headers, local_token
        )
        if refused is not None:
            error_type, message = refused
            return web.json_response({"message": message}, status=403, headers={"x-amzn-ErrorType": error_type})
        return await handler(request)

    return guard


async def _response_headers(request: web.Request, response: web.StreamResponse) -> None:
    response.headers.popall(hdrs.SERVER, None)
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)


def install(app: web.Application, stage: str, local_token: Optional[str] = None) -> None:
    """Guard every route of ``app`` (call before it starts) and set its response headers."""
    app.middlewares.append(_middleware(stage, local_token))
    app.on_response_prepare.append(_response_headers)
