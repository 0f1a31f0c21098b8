"""A fault-injecting assistant for reliability tests, loaded by the local runtime with
``ASSISTANT_BACKEND=tests.faults:FaultyAssistant`` (it never ships to Lambda; source mode
adds this one file to the package it runs).

The message text chooses the fault:

- ``fail-once …``: raises on the first attempt of that text in that session, answers
  afterwards. Each function runs in several execution environments (processes), and a
  retry may land in any of them, so the attempt is remembered outside the process: a
  marker file in the temporary directory, created atomically (``O_CREAT | O_EXCL``);
- ``fail-always …``: raises on every attempt;
- ``slow=<seconds> …``: sleeps first; ``slow-once=<seconds> …``: only on the first attempt
  (a Lambda timeout that a retry gets past);
- ``crash-once …``: the first attempt kills its execution environment (``os._exit``: no
  code runs after it, as when Lambda kills an environment);
- ``import-error …``: imports a module that is not there (a lazily loaded module missing
  from the package);
- ``missing-table …``: reads a table that does not exist (a role or stage missing a table);
- anything else: echoes.
"""

import hashlib
import importlib
import os
import re
import tempfile
import time

from chalicelib import aws
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
        _injected(message, state.session_id)
        if "fail-always" in message:
            raise RuntimeError(f"injected failure for {message!r}")
        if "fail-once" in message and first_attempt(message, state.session_id):
            raise RuntimeError(f"injected first-attempt failure for {message!r}")
        yield Delta("ok: ")
        yield Reply(content=f"ok: {message}")


def _slow_once(message: str, session_id: str) -> None:
    slow = re.search(r"slow-once=([0-9.]+)", message)
    if slow and first_attempt("slow-once " + message, session_id):
        time.sleep(float(slow.group(1)))


def _crash_once(message: str, session_id: str) -> None:
    if first_attempt("crash-once " + message, session_id):
        os._exit(137)


def _import_error(message: str, session_id: str) -> None:
    importlib.import_module("chalicelib.assistant.not_packaged")


def _missing_table(message: str, session_id: str) -> None:
    aws.client("dynamodb").get_item(TableName="shopping-assistant-not-created", Key={"id": {"S": "x"}})


_FAULTS = {
    "slow-once=": _slow_once,
    "crash-once": _crash_once,
    "import-error": _import_error,
    "missing-table": _missing_table,
}


def _injected(message: str, session_id: str) -> None:
    for marker, fault in _FAULTS.items():
        if marker in message:
            fault(message, session_id)
