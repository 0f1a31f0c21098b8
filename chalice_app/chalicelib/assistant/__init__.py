"""Assistant backends, chosen by ``ASSISTANT_BACKEND``.

A built-in name, or ``package.module:Factory`` for an assistant of your own:
``Factory(settings)`` must return an object with ``respond(message, state)`` (a
``sessions.SessionState``; ``turn.run`` loads and saves it around the call).
"""

import importlib

from chalicelib.assistant import turn
from chalicelib.assistant.base import Assistant, AssistantEvent, Delta, Reply
from chalicelib.config import ConfigError, Settings

__all__ = ["Assistant", "AssistantEvent", "Delta", "Reply", "BACKENDS", "create", "turn"]

BACKENDS = ("catalog", "bedrock", "slow", "echo")


def create(config: Settings) -> Assistant:
    backend = config.assistant_backend
    if backend == "echo":
        from chalicelib.assistant.echo import EchoAssistant

        return EchoAssistant(delay_seconds=config.assistant_delay_seconds)
    if backend == "slow":
        # The catalog at the seed's 37-55 s per reply, unless ASSISTANT_DELAY_SECONDS says otherwise.
        from chalicelib.assistant.delayed import DelayedAssistant

        return DelayedAssistant(_catalog(config), seconds=config.assistant_delay_seconds or None)
    if ":" in backend:
        assistant = _load_custom(backend, config)
    elif backend == "catalog":
        assistant = _catalog(config)
    elif backend == "bedrock":
        from chalicelib.assistant.bedrock import BedrockAssistant

        assistant = BedrockAssistant.from_settings(config)
    else:
        raise ConfigError(f"ASSISTANT_BACKEND={backend!r} is not known; use one of: {', '.join(BACKENDS)}")
    return _delayed(assistant, config.assistant_delay_seconds)


def _catalog(config: Settings) -> Assistant:
    from chalicelib.assistant.catalog import CatalogAssistant

    return CatalogAssistant()


def _delayed(assistant: Assistant, seconds: float) -> Assistant:
    """ASSISTANT_DELAY_SECONDS slows any backend, to reproduce a slow model locally."""
    if not seconds:
        return assistant
    from chalicelib.assistant.delayed import DelayedAssistant

    return DelayedAssistant(assistant, seconds=seconds)


def _load_custom(spec: str, config: Settings) -> Assistant:
    module_name, _, factory_name = spec.partition(":")
    try:
        factory = getattr(importlib.import_module(module_name), factory_name)
    except (ImportError, AttributeError) as exc:
        raise ConfigError(f"ASSISTANT_BACKEND={spec!r} cannot be loaded: {exc}") from None
    return factory(config)
