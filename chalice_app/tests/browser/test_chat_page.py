"""The chat page in a real browser (Debian's Chromium driven by Playwright) against a local stack."""

import os
import shutil

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


@pytest.fixture
def page(stack):
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 420, "height": 860})
        page = context.new_page()
        page.set_default_timeout(20_000)
        yield page
        browser.close()


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
    page.evaluate("window.chatClient.ws.send('{\"action\":\"sendMessage\",\"message\":\"   \"}')")
    sync_api.expect(page.locator(".turn.assistant.error")).to_contain_text("empty")


def test_phone_width_layout_has_no_horizontal_scroll(stack, page):
    page.set_viewport_size({"width": 360, "height": 740})
    page.goto(stack.http_url + "/")
    sync_api.expect(page.locator("#connection")).to_have_attribute("data-state", "connected")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    page.get_by_label("Message to the shopping assistant").focus()
    assert page.evaluate("document.activeElement.id") == "message"
