"""The local stack's HTTP endpoints against raw requests a hostile page (or a DNS-rebound
name) could send: wrong Host, cross-site Origin, no ``/_local`` token, unsigned
``@connections`` calls; and the signed clients (boto3, botocore's signer, the AWS CLI)
that must keep working. Everything runs against a real stack in a subprocess."""

import asyncio
import http.client
import json
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from email.message import Message
from typing import Dict, Optional
from urllib.parse import quote

import pytest
import websockets
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from tests.support import LocalStackProcess

pytestmark = pytest.mark.timeout(120)

CROSS_SITE = "http://shop.attacker.example"
SIGNER = SigV4Auth(Credentials("testing", "testing"), "execute-api", "us-east-1")


@pytest.fixture(scope="module")
def stack():
    with LocalStackProcess(extra_args=["--env", "ASSISTANT_BACKEND=echo", "--quiet"]) as running:
        yield running


@dataclass
class Reply:
    status: int
    headers: Message
    body: bytes

    def json(self):
        return json.loads(self.body)


def raw(stack, method: str, path: str, headers: Optional[Dict[str, str]] = None, body: bytes = b"") -> Reply:
    """One HTTP request exactly as given (``http.client`` adds Host only when absent)."""
    connection = http.client.HTTPConnection("127.0.0.1", stack.port, timeout=20)
    try:
        connection.request(method, path, body=body or None, headers=headers or {})
        response = connection.getresponse()
        return Reply(response.status, response.headers, response.read())
    finally:
        connection.close()


def signed_headers(stack, method: str, path: str, body: bytes = b"") -> Dict[str, str]:
    """SigV4 headers as boto3 would send them (botocore's signer, placeholder credentials)."""
    request = AWSRequest(method=method, url=stack.http_url + path, data=body)
    SIGNER.add_auth(request)
    return dict(request.headers.items())


async def connect_and_identify(stack, **kwargs):
    before = set(stack.connection_ids())
    ws = await websockets.connect(stack.websocket_url, **kwargs)
    new = set(stack.connection_ids()) - before
    assert len(new) == 1, new
    return ws, new.pop()


def local_headers(stack, **extra: str) -> Dict[str, str]:
    return {"X-Local-Token": stack.local_token, **extra}


# --- Host: loopback names only (DNS rebinding) --------------------------------


@pytest.mark.parametrize("host", ["shop.attacker.example", "127.0.0.1.nip.io", "localhost.attacker.example", ""])
@pytest.mark.parametrize("path", ["/health", "/", "/static/app.js", "/api/@connections/AAAAAAAAAAAAAAA="])
def test_a_foreign_host_is_refused(stack, host, path):
    value = f"{host}:{stack.port}" if host else ""
    headers = {**signed_headers(stack, "GET", path), "Host": value}
    reply = raw(stack, "GET", path, headers)
    assert reply.status == 403, reply.body
    assert reply.headers["x-amzn-ErrorType"] == "ForbiddenException"


def test_a_foreign_host_cannot_stop_the_pollers(stack):
    reply = raw(
        stack, "POST", "/_local/pollers/stop", local_headers(stack, Host=f"rebind.attacker.example:{stack.port}")
    )
    assert reply.status == 403


@pytest.mark.parametrize(
    "host", ["127.0.0.1:{port}", "localhost:{port}", "LOCALHOST:{port}", "[::1]:{port}", "127.0.0.1"]
)
def test_loopback_hosts_are_served(stack, host):
    reply = raw(stack, "GET", "/health", {"Host": host.format(port=stack.port)})
    assert reply.status == 200, reply.body
    assert reply.json()["status"]


# --- Origin: absent or this very origin ----------------------------------------


@pytest.mark.parametrize(
    "origin", [CROSS_SITE, "null", "http://127.0.0.1:1", "http://localhost:{port}.attacker.example", "file://"]
)
def test_a_cross_site_origin_is_refused_on_health(stack, origin):
    reply = raw(stack, "GET", "/health", {"Origin": origin.format(port=stack.port)})
    assert reply.status == 403, reply.body


def test_the_same_origin_is_served(stack):
    for origin in (stack.http_url, f"http://localhost:{stack.port}"):
        host = origin.removeprefix("http://")
        assert raw(stack, "GET", "/health", {"Origin": origin, "Host": host}).status == 200


def test_cross_site_text_plain_post_to_connections_never_reaches_the_client(stack):
    async def scenario():
        ws, connection_id = await connect_and_identify(stack)
        path = f"/api/@connections/{quote(connection_id, safe='')}"
        try:
            # What a form or fetch(..., {mode: "no-cors"}) on another site sends: no preflight.
            for extra in ({}, signed_headers(stack, "POST", path, b"owned")):
                headers = {**extra, "Origin": CROSS_SITE, "Content-Type": "text/plain"}
                reply = await asyncio.to_thread(raw, stack, "POST", path, headers, b"owned")
                assert reply.status == 403, reply.body
            # The next thing the client receives is the signed marker: nothing got through before it.
            marker = b'{"marker":1}'
            signed = signed_headers(stack, "POST", path, marker)
            assert (await asyncio.to_thread(raw, stack, "POST", path, signed, marker)).status == 200
            assert await asyncio.wait_for(ws.recv(), 10) == marker.decode()
        finally:
            await ws.close()

    asyncio.run(scenario())


def test_cross_site_post_to_local_pollers_stop_leaves_them_running(stack):
    headers = local_headers(stack, Origin=CROSS_SITE, **{"Content-Type": "text/plain"})
    reply = raw(stack, "POST", "/_local/pollers/stop", headers)
    assert reply.status == 403

    async def answered():
        async with websockets.connect(stack.websocket_url) as ws:
            await ws.send(json.dumps({"action": "sendMessage", "message": "still there?", "client_message_id": "g1"}))
            while True:
                frame = json.loads(await asyncio.wait_for(ws.recv(), 60))
                if frame["type"] in ("response", "error"):
                    return frame

    try:
        assert asyncio.run(answered())["type"] == "response"
    finally:
        stack.control_pollers("start")  # whatever happened, leave the stack usable


# --- /_local/*: the per-run token ---------------------------------------------


def test_the_console_names_the_local_control_url_and_its_token(stack):
    match = re.search(r"^  Local control:   (\S+) \(token: (\S+)\)$", stack.console(), re.MULTILINE)
    assert match, stack.console()
    assert match.group(1) == f"{stack.http_url}/_local"
    assert len(match.group(2)) >= 20 and match.group(2) == stack.local_token


@pytest.mark.parametrize("token", [None, "", "wrong-token"])
def test_local_control_needs_the_token(stack, token):
    headers = {} if token is None else {"X-Local-Token": token}
    reply = raw(stack, "POST", "/_local/pollers/stop", headers)
    assert reply.status == 403, reply.body


def test_local_control_with_the_token(stack):
    assert all(poller["running"] for poller in stack.control_pollers("start")["pollers"])


# --- @connections: SigV4 required ---------------------------------------------


def test_unsigned_connections_call_is_missing_authentication_token(stack):
    async def scenario():
        ws, connection_id = await connect_and_identify(stack)
        path = f"/api/@connections/{quote(connection_id, safe='')}"
        try:
            for method in ("POST", "GET", "DELETE"):
                reply = await asyncio.to_thread(raw, stack, method, path, {}, b"unsigned" if method == "POST" else b"")
                assert reply.status == 403, (method, reply.body)
                assert reply.headers["x-amzn-ErrorType"] == "MissingAuthenticationTokenException"
                assert reply.json() == {"message": "Missing Authentication Token"}
            marker = b"signed"
            signed = signed_headers(stack, "POST", path, marker)
            assert (await asyncio.to_thread(raw, stack, "POST", path, signed, marker)).status == 200
            assert await asyncio.wait_for(ws.recv(), 10) == "signed"
        finally:
            await ws.close()

    asyncio.run(scenario())


@pytest.mark.parametrize(
    "authorization",
    [
        "Bearer abc",
        "AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/execute-api/aws4_request",
        "AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/s3/aws4_request, SignedHeaders=host;x-amz-date, "
        "Signature=" + "0" * 64,
        "AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/execute-api/aws4_request, SignedHeaders=x-amz-date, "
        "Signature=" + "0" * 64,
    ],
)
def test_a_malformed_signature_is_incomplete(stack, authorization):
    headers = {"Authorization": authorization, "X-Amz-Date": "20260101T000000Z"}
    reply = raw(stack, "POST", "/api/@connections/AAAAAAAAAAAAAAA=", headers, b"x")
    assert reply.status == 403
    assert reply.headers["x-amzn-ErrorType"] == "IncompleteSignatureException"


def test_signed_boto3_client_still_posts_and_hears_gone(stack):
    async def scenario():
        ws, connection_id = await connect_and_identify(stack)
        client = stack.aws_client("apigatewaymanagementapi")
        await asyncio.to_thread(client.post_to_connection, ConnectionId=connection_id, Data=b"from boto3")
        assert await asyncio.wait_for(ws.recv(), 10) == "from boto3"
        await ws.close()
        with pytest.raises(client.exceptions.GoneException):
            await asyncio.to_thread(client.post_to_connection, ConnectionId="AAAAAAAAAAAAAAA=", Data=b"x")

    asyncio.run(scenario())


@pytest.mark.skipif(shutil.which("aws") is None, reason="the AWS CLI is not installed")
def test_the_aws_cli_still_posts(stack, tmp_path):
    async def scenario():
        ws, connection_id = await connect_and_identify(stack)
        data = tmp_path / "data.txt"
        data.write_text("from the cli")
        env = {
            **os.environ,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_CONFIG_FILE": str(tmp_path / "none"),
            "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"),
        }
        command = ["aws", "apigatewaymanagementapi", "post-to-connection", "--endpoint-url", stack.management_url]
        command += ["--connection-id", connection_id, "--data", f"fileb://{data}"]
        done = await asyncio.to_thread(subprocess.run, command, env=env, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        assert await asyncio.wait_for(ws.recv(), 10) == "from the cli"
        await ws.close()

    asyncio.run(scenario())


# --- the WebSocket upgrade stays open, as API Gateway's is ----------------------


def test_the_websocket_upgrade_accepts_any_origin(stack):
    async def scenario():
        async with websockets.connect(stack.websocket_url, origin=CROSS_SITE) as ws:
            await ws.send('{"action":"ping"}')
            assert json.loads(await asyncio.wait_for(ws.recv(), 10))["type"] == "pong"
            assert "aiohttp" not in (ws.response.headers.get("Server") or "")

    asyncio.run(scenario())


# --- response headers ------------------------------------------------------------


@pytest.mark.parametrize("path", ["/", "/static/app.js", "/static/style.css"])
def test_page_and_static_files_carry_the_security_headers(stack, path):
    reply = raw(stack, "GET", path)
    assert reply.status == 200
    policy = reply.headers["Content-Security-Policy"]
    directives = {part.split()[0]: part.split()[1:] for part in policy.split(";") if part.strip()}
    assert directives["default-src"] == ["'self'"]
    assert directives["frame-ancestors"] == ["'none'"]
    assert "'unsafe-inline'" not in policy and "'unsafe-eval'" not in policy
    assert "'self'" in directives["connect-src"]
    assert reply.headers["X-Content-Type-Options"] == "nosniff"
    assert reply.headers["Referrer-Policy"] == "no-referrer"


@pytest.mark.parametrize(
    "method, path, headers",
    [
        ("GET", "/", {}),
        ("GET", "/static/app.js", {}),
        ("GET", "/health", {}),
        ("GET", "/no/such/page", {}),
        ("GET", "/api", {}),  # a plain GET of the WebSocket URL: 426
        ("POST", "/api/@connections/AAAAAAAAAAAAAAA=", {}),
        ("GET", "/health", {"Host": "shop.attacker.example"}),
    ],
)
def test_no_response_names_the_server_software(stack, method, path, headers):
    reply = raw(stack, method, path, headers)
    server = reply.headers.get("Server") or ""
    assert "aiohttp" not in server and "Python" not in server, server
