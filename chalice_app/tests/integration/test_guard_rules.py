"""The local stack guard's rules, one pure function each (``localcloud.guard``); the
same rules against a running stack are in ``test_http_guard.py``."""

import pytest

from localcloud.guard import checks_for, is_loopback_host, is_same_origin, sigv4_problem, token_matches

pytestmark = pytest.mark.inprocess  # pure pieces: no stack (see tests/conftest.py)

SIGNATURE = "0123456789abcdef" * 4
SIGNED = (
    "AWS4-HMAC-SHA256 Credential=testing/20261201/us-east-1/execute-api/aws4_request, "
    f"SignedHeaders=host;x-amz-date, Signature={SIGNATURE}"
)
DATED = {"X-Amz-Date": "20261201T093000Z"}


@pytest.mark.parametrize(
    "host",
    ["localhost", "localhost:8000", "LocalHost:8000", "127.0.0.1", "127.0.0.1:8000", "127.1.2.3:80", "[::1]:8000"],
)
def test_loopback_hosts(host):
    assert is_loopback_host(host)


@pytest.mark.parametrize(
    "host",
    [
        None,
        "",
        "::1",  # an IPv6 literal needs brackets in Host (RFC 3986)
        "[::2]:8000",
        "[127.0.0.1]:8000",
        "localhost.",
        "localhost.attacker.example:8000",
        "127.0.0.1.nip.io",
        "attacker.example",
        "10.0.0.1:8000",
        "localhost:8000:1",
        "localhost:port",
        "user@localhost:8000",
    ],
)
def test_other_hosts(host):
    assert not is_loopback_host(host)


@pytest.mark.parametrize(
    "origin, host",
    [
        (None, "127.0.0.1:8000"),
        ("http://127.0.0.1:8000", "127.0.0.1:8000"),
        ("http://LOCALHOST:8000", "localhost:8000"),
        ("http://localhost", "localhost:80"),
        ("http://[::1]:8000", "[::1]:8000"),
    ],
)
def test_same_origin(origin, host):
    assert is_same_origin(origin, host)


@pytest.mark.parametrize(
    "origin, host",
    [
        ("null", "127.0.0.1:8000"),
        ("http://attacker.example", "127.0.0.1:8000"),
        ("http://127.0.0.1:3000", "127.0.0.1:8000"),  # another local dev server is another site
        ("http://localhost:8000", "127.0.0.1:8000"),  # another name is another origin
        ("https://127.0.0.1:8000", "127.0.0.1:8000"),
        ("http://127.0.0.1:8000/", "127.0.0.1:8000"),
        ("http://127.0.0.1:8000", "attacker.example:8000"),  # rebound name, same-origin by the browser's rules
        ("http://localhost:8000.attacker.example", "localhost:8000"),
    ],
)
def test_cross_origin(origin, host):
    assert not is_same_origin(origin, host)


def test_the_signature_boto3_sends_is_accepted():
    assert sigv4_problem(SIGNED, DATED) is None
    assert sigv4_problem(SIGNED.replace(", ", ","), {"Date": "Tue, 01 Dec 2026 09:30:00 GMT"}) is None


def test_no_authorization_is_a_missing_authentication_token():
    assert sigv4_problem(None, DATED) == ("MissingAuthenticationTokenException", "Missing Authentication Token")
    assert sigv4_problem("", DATED)[0] == "MissingAuthenticationTokenException"


@pytest.mark.parametrize(
    "authorization, headers, words",
    [
        ("Bearer abc", DATED, "'Credential' parameter"),
        (SIGNED.replace("AWS4-HMAC-SHA256", "AWS4-ECDSA-P256-SHA256"), DATED, "'AWS4-HMAC-SHA256' algorithm"),
        (SIGNED, {}, "'X-Amz-Date' or a 'Date' header"),
        (SIGNED.replace("execute-api", "s3"), DATED, "'execute-api' service"),
        (SIGNED.replace("/20261201/", "/yesterday/"), DATED, "valid region"),
        (SIGNED.replace("host;", ""), DATED, "'Host' must be a signed header"),
        (SIGNED.replace(SIGNATURE, "xyz"), DATED, "64 hexadecimal"),
        (SIGNED.split(", Signature")[0], DATED, "'Signature' parameter"),
    ],
)
def test_a_malformed_signature_is_incomplete(authorization, headers, words):
    error_type, message = sigv4_problem(authorization, headers)
    assert error_type == "IncompleteSignatureException"
    assert words in message and message.endswith(f"Authorization={authorization}")


def test_token_matches_only_the_runs_token():
    assert token_matches("abc", "abc")
    assert not token_matches("abd", "abc")
    assert not token_matches("", "abc") and not token_matches(None, "abc")
    assert not token_matches("abc", None) and not token_matches("", "")


@pytest.mark.parametrize(
    "method, path, headers, checks",
    [
        ("GET", "/api", {"Upgrade": "websocket"}, ()),
        ("GET", "/api/", {"Upgrade": "WebSocket"}, ()),
        ("GET", "/api", {}, ("host", "origin")),  # not an upgrade: the 426 answer is guarded too
        ("POST", "/api", {"Upgrade": "websocket"}, ("host", "origin")),
        ("GET", "/", {}, ("host",)),
        ("GET", "/static/app.js", {}, ("host",)),
        ("GET", "/health", {}, ("host", "origin")),
        ("POST", "/_local/pollers/stop", {}, ("host", "origin", "token")),
        ("POST", "/api/@connections/abc=", {}, ("host", "origin", "sigv4")),
        ("DELETE", "/api/@connections/abc=", {}, ("host", "origin", "sigv4")),
        ("GET", "/other/@connections/abc=", {}, ("host", "origin")),
        ("GET", "/anything", {}, ("host", "origin")),
    ],
)
def test_which_rules_apply(method, path, headers, checks):
    assert checks_for(method, path, headers, stage="api") == checks
