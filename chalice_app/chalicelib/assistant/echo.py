"""The echo assistant: repeats the message. Load tests use it as a zero-cost backend."""

import time
from typing import Iterator

from chalicelib.assistant.base import AssistantEvent, Delta, Reply
from chalicelib.sessions import SessionState

__all__ = ["EchoAssistant"]


class EchoAssistant:
    def __init__(self, delay_seconds: float = 0.0):
        self.delay_seconds = delay_seconds

    def respond(self, message: str, state: SessionState) -> Iterator[AssistantEvent]:
        if self.delay_seconds:
            # Stands in for a slow model so heartbeats and timeouts can be exercised.
            time.sleep(self.delay_seconds)
        content = f"You said: {message}"
        words = content.split(" ")
        for index, word in enumerate(words):
            yield Delta(word if index == 0 else " " + word)
        yield Reply(content=content, products=[])
