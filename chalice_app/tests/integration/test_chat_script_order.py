"""``scripts/chat.py`` with lines piped in faster than the replies come: the turns run in the
order typed. The gateway may handle two frames of one connection at once and ack them in either
order (API Gateway gives no order either), so the script sends the next message only once the
previous one is acked."""

import os
import subprocess
import sys

import pytest

from tests.support import REPO_DIR, LocalStackProcess

CHAT = os.path.join(REPO_DIR, "chalice_app", "scripts", "chat.py")
LINES = ["running shoes under 100", "add the first one to my cart", "what is in my cart", "empty my cart"]

pytestmark = pytest.mark.timeout(180)


def test_piped_lines_are_answered_in_the_order_typed():
    with LocalStackProcess() as stack:
        done = subprocess.run(
            [sys.executable, CHAT, stack.websocket_url, "--reply-timeout", "60"],
            input="\n".join(LINES) + "\n",
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert done.returncode == 0, done.stdout + done.stderr
    replies = [line.partition("assistant> ")[2] for line in done.stdout.splitlines() if "assistant> " in line]
    assert len(replies) == len(LINES), done.stdout
    assert replies[1].startswith("Added"), done.stdout
    assert replies[2].startswith("Your cart (1 item)"), done.stdout  # after the add, not before it
