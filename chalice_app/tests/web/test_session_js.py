"""The chat page's pure logic (``web/session.js``, ``web/reply.js``) under ``node --test``; skipped without node."""

import os
import shutil
import subprocess

import pytest

NODE = shutil.which("node")
HERE = os.path.dirname(os.path.abspath(__file__))

pytestmark = pytest.mark.skipif(NODE is None, reason="node is not installed (the page's logic is tested with node)")


@pytest.mark.parametrize("suite", ["session.test.js", "reply.test.js"])
def test_page_logic_under_node(suite):
    done = subprocess.run([NODE, "--test", os.path.join(HERE, suite)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert "# fail 0" in done.stdout
