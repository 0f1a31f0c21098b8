"""The emulator's own pieces, with a stand-in function host: upgrade refusal and
the poller's reading of partial batch responses."""

import asyncio
from concurrent.futures import ThreadPoolExecutor

import pytest
import websockets
from aiohttp import web
from websockets.exceptions import InvalidStatus

from localcloud.gateway import Gateway
from localcloud.poller import failed_message_ids
from tests.support import free_port

pytestmark = pytest.mark.inprocess  # pure pieces: no stack (see tests/conftest.py)


class RecordingHost:
    """Answers $connect with a fixed status and records every invocation."""

    def __init__(self, connect_status: int):
        self.connect_status = connect_status
        self.invoked = []

    def invoke(self, name, event):
        self.invoked.append((name, event))
        if name == "websocket_connect":
            return {"statusCode": self.connect_status}
        return {"statusCode": 200}


async def serve_and_connect(host: RecordingHost):
    port = free_port()
    gateway = Gateway(host, ThreadPoolExecutor(2), stage="api", api_id="abc123", domain=f"127.0.0.1:{port}")
    runner = web.AppRunner(gateway.make_app())
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        async with websockets.connect(f"ws://127.0.0.1:{port}/api?token=t1", user_agent_header="ua/1") as ws:
            await ws.send('{"action":"ping"}')
            await asyncio.sleep(0.2)
    finally:
        await runner.cleanup()


def test_connect_refused_with_the_handlers_status_and_no_other_handler_runs():
    host = RecordingHost(connect_status=403)
    with pytest.raises(InvalidStatus) as refused:
        asyncio.run(serve_and_connect(host))
    assert refused.value.response.status_code == 403
    assert [name for name, _ in host.invoked] == ["websocket_connect"]


def test_connect_event_has_api_gateway_shape():
    host = RecordingHost(connect_status=200)
    asyncio.run(serve_and_connect(host))
    names = [name for name, _ in host.invoked]
    assert names == ["websocket_connect", "websocket_message", "websocket_disconnect"]
    connect, message, disconnect = (event for _, event in host.invoked)
    context = connect["requestContext"]
    assert context["routeKey"] == "$connect" and context["eventType"] == "CONNECT"
    assert context["stage"] == "api" and context["apiId"] == "abc123"
    assert context["identity"] == {"sourceIp": "127.0.0.1", "userAgent": "ua/1"}
    assert len(context["connectionId"]) == 16 and context["connectionId"].endswith("=")
    assert connect["queryStringParameters"] == {"token": "t1"}
    assert message["body"] == '{"action":"ping"}' and message["requestContext"]["eventType"] == "MESSAGE"
    assert message["requestContext"]["connectionId"] == context["connectionId"]
    assert disconnect["requestContext"]["disconnectStatusCode"] == 1000


BATCH = [{"MessageId": "a"}, {"MessageId": "b"}, {"MessageId": "c"}]


@pytest.mark.parametrize(
    "result, failed",
    [
        ({"batchItemFailures": []}, set()),
        ({"batchItemFailures": [{"itemIdentifier": "b"}]}, {"b"}),
        (None, set()),  # a handler that returns nothing succeeded for every record
        ({"batchItemFailures": [{"itemIdentifier": "zzz"}]}, {"a", "b", "c"}),  # unknown id: whole batch
        ({"batchItemFailures": "b"}, {"a", "b", "c"}),  # malformed: whole batch
    ],
)
def test_partial_batch_response_is_read_as_lambda_reads_it(result, failed):
    assert failed_message_ids(result, BATCH) == failed
