"""A fault-injecting assistant for reliability tests, loaded by the local runtime with
``ASSISTANT_BACKEND=tests.faults:FaultyAssistant`` (it never ships to Lambda).

The message text chooses the fault:

- ``fail-once …``: raises on the first attempt of that text, answers afterwards
  (state lives in the process, like a warm Lambda's);
- ``fail-always …``: raises on every attempt;
- ``slow=<seconds> …``: sleeps first;
- anything else: echoes.
"""

import re
import threading
import time

from chalicelib.assistant.base import Delta, Reply

_seen = set()
_lock = threading.Lock()


class FaultyAssistant:
    def __init__(self, config=None):
        self.config = config

    def respond(self, message, state):
        slow = re.search(r"slow=([0-9.]+)", message)
        if slow:
            time.sleep(float(slow.group(1)))
        if "fail-always" in message:
            raise RuntimeError(f"injected failure for {message!r}")
        if "fail-once" in message:
            with _lock:
                first = message not in _seen
                _seen.add(message)
            if first:
                raise RuntimeError(f"injected first-attempt failure for {message!r}")
        yield Delta("ok: ")
        yield Reply(content=f"ok: {message}")
