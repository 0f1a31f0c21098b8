"""The chat page in a real browser (Debian's Chromium driven by Playwright) against a local stack."""

import contextlib
import os
import re
import shutil
import time
from urllib.parse import quote

import pytest

from tests.support import REPO_DIR, LocalStackProcess

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = os.path.join(REPO_DIR, "test-artifacts")
# Without these, Chromium keeps trying to reach Google's hosts on a closed network.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

if not os.path.exists(CHROMIUM):
    if os.environ.get("CI"):
        raise RuntimeError("chromium is not installed: .ci/run installs it with apt-get install chromium")
    pytest.skip("chromium is not installed (apt-get install chromium)", allow_module_level=True)

sync_api = pytest.importorskip("playwright.sync_api")
pytestmark = pytest.mark.timeout(180)


@pytest.fixture(scope="module")
def stack():
    with LocalStackProcess(extra_args=["--env", "ASSISTANT_DELAY_SECONDS=1", "--env", "HEARTBEAT_SECONDS=0.4"]) as s:
        yield s


@contextlib.contextmanager
def chromium_page():
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 420, "height": 860})
        page = context.new_page()
        page.set_default_timeout(20_000)
        yield page
        browser.close()


@pytest.fixture
def page(stack):
    with chromium_page() as page:
        yield page


def send(page, text):
    page.get_by_label("Message to the shopping assistant").fill(text)
    page.keyboard.press("Enter")


def test_chat_page_end_to_end(stack, page):
    page.goto(stack.http_url + "/")
    sync_api.expect(page.locator("#connection")).to_have_attribute("data-state", "connected")

    send(page, "running shoes under 100")
    assistant = page.locator(".turn.assistant").last
    sync_api.expect(assistant.locator(".state")).to_contain_text("Working on it")
    sync_api.expect(page.locator(".turn.user").last.locator(".state")).to_have_text("Answered")
    received = page.evaluate("window.chatClient.received")
    assert received.index("ack") < received.index("status") < received.index("response")
    assert received.count("response") == 1
    cards = assistant.locator(".product")
    sync_api.expect(cards.first).to_be_visible()
    assert 1 <= cards.count() <= 5
    first = cards.first
    sync_api.expect(first.locator(".product-price")).to_contain_text("$")
    sync_api.expect(first.locator(".product-rating")).to_contain_text("★")
    name = first.locator(".product-name").inner_text()
    first.get_by_role("button", name=f"Add to cart {name}").click()
    sync_api.expect(page.locator(".turn.user")).to_have_count(2)
    sync_api.expect(page.locator(".turn.user").last).to_contain_text(name)
    sync_api.expect(page.locator(".turn.user").last.locator(".state")).to_have_text("Answered")
    sync_api.expect(page.locator(".turn.assistant").last).to_contain_text("cart")
    sync_api.expect(page.locator(".turn.assistant").last).to_contain_text("Total")

    os.makedirs(ARTIFACTS, exist_ok=True)
    page.screenshot(path=os.path.join(ARTIFACTS, "chat-page.png"))

    # The server drops the connection: the page reconnects by itself and keeps working.
    session_id = page.evaluate("window.chatClient.sessionId")
    for connection_id in stack.connection_ids():
        stack.aws_client("apigatewaymanagementapi").delete_connection(ConnectionId=connection_id)
    sync_api.expect(page.locator("#connection")).to_have_attribute("data-state", "reconnecting")
    sync_api.expect(page.locator("#connection")).to_have_attribute("data-state", "connected")
    turns_before = page.locator(".turn.user").count()
    send(page, "hello again")
    sync_api.expect(page.locator(".turn.user")).to_have_count(turns_before + 1)
    sync_api.expect(page.locator(".turn.user").last.locator(".state")).to_have_text("Answered")
    assert page.evaluate("window.chatClient.sessionId") == session_id


def test_bad_input_is_explained_in_plain_words(stack, page):
    page.goto(stack.http_url + "/")
    sync_api.expect(page.locator("#connection")).to_have_attribute("data-state", "connected")
    page.evaluate('window.chatClient.ws.send(\'{"action":"sendMessage","message":"   "}\')')
    sync_api.expect(page.locator(".turn.assistant.error")).to_contain_text("empty")


def test_phone_width_layout_has_no_horizontal_scroll(stack, page):
    page.set_viewport_size({"width": 360, "height": 740})
    page.goto(stack.http_url + "/")
    sync_api.expect(page.locator("#connection")).to_have_attribute("data-state", "connected")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    page.get_by_label("Message to the shopping assistant").focus()
    assert page.evaluate("document.activeElement.id") == "message"


# --- the page's safety: its CSP, and where ?ws= may send the conversation ----------

RECORD_CSP_VIOLATIONS = """
window.cspViolations = [];
document.addEventListener("securitypolicyviolation",
  (event) => window.cspViolations.push(`${event.violatedDirective} ${event.blockedURI}`));
"""


@pytest.fixture
def watched(page):
    """The page, recording CSP violations, console errors, WebSockets opened and dialogs shown
    (each dialog is refused unless a test sets ``watched.accept_dialogs``)."""
    page.add_init_script(RECORD_CSP_VIOLATIONS)
    page.websockets, page.dialogs, page.console_errors = [], [], []
    page.accept_dialogs = False
    page.on("websocket", lambda ws: page.websockets.append(ws.url))
    page.on("console", lambda message: message.type == "error" and page.console_errors.append(message.text))

    def on_dialog(dialog):
        page.dialogs.append(dialog.message)
        dialog.accept() if page.accept_dialogs else dialog.dismiss()

    page.on("dialog", on_dialog)
    return page


def test_the_page_works_under_its_content_security_policy(stack, watched):
    response = watched.goto(stack.http_url + "/")
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    sync_api.expect(watched.locator("#connection")).to_have_attribute("data-state", "connected")
    send(watched, "running shoes under 100")
    sync_api.expect(watched.locator(".turn.user").last.locator(".state")).to_have_text("Answered")
    sync_api.expect(watched.locator(".turn.assistant .product").first).to_be_visible()
    assert watched.evaluate("window.cspViolations") == []
    assert not [text for text in watched.console_errors if "Content Security Policy" in text], watched.console_errors
    assert watched.dialogs == []
    assert watched.evaluate("fetch('/health').then((response) => response.status)") == 200
    # The recorder does see a violation when there is one: an inline script is refused.
    watched.evaluate("document.body.append(Object.assign(document.createElement('script'), {text: 'window.ran = 1'}))")
    watched.wait_for_function("window.cspViolations.length > 0")
    assert watched.evaluate("window.ran") is None


@pytest.mark.parametrize(
    "target",
    [
        "wss://chat.attacker.example/api",
        "ws://192.0.2.10:8000/api",
        "wss://abc123.execute-api.us-east-1.amazonaws.com.attacker.example/api",
        "wss://abc123.execute-api.us-east-1.amazonaws.com:8443/api",
    ],
)
def test_a_ws_link_to_another_server_asks_and_does_not_connect_when_refused(stack, watched, target):
    watched.goto(stack.http_url + "/?ws=" + quote(target, safe=""))
    sync_api.expect(watched.locator("#connection")).to_have_attribute("data-state", "blocked")
    assert len(watched.dialogs) == 1 and target.split("/")[2] in watched.dialogs[0]
    send(watched, "my address is 1 Main Street")
    watched.wait_for_timeout(1000)
    assert watched.websockets == []
    assert watched.locator("#connection").get_attribute("data-state") == "blocked"


def test_a_ws_link_the_user_agrees_to_is_connected(stack, watched):
    watched.accept_dialogs = True
    target = "wss://chat.partner.example/api"
    with watched.expect_websocket() as opened:
        watched.goto(stack.http_url + "/?ws=" + quote(target, safe=""))
    assert opened.value.url == target
    assert len(watched.dialogs) == 1


@pytest.mark.parametrize(
    "target",
    [
        "javascript:alert(1)",
        "https://chat.attacker.example/api",  # Chrome would open it as wss://
        "not a url",
        "wss://user@abc123.execute-api.us-east-1.amazonaws.com/api",
    ],
)
def test_a_ws_link_that_is_not_a_websocket_url_is_refused_without_asking(stack, watched, target):
    watched.goto(stack.http_url + "/?ws=" + quote(target, safe=""))
    sync_api.expect(watched.locator("#connection")).to_have_attribute("data-state", "blocked")
    assert watched.websockets == [] and watched.dialogs == []


def test_a_ws_link_to_loopback_connects_without_asking(stack, watched):
    for host in ("localhost", "127.0.0.1"):
        watched.goto(stack.http_url + "/?ws=" + quote(f"ws://{host}:{stack.port}/api", safe=""))
        sync_api.expect(watched.locator("#connection")).to_have_attribute("data-state", "connected")
    assert watched.dialogs == []
    assert watched.websockets == [f"ws://localhost:{stack.port}/api", f"ws://127.0.0.1:{stack.port}/api"]


def test_a_ws_link_to_api_gateway_connects_without_asking(stack, watched):
    target = "wss://abc123defg.execute-api.eu-west-1.amazonaws.com/api"
    with watched.expect_websocket() as opened:
        watched.goto(stack.http_url + "/?ws=" + quote(target, safe=""))
    assert opened.value.url == target
    assert watched.dialogs == []


# --- sessions: resume after a reconnect, and a session the server does not know -----------


@pytest.fixture(scope="module")
def slow_stack():
    # 70% of the delay before the first words, the rest between the pieces: time to cut the socket mid-stream.
    with LocalStackProcess(extra_args=["--env", "ASSISTANT_DELAY_SECONDS=12", "--env", "HEARTBEAT_SECONDS=1"]) as s:
        yield s


@pytest.fixture
def slow_page(slow_stack):
    with chromium_page() as page:
        yield page


def drop_every_connection(stack):
    for connection_id in stack.connection_ids():
        stack.aws_client("apigatewaymanagementapi").delete_connection(ConnectionId=connection_id)


def wait_until(page, expression, timeout=20):
    """Poll ``expression`` (page.wait_for_function would eval a string, which the page's CSP refuses)."""
    deadline = time.monotonic() + timeout
    while not page.evaluate(expression):
        assert time.monotonic() < deadline, f"not true within {timeout} s: {expression}"
        page.wait_for_timeout(100)


def frames_shown(page):
    return page.evaluate("window.chatClient.shown")


def test_a_reply_cut_off_mid_stream_is_finished_once_after_the_reconnect(slow_stack, slow_page):
    page = slow_page
    page.goto(slow_stack.http_url + "/")
    sync_api.expect(page.locator("#connection")).to_have_attribute("data-state", "connected")
    send(page, "running shoes under 100")
    assistant = page.locator(".turn.assistant").last
    sync_api.expect(assistant.locator(".text")).to_have_text(re.compile(r"\S"), timeout=60_000)  # streaming
    before = assistant.locator(".text").inner_text()

    drop_every_connection(slow_stack)
    sync_api.expect(page.locator("#connection")).to_have_attribute("data-state", "reconnecting")
    sync_api.expect(page.locator("#connection")).to_have_attribute("data-state", "connected")
    sync_api.expect(page.locator(".turn.user").last.locator(".state")).to_have_text("Answered", timeout=60_000)

    assert "resumed" in page.evaluate("window.chatClient.received")
    shown = frames_shown(page)
    cursors = [frame["cursor"] for frame in shown]
    assert cursors == list(range(1, len(cursors) + 1)), cursors  # each frame once, none missing
    responses = [frame for frame in shown if frame["type"] == "response"]
    assert len(responses) == 1
    streamed = "".join(frame["delta"] for frame in shown if frame["type"] == "chunk")
    assert streamed == responses[0]["content"]  # the chunks before and after the cut, each once
    sync_api.expect(page.locator(".turn.assistant")).to_have_count(1)
    sync_api.expect(page.locator(".turn.error")).to_have_count(0)
    assert before.strip() != responses[0]["content"].strip()  # the cut came mid-reply
    assert assistant.locator(".text").inner_text().startswith(before.strip())
    assert assistant.locator(".product").count() >= 1

    # A reload resumes after the stored cursor: nothing is shown again, the session goes on.
    session_id = page.evaluate("window.chatClient.sessionId")
    page.reload()
    sync_api.expect(page.locator("#connection")).to_have_attribute("data-state", "connected")
    wait_until(page, "window.chatClient.received.includes('resumed')")
    assert frames_shown(page) == []
    assert page.evaluate("window.chatClient.sessionId") == session_id


def test_a_session_the_server_does_not_know_starts_a_new_conversation_and_says_so(stack, page):
    page.goto(stack.http_url + "/")
    sync_api.expect(page.locator("#connection")).to_have_attribute("data-state", "connected")
    page.evaluate(
        "localStorage.setItem('shopping-assistant.session_id', 'never-issued-by-the-server');"
        "localStorage.setItem('shopping-assistant.cursor', '41')"
    )
    page.reload()
    sync_api.expect(page.locator(".turn.note")).to_have_text(
        "Your earlier conversation has expired; starting a new one"
    )
    send(page, "hello")
    sync_api.expect(page.locator(".turn.user").last.locator(".state")).to_have_text("Answered")
    session_id = page.evaluate("window.chatClient.sessionId")
    assert session_id and session_id != "never-issued-by-the-server"
    assert page.evaluate("localStorage.getItem('shopping-assistant.session_id')") == session_id
    sync_api.expect(page.locator(".turn.note")).to_have_count(1)
