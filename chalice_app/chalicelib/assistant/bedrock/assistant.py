"""The Bedrock assistant (``ASSISTANT_BACKEND=bedrock``): a model with the catalog tools.

One turn: ConverseStream with the tools; text deltas are forwarded as they arrive;
when the model stops to use tools (stopReason ``tool_use``) the calls run against
the catalog and the conversation continues with their results, up to
``max_tool_rounds`` times. Transient errors (throttling, stream errors) are
retried with backoff while nothing of that round has been forwarded yet; after
that, or for any other error, the exception propagates so chat_processor retries
the message and finally answers ``processing_failed``.
"""

import contextlib
import itertools
import logging
import time
from typing import Any, Callable, Dict, Iterator, List, Optional

from chalicelib import aws, catalog, logs
from chalicelib.assistant import cancel, tools
from chalicelib.assistant.base import AssistantEvent, Delta, Reply
from chalicelib.assistant.bedrock import prompt
from chalicelib.assistant.bedrock.retry import backoff_seconds, is_retryable
from chalicelib.assistant.bedrock.stream import ModelTurn, StreamReader
from chalicelib.assistant.bedrock.toolspec import TOOL_CONFIG, run_tool
from chalicelib.config import ConfigError, Settings
from chalicelib.sessions import SessionState

__all__ = ["BedrockAssistant", "NO_ANSWER", "TOO_MANY_LOOKUPS"]

log = logging.getLogger(__name__)

NO_ANSWER = "Sorry, I couldn't come up with an answer to that. Could you rephrase it?"
TOO_MANY_LOOKUPS = "I couldn't finish looking that up. Could you ask for something more specific?"

Product = Dict[str, Any]


class BedrockAssistant:
    def __init__(
        self,
        model_id: str,
        max_tokens: int = 1024,
        temperature: float = 0.2,
        client: Any = None,
        max_tool_rounds: int = 5,
        max_retries: int = 3,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.model_id, self.max_tokens, self.temperature = model_id, max_tokens, temperature
        self.max_tool_rounds, self.max_retries = max_tool_rounds, max_retries
        self._client, self._sleep = client, sleep

    @classmethod
    def from_settings(cls, config: Settings) -> "BedrockAssistant":
        if not 0 <= config.bedrock_temperature <= 1:
            # Bedrock would refuse every request; say so at start-up instead.
            raise ConfigError(f"BEDROCK_TEMPERATURE must be between 0 and 1, got {config.bedrock_temperature}")
        return cls(config.bedrock_model_id, config.bedrock_max_tokens, config.bedrock_temperature)

    @property
    def client(self) -> Any:
        return self._client or aws.client("bedrock-runtime")

    def respond(self, message: str, state: SessionState) -> Iterator[AssistantEvent]:
        # A retried delivery never reaches here: assistant.turn.run replays the recorded reply.
        messages = prompt.conversation(state, message)
        system = prompt.system_prompt(state)
        pieces: List[str] = []
        cards: List[Product] = []
        for round_number in itertools.count(1):
            turn = yield from self._stream_round(messages, system, pieces)
            messages.append({"role": "assistant", "content": turn.content or [{"text": "…"}]})
            logs.emit(
                log,
                "bedrock_round",
                session_id=state.session_id,
                round=round_number,
                stop_reason=turn.stop_reason,
                tools=[use["name"] for use in turn.tool_uses],
                **turn.usage,
            )
            if turn.stop_reason != "tool_use" or not turn.tool_uses:
                break
            if round_number > self.max_tool_rounds:
                yield from self._say(TOO_MANY_LOOKUPS, pieces)
                break
            messages.append({"role": "user", "content": self._run_tools(turn, state, cards)})
        if not "".join(pieces).strip():
            yield from self._say(NO_ANSWER, pieces)
        content = "".join(pieces)
        products = [catalog.public(item) for item in cards[: tools.MAX_RESULTS]]
        yield Reply(content=content, products=products)

    def _stream_round(
        self, messages: List[Dict[str, Any]], system: List[Dict[str, Any]], pieces: List[str]
    ) -> Iterator[AssistantEvent]:
        """One ConverseStream call, retried while nothing of it was forwarded. Returns the ModelTurn."""
        request = {
            "modelId": self.model_id,
            "messages": messages,
            "system": system,
            "toolConfig": TOOL_CONFIG,
            "inferenceConfig": {"maxTokens": self.max_tokens, "temperature": self.temperature},
        }
        attempt = 0
        while True:
            attempt += 1
            reader, forwarded = StreamReader(), False
            try:
                stream = self.client.converse_stream(**request)["stream"]
                # A stop closes the stream at once, from the thread that stops (no token after it).
                with cancel.current().on_cancel(stream.close), contextlib.closing(stream):
                    for event in stream:
                        text = reader.feed(event)
                        if not text:
                            continue
                        if not forwarded and pieces and not pieces[-1].endswith(("\n", " ")):
                            pieces.append("\n")  # a new round's text starts on its own line
                            yield Delta("\n")
                        forwarded = True
                        pieces.append(text)
                        yield Delta(text)
                return reader.finish()
            except Exception as error:
                if forwarded or attempt > self.max_retries or not is_retryable(error):
                    raise
                delay = backoff_seconds(attempt)
                logs.emit(
                    log,
                    "bedrock_retry",
                    logging.WARNING,
                    attempt=attempt,
                    delay_s=round(delay, 2),
                    error=_error_code(error),
                )
                self._sleep(delay)

    @staticmethod
    def _run_tools(turn: ModelTurn, state: SessionState, cards: List[Product]) -> List[Dict[str, Any]]:
        results = []
        for use in turn.tool_uses:
            outcome = run_tool(use["name"], use.get("input") or {}, state)
            if outcome.products:
                cards[:] = outcome.products  # the cards follow what the answer is about: the latest call
            results.append(
                {
                    "toolResult": {
                        "toolUseId": use["toolUseId"],
                        "content": [{"json": outcome.result}],
                        "status": "success" if outcome.ok else "error",
                    }
                }
            )
        return results

    @staticmethod
    def _say(text: str, pieces: List[str]) -> Iterator[Delta]:
        if pieces and not pieces[-1].endswith("\n"):
            text = "\n" + text
        pieces.append(text)
        yield Delta(text)


def _error_code(error: BaseException) -> Optional[str]:
    response = getattr(error, "response", None)
    if isinstance(response, dict):
        return response.get("Error", {}).get("Code")
    return type(error).__name__
