"""The local console page (/console) in Chromium against a local stack: a message sent here
shows up within 2 s, and its timeline is drawn as bars once it is answered."""

import json
import os
import time
import urllib.error
import urllib.request

import pytest
from websockets.sync.client import connect

from tests.browser.test_chat_page import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, RECORD_CSP_VIOLATIONS, sync_api
from tests.support import LocalStackProcess

pytestmark = pytest.mark.timeout(180)

# Into test-artifacts/ (git-ignored), as the chat page's; copy it to docs/console-page.png to refresh the README's.
SCREENSHOT = os.path.join(ARTIFACTS, "console-page.png")


@pytest.fixture(scope="module")
def stack():
    args = ["--pollers", "1", "--env", "ASSISTANT_DELAY_SECONDS=1.5", "--env", "RATE_LIMIT_MESSAGES=0", "--quiet"]
    with LocalStackProcess(extra_args=args) as s:
        yield s


@pytest.fixture
def page(stack):
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
        page.set_default_timeout(20_000)
        page.add_init_script(RECORD_CSP_VIOLATIONS)
        yield page
        browser.close()


SESSIONS = {}  # message_id -> the session the server issued in its ack


def send_message(ws, text):
    ws.send(json.dumps({"action": "sendMessage", "message": text}))
    while True:
        frame = json.loads(ws.recv(timeout=20))
        if frame.get("type") == "ack":
            SESSIONS[frame["message_id"]] = frame["session_id"]
            return frame["message_id"]


def wait_for_responses(ws, message_ids):
    """The terminal frame of each message, by id."""
    frames = {}
    while len(frames) < len(message_ids):
        frame = json.loads(ws.recv(timeout=30))
        if frame.get("type") in ("response", "error") and frame.get("message_id") in message_ids:
            frames[frame["message_id"]] = frame
    return frames


def test_a_message_shows_up_within_2_s_with_its_timeline_bars(stack, page):
    response = page.goto(stack.http_url + "/console")
    assert "script-src 'self'" in response.headers["content-security-policy"]
    sync_api.expect(page.locator("#status")).to_have_attribute("data-state", "live")
    with connect(stack.websocket_url) as ws:
        sync_api.expect(page.locator("#connection-count")).to_have_text("1")
        sent = time.monotonic()
        message_id = send_message(ws, "running shoes under 100")
        row = page.locator(f'#messages tr[data-message-id="{message_id}"]')
        row.wait_for(timeout=10_000)
        shown_after = time.monotonic() - sent
        print(f"shown {shown_after * 1000:.0f} ms after the send")
        assert shown_after <= 2.0
        # Two more behind it on the one poller: their bars start with a queue wait.
        backlog = [send_message(ws, "trail shoes"), send_message(ws, "a rain jacket")]
        frames = wait_for_responses(ws, [message_id, *backlog])
        assert {frame["type"] for frame in frames.values()} == {"response"}
        sync_api.expect(row.locator(".outcome")).to_have_text("answered")
        segments = row.locator(".segment")
        sync_api.expect(row.locator(".segment.processing")).to_be_visible()
        processing_ms = int(row.locator(".segment.processing").get_attribute("data-ms"))
        delivery = row.locator(".segment.delivery")
        delivery_ms = int(delivery.get_attribute("data-ms")) if delivery.count() else 0
        assert processing_ms + delivery_ms >= 1500  # ASSISTANT_DELAY_SECONDS, to the first chunk and on
        assert segments.count() >= 2 and row.locator(".segment.queue_wait").count() == 1
        sync_api.expect(page.locator("#functions tbody")).to_contain_text("chat_processor")
        sync_api.expect(page.locator("#functions tbody")).to_contain_text("websocket_message")
        assert row.locator("td").nth(2).inner_text() in (SESSIONS[message_id], "–")
        for waiting in backlog:
            sync_api.expect(page.locator(f'#messages tr[data-message-id="{waiting}"] .outcome')).to_have_text(
                "answered"
            )
        sync_api.expect(page.locator("#metrics tbody")).to_contain_text("queue_wait")
        page.wait_for_timeout(600)  # one more poll, so the screenshot shows the finished rows
        os.makedirs(ARTIFACTS, exist_ok=True)
        page.screenshot(path=SCREENSHOT, full_page=True)
    assert page.evaluate("window.cspViolations") == []
    # The numbers on the page are the ones trace.py reads from the same logs.
    state = page.evaluate("window.consoleState")
    [shown] = [message for message in state["messages"] if message["message_id"] == message_id]
    assert shown["phases"]["processing"] == processing_ms


def test_the_state_refuses_a_cross_site_origin_and_a_rebound_host(stack, page):
    for path in ("/console", "/console/api/state"):
        response = page.request.get(stack.http_url + path, headers={"Origin": "http://evil.example"})
        assert response.status == 403
        rebound = urllib.request.Request(stack.http_url + path, headers={"Host": "evil.example:8000"})
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(rebound, timeout=10)
        assert refused.value.code == 403
        assert page.request.get(stack.http_url + path).status == 200
