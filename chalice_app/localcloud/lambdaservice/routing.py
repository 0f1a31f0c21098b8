"""Where a call made inside an execution environment goes: the emulated region or the local gateway.

The rule, applied to every botocore request just before it is signed:

- ``https://{apiId}.execute-api.{region}.amazonaws.com/{stage}/@connections/...`` goes to
  ``{execute_api}/{stage}/@connections/...`` with the headers ``x-localcloud-api-id: {apiId}``
  (``API_ID_HEADER``) and ``x-localcloud-region: {region}`` (``REGION_HEADER``): the gateway
  serves the API of that id (source mode has one), and the deployed mode refuses, in words,
  a region the API is not in (as AWS's regional endpoint would not know it);
- any other ``https://….amazonaws.com/...`` goes to ``{aws_endpoint}/...``, path and query kept;
- any other URL (a client built with a loopback ``endpoint_url``) is left alone.

The bootstrap installs it with ``install()``, which appends a ``before-sign`` handler to
``botocore.handlers.BUILTIN_HANDLERS``: every botocore session registers those when it is
created, so every client the app builds (with or without ``endpoint_url``) is covered
without changing the app, and the request is signed for the host it is really sent to.

Only the standard library is imported at module level: the bootstrap loads this file by
path inside the isolated environment, before botocore is importable.
"""

import re
from typing import Dict, Tuple
from urllib.parse import urlsplit

__all__ = ["API_ID_HEADER", "REGION_HEADER", "rewrite", "install"]

API_ID_HEADER = "x-localcloud-api-id"
REGION_HEADER = "x-localcloud-region"

# API Gateway's default execute-api host: {api-id}.execute-api.{region}.amazonaws.com
_EXECUTE_API = re.compile(r"^(?P<api_id>[a-z0-9]+)\.execute-api\.(?P<region>[a-z0-9-]+)\.amazonaws\.com(\.cn)?$")
_AWS_HOST = re.compile(r"(^|\.)amazonaws\.com(\.cn)?$")


def rewrite(url: str, aws_endpoint: str, execute_api: str) -> Tuple[str, Dict[str, str]]:
    """``(new_url, extra_headers)`` for one request URL (unchanged and ``{}`` when not AWS's)."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    tail = parts.path + (f"?{parts.query}" if parts.query else "")
    match = _EXECUTE_API.match(host)
    if match:
        headers = {API_ID_HEADER: match.group("api_id"), REGION_HEADER: match.group("region")}
        return execute_api.rstrip("/") + tail, headers
    if _AWS_HOST.search(host):
        return aws_endpoint.rstrip("/") + tail, {}
    return url, {}


def install(aws_endpoint: str, execute_api: str) -> None:
    """Send every botocore session's requests through ``rewrite`` (call before any client exists)."""
    from botocore import handlers

    def before_sign(request=None, **_kwargs):
        if request is None:
            return
        url, headers = rewrite(request.url, aws_endpoint, execute_api)
        if url != request.url:
            request.url = url
            for name, value in headers.items():
                request.headers[name] = value

    handlers.BUILTIN_HANDLERS.append(("before-sign", before_sign))
