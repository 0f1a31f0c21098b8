"""Assistant backends, chosen by ``ASSISTANT_BACKEND``."""

from chalicelib.assistant.base import Assistant, AssistantEvent, Delta, Reply
from chalicelib.config import ConfigError, Settings

__all__ = ["Assistant", "AssistantEvent", "Delta", "Reply", "BACKENDS", "create"]

BACKENDS = ("echo",)


def create(config: Settings) -> Assistant:
    backend = config.assistant_backend
    if backend == "echo":
        from chalicelib.assistant.echo import EchoAssistant

        return EchoAssistant(delay_seconds=config.assistant_delay_seconds)
    raise ConfigError(f"ASSISTANT_BACKEND={backend!r} is not known; use one of: {', '.join(BACKENDS)}")
