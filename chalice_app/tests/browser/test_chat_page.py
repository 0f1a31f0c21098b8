"""The chat page in a real browser (Debian's Chromium driven by Playwright) against a local stack."""

import contextlib
import json
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


# A tight rate limit (3 frames per 10 s per connection, no per-address limit): quick messages are
# refused and must end answered or resendable, never stuck.
STACK_ENV = ["ASSISTANT_DELAY_SECONDS=1", "HEARTBEAT_SECONDS=0.4", "RATE_LIMIT_MESSAGES=3", "RATE_LIMIT_IP_MESSAGES=0"]


@pytest.fixture(scope="module")
def stack():
    with LocalStackProcess(extra_args=[word for env in STACK_ENV for word in ("--env", env)]) as s:
        yield s


DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}


@contextlib.contextmanager
def chromium_page(viewport=None):
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport=viewport or {"width": 420, "height": 860})
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
    sync_api.expect(page.locator("#cart-count")).to_have_text("1")

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
    assert responses[0]["content"].startswith(before.strip())  # what was shown before the cut, kept
    assert assistant.locator(".text").inner_text() in responses[0]["content"]  # (its listed products are cards)
    assert assistant.locator(".product").count() >= 1

    # A reload replays the session from cursor 0: the question and its answer, once each.
    session_id = page.evaluate("window.chatClient.sessionId")
    page.reload()
    sync_api.expect(page.locator("#connection")).to_have_attribute("data-state", "connected")
    wait_until(page, "window.chatClient.received.includes('resumed')")
    replayed = frames_shown(page)
    assert [frame["cursor"] for frame in replayed] == cursors
    sync_api.expect(page.locator(".turn.user .text")).to_have_text(["running shoes under 100"])
    sync_api.expect(page.locator(".turn.assistant")).to_have_count(1)
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


# --- a page shoppers keep using: in view, products once, the cart, history, stop, quick messages ---

AXE_SCRIPT = None  # axe-core, as the axe-playwright-python package ships it (requirements.txt)
with contextlib.suppress(ImportError):
    import axe_playwright_python

    with open(os.path.join(os.path.dirname(axe_playwright_python.__file__), "axe.min.js"), encoding="utf-8") as f:
        AXE_SCRIPT = f.read()


def serious_accessibility_violations(page):
    """axe-core's violations of impact serious or critical (axe runs through the DevTools protocol,
    which the page's CSP does not govern)."""
    page.evaluate(AXE_SCRIPT)
    result = page.evaluate("axe.run(document, {resultTypes: ['violations']})")
    return [
        f"{violation['id']}: {[node['target'] for node in violation['nodes']]}"
        for violation in result["violations"]
        if violation["impact"] in ("serious", "critical")
    ]


def in_view(page, locator, whole=True):
    """The element is inside the conversation's visible area (whole, or at least its top)."""
    box = locator.bounding_box()
    view = page.locator("#chat").bounding_box()
    bottom = box["y"] + (box["height"] if whole else min(box["height"], 24))
    return box["y"] >= view["y"] - 1 and bottom <= view["y"] + view["height"] + 1


def last_exchange_in_view(page):
    return in_view(page, page.locator(".turn.user").last) and in_view(
        page, page.locator(".turn.assistant").last, whole=False
    )


def turn(page, text):
    """Send ``text`` and wait for its answer."""
    users = page.locator(".turn.user")
    before = users.count()
    send(page, text)
    sync_api.expect(users).to_have_count(before + 1)
    answered(page)


def answered(page):
    """The last question is answered (a rate-limited one is sent again first: up to 15 s)."""
    sync_api.expect(page.locator(".turn.user").last.locator(".state")).to_have_text("Answered", timeout=30_000)


def last_response(page):
    return [frame for frame in frames_shown(page) if frame["type"] == "response"][-1]


def stated_total(page):
    return re.search(r"Total: (\$[\d,]+\.\d\d)", last_response(page)["content"]).group(1)


RATING = re.compile(r"^★ \d\.\d \([\d,]+ reviews?\)$")


def test_desktop_turns_stay_in_view_products_show_once_and_the_cart_panel_works(stack):
    with chromium_page(DESKTOP) as page:
        page.goto(stack.http_url + "/")
        sync_api.expect(page.locator("#connection")).to_have_attribute("data-state", "connected")
        turn(page, "running shoes under 100")
        assert last_exchange_in_view(page)
        reply = page.locator(".turn.assistant").last
        cards = reply.locator(".product")
        names = cards.locator(".product-name").all_inner_texts()
        assert len(names) >= 2
        for name in names:  # products once: as cards, not again in the reply's text
            assert name not in reply.locator(".text").first.inner_text()
            assert name in last_response(page)["content"]  # (the server's text does list them)
        for field in ("brand", "price", "rating", "description", "attributes"):
            assert all(cards.locator(f".product-{field}").all_inner_texts()), field
        assert all(RATING.match(text) for text in cards.locator(".product-rating").all_inner_texts())

        cards.first.get_by_role("button", name=f"Add to cart {names[0]}").click()
        answered(page)
        sync_api.expect(page.locator("#cart-count")).to_have_text("1")
        cart = page.locator("#cart")
        sync_api.expect(cart.locator(".cart-name")).to_have_text([names[0]])
        sync_api.expect(page.locator("#cart-total")).to_have_text(stated_total(page))
        assert last_exchange_in_view(page)

        cart.get_by_role("button", name=f"One more {names[0]}").click()  # a message the assistant understands
        answered(page)
        sync_api.expect(page.locator("#cart-count")).to_have_text("2")
        sync_api.expect(cart.locator(".cart-quantity")).to_have_text(["2"])
        sync_api.expect(page.locator("#cart-total")).to_have_text(stated_total(page))
        assert last_exchange_in_view(page)

        turn(page, "wireless headphones")
        assert last_exchange_in_view(page)
        cart.get_by_role("button", name=f"Remove {names[0]} from the cart").click()
        answered(page)
        sync_api.expect(page.locator("#cart-count")).to_have_text("0")
        assert last_exchange_in_view(page)  # five turns, each in view

        # Keyboard: a card's button reached by Tab is visible, not behind the message box.
        page.locator(".turn.assistant .follow-up").last.focus()
        assert in_view(page, page.locator(".turn.assistant .follow-up").last)
        if AXE_SCRIPT:
            assert serious_accessibility_violations(page) == []
        os.makedirs(ARTIFACTS, exist_ok=True)
        page.screenshot(path=os.path.join(ARTIFACTS, "chat-page-desktop.png"))

        # An error the server words for developers reaches the shopper in plain words; the code is
        # under Details, the server's internals nowhere.
        internal = "service unavailable: the AWS emulator (moto server, pid 4639) exited with signal 9"
        frame = json.dumps({"type": "error", "code": "service_unavailable", "message": internal})
        page.evaluate(f"window.chatClient.ws.dispatchEvent(new MessageEvent('message', {{data: {json.dumps(frame)}}}))")
        error = page.locator(".turn.assistant.error").last
        sync_api.expect(error.locator(".text")).to_have_text(re.compile(r"not available right now\. Please try again"))
        assert "pid" not in error.inner_text() and "moto" not in error.inner_text()
        error.locator("summary").click()
        sync_api.expect(error.locator(".details")).to_contain_text("Code: service_unavailable")


def user_states(page):
    return page.locator(".turn.user .state").all_inner_texts()


def test_phone_history_after_reload_new_conversation_and_quick_messages(stack):
    with chromium_page(PHONE) as page:
        page.goto(stack.http_url + "/")
        sync_api.expect(page.locator("#connection")).to_have_attribute("data-state", "connected")
        questions = ["running shoes under 100", "wireless headphones", "laptops"]
        for question in questions:
            turn(page, question)
        answers = page.locator(".turn.assistant .text").all_inner_texts()
        session_id = page.evaluate("window.chatClient.sessionId")

        page.reload()  # the conversation comes back: each question with its answer, in order
        sync_api.expect(page.locator(".turn.user .text")).to_have_text(questions)
        sync_api.expect(page.locator(".turn.user .state")).to_have_text(["Answered"] * 3)  # the replay is in
        sync_api.expect(page.locator(".turn.assistant .product").first).to_be_visible()
        roles = page.locator(".turn").evaluate_all("items => items.map((item) => item.classList[1])")
        assert roles == ["user", "assistant"] * 3
        assert page.locator(".turn.assistant .text").all_inner_texts() == answers
        assert page.evaluate("window.chatClient.sessionId") == session_id
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")

        # Scrolled up to read: the reply does not pull the view down; the pill brings it.
        send(page, "cheaper ones")
        page.locator("#chat").evaluate("chat => { chat.scrollTop = 0; }")
        sync_api.expect(page.locator(".turn.user").last.locator(".state")).to_have_text("Answered", timeout=30_000)
        sync_api.expect(page.locator("#new-messages")).to_be_visible()
        assert not in_view(page, page.locator(".turn.user").last)
        page.locator("#new-messages").click()
        assert last_exchange_in_view(page)

        # The cart drawer opens and closes by keyboard.
        page.locator("#cart-toggle").click()
        sync_api.expect(page.locator("#cart")).to_be_visible()
        page.keyboard.press("Escape")
        sync_api.expect(page.locator("#cart")).to_be_hidden()

        page.get_by_role("button", name="New conversation").click()
        sync_api.expect(page.locator(".turn.user")).to_have_count(0)
        turn(page, "hello")
        new_session = page.evaluate("window.chatClient.sessionId")
        assert new_session and new_session != session_id

        # Four quick messages over a limit of 3 frames per 10 s (fixed windows from the epoch: all
        # four go in one): each ends answered, or not sent with Resend; none stays "Sending…".
        while time.time() % 10 > 5:
            page.wait_for_timeout(200)
        for index in range(4):
            send(page, f"running shoes size {40 + index}")
        sync_api.expect(page.locator(".turn.user")).to_have_count(5)
        deadline = time.monotonic() + 60
        countdowns = set()
        while not all(state in ("Answered", "Not sent") for state in user_states(page)):
            assert time.monotonic() < deadline, user_states(page)
            countdowns |= {state for state in user_states(page) if "sending again in" in state}
            page.wait_for_timeout(250)
        assert countdowns, "a refused message shows when it goes again"
        assert all(re.fullmatch(r"Sent too quickly; sending again in \d+ s", state) for state in countdowns)
        assert page.locator(".turn.user .resend").count() == user_states(page).count("Not sent")
        assert page.evaluate("window.chatClient.refusals") >= 1  # the limit did refuse, and the page re-sent
        os.makedirs(ARTIFACTS, exist_ok=True)
        page.screenshot(path=os.path.join(ARTIFACTS, "chat-page-phone.png"))
        if AXE_SCRIPT:
            assert serious_accessibility_violations(page) == []


def test_stop_ends_a_slow_reply_at_once_and_progress_moves_meanwhile(slow_stack):
    with chromium_page(DESKTOP) as page:
        page.goto(slow_stack.http_url + "/")
        sync_api.expect(page.locator("#connection")).to_have_attribute("data-state", "connected")
        send(page, "running shoes under 100")
        reply = page.locator(".turn.assistant").last
        elapsed = reply.locator(".progress .elapsed")
        sync_api.expect(reply.locator(".progress .progress-text")).to_have_text("Working on it", timeout=20_000)
        sync_api.expect(reply.locator(".progress .dots")).to_be_visible()
        first = elapsed.inner_text()
        sync_api.expect(elapsed).not_to_have_text(first, timeout=2_500)  # ticks between heartbeats
        sync_api.expect(page.locator("#stop")).to_be_visible()
        sync_api.expect(reply.locator(".text").first).to_have_text(re.compile(r"\S"), timeout=30_000)  # streaming

        page.keyboard.press("Escape")
        stopped_at = time.monotonic()
        sync_api.expect(reply.locator(".state")).to_have_text("Stopped", timeout=1_000)
        sync_api.expect(page.locator("#stop")).to_be_hidden()
        wait_until(page, "window.chatClient.shown.some((f) => f.type === 'response' && f.stopped)", timeout=2)
        assert time.monotonic() - stopped_at < 2
        response = last_response(page)
        assert response["stopped"] is True
        sync_api.expect(reply.locator(".text").first).to_have_text(response["content"])
        sync_api.expect(reply.locator(".product")).to_have_count(0)

        send(page, "hello")  # the input is free at once: the next message goes, not held behind the reply
        sync_api.expect(page.locator(".turn.user").last.locator(".state")).to_have_text("Sent", timeout=5_000)
