"""A fault-injecting assistant for reliability tests, loaded by the local runtime with
``ASSISTANT_BACKEND=tests.faults:FaultyAssistant`` (it never ships to Lambda; source mode
adds this one file to the package it runs).

The message text chooses the fault:

- ``fail-once …``: raises on the first attempt of that text in that session, answers
  afterwards. Each function runs in several execution environments (processes), and a
  retry may land in any of them, so the attempt is remembered outside the process: a
  marker file in the temporary directory, created atomically (``O_CREAT | O_EXCL``);
- ``fail-always …``: raises on every attempt;
- ``slow=<seconds> …``: sleeps first;
- anything else: echoes.
"""

import hashlib
import os
import re
import tempfile
import time

from chalicelib.assistant.base import Delta, Reply


def first_attempt(message: str, session_id: str) -> bool:
    """True once per (session, message) across every process on this machine."""
    digest = hashlib.sha256(f"{session_id}\0{message}".encode()).hexdigest()[:32]
    path = os.path.join(tempfile.gettempdir(), f"faulty-assistant-{digest}")
    try:
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
    except FileExistsError:
        return False
    return True


class FaultyAssistant:
    def __init__(self, config=None):
        self.config = config

    def respond(self, message, state):
        slow = re.search(r"slow=([0-9.]+)", message)
        if slow:
            time.sleep(float(slow.group(1)))
        if "fail-always" in message:
            raise RuntimeError(f"injected failure for {message!r}")
        if "fail-once" in message and first_attempt(message, state.session_id):
            raise RuntimeError(f"injected first-attempt failure for {message!r}")
        yield Delta("ok: ")
        yield Reply(content=f"ok: {message}")
