"""All runtime configuration, read once from environment variables.

Defaults suit the local runtime. Inside Lambda (``AWS_LAMBDA_FUNCTION_NAME`` is
set) the resource names must be configured explicitly, so a deployed function
never talks to a table or queue that happens to share a local default name.
"""

import functools
import math
import os
from dataclasses import dataclass
from typing import Mapping, Optional, Tuple

from chalicelib.errors import ConfigError

__all__ = ["ConfigError", "Settings", "settings", "load", "DEFAULT_BEDROCK_MODEL_ID"]

# Amazon Nova Lite: on-demand in us-east-1, streams tool use through ConverseStream, and costs little.
DEFAULT_BEDROCK_MODEL_ID = "amazon.nova-lite-v1:0"

# Names that must come from .chalice/config.json when running in Lambda.
REQUIRED_IN_LAMBDA = ("CHAT_QUEUE_NAME", "CONNECTIONS_TABLE", "IDEMPOTENCY_TABLE")


@dataclass(frozen=True)
class Settings:
    region: str
    queue_name: str
    queue_url: Optional[str]
    connections_table: str
    idempotency_table: str
    sessions_table: str
    frames_table: str
    sqs_batch_size: int
    max_receive_count: int
    message_ttl_seconds: int
    heartbeat_seconds: float
    connection_ttl_seconds: int
    idempotency_ttl_seconds: int
    assistant_backend: str
    assistant_delay_seconds: float
    bedrock_model_id: str
    bedrock_max_tokens: int
    bedrock_temperature: float
    session_ttl_seconds: int
    session_history_limit: int
    resume_window_seconds: int
    websocket_domain: Optional[str]
    websocket_stage: Optional[str]
    websocket_endpoint_url: Optional[str]
    auth_api_keys: Tuple[str, ...]
    auth_token_secret: Optional[str]
    auth_max_ttl_seconds: int
    rate_limit_messages: int
    rate_limit_window_seconds: int
    rate_limit_subject_messages: int
    rate_limit_ip_messages: int
    ping_rate_limit: int
    resume_rate_limit: int
    chunk_flush_ms: int
    retry_backoff_seconds: Tuple[int, ...] = (5, 15, 30, 60)
    in_flight_visibility_seconds: int = 20
    deadline_margin_seconds: float = 10.0


class _Reader:
    def __init__(self, env: Mapping[str, str]):
        self.env = env
        self.in_lambda = "AWS_LAMBDA_FUNCTION_NAME" in env

    def text(self, name: str, default: Optional[str] = None) -> Optional[str]:
        value = self.env.get(name, "").strip()
        if value:
            return value
        if self.in_lambda and name in REQUIRED_IN_LAMBDA:
            raise ConfigError(
                f"{name} is not set: add it to environment_variables for this stage in chalice_app/.chalice/config.json"
            )
        return default

    def number(self, name: str, default: float, kind=int, minimum: float = 0):
        raw = self.env.get(name, "").strip()
        if not raw:
            return default
        try:
            value = kind(raw)
        except ValueError:
            raise ConfigError(f"{name} must be a {kind.__name__}, got {raw!r}") from None
        if not math.isfinite(value):
            raise ConfigError(f"{name} must be a finite number, got {raw!r}")
        if value < minimum:
            raise ConfigError(f"{name} must be at least {minimum}, got {raw!r}")
        return value


def load(env: Optional[Mapping[str, str]] = None) -> Settings:
    """Build Settings from ``env`` (default: ``os.environ``)."""
    read = _Reader(os.environ if env is None else env)
    region = read.text("AWS_REGION") or read.text("AWS_DEFAULT_REGION", "us-east-1")
    per_connection = read.number("RATE_LIMIT_MESSAGES", 5)
    return Settings(
        region=region,
        queue_name=read.text("CHAT_QUEUE_NAME", "ChatProcessingQueue.fifo"),
        queue_url=read.text("CHAT_QUEUE_URL"),
        connections_table=read.text("CONNECTIONS_TABLE", "shopping-assistant-connections"),
        idempotency_table=read.text("IDEMPOTENCY_TABLE", "shopping-assistant-idempotency"),
        sessions_table=read.text("SESSIONS_TABLE", "shopping-assistant-sessions"),
        frames_table=read.text("FRAMES_TABLE", "shopping-assistant-frames"),
        sqs_batch_size=read.number("SQS_BATCH_SIZE", 1, minimum=1),
        max_receive_count=read.number("MAX_RECEIVE_COUNT", 5, minimum=1),
        message_ttl_seconds=read.number("MESSAGE_TTL_SECONDS", 300, minimum=1),
        heartbeat_seconds=read.number("HEARTBEAT_SECONDS", 10.0, kind=float, minimum=0.05),
        connection_ttl_seconds=read.number("CONNECTION_TTL_SECONDS", 3 * 3600, minimum=60),
        idempotency_ttl_seconds=read.number("IDEMPOTENCY_TTL_SECONDS", 3600, minimum=60),
        assistant_backend=_backend_name(read.text("ASSISTANT_BACKEND", "catalog")),
        assistant_delay_seconds=read.number("ASSISTANT_DELAY_SECONDS", 0.0, kind=float),
        bedrock_model_id=read.text("BEDROCK_MODEL_ID", DEFAULT_BEDROCK_MODEL_ID),
        bedrock_max_tokens=read.number("BEDROCK_MAX_TOKENS", 1024, minimum=1),
        bedrock_temperature=read.number("BEDROCK_TEMPERATURE", 0.2, kind=float),
        session_ttl_seconds=read.number("SESSION_TTL_SECONDS", 24 * 3600, minimum=60),
        session_history_limit=read.number("SESSION_HISTORY_LIMIT", 10, minimum=1),
        resume_window_seconds=read.number("RESUME_WINDOW_SECONDS", 900, minimum=60),
        websocket_domain=read.text("WEBSOCKET_DOMAIN"),
        websocket_stage=read.text("WEBSOCKET_STAGE"),
        websocket_endpoint_url=read.text("WEBSOCKET_ENDPOINT_URL"),
        auth_api_keys=tuple(key.strip() for key in (read.text("AUTH_API_KEYS") or "").split(",") if key.strip()),
        auth_token_secret=read.text("AUTH_TOKEN_SECRET"),
        auth_max_ttl_seconds=read.number("AUTH_MAX_TTL_SECONDS", 24 * 3600, minimum=60),
        rate_limit_messages=per_connection,
        rate_limit_window_seconds=read.number("RATE_LIMIT_WINDOW_SECONDS", 10, minimum=1),
        rate_limit_subject_messages=read.number("RATE_LIMIT_SUBJECT_MESSAGES", per_connection),
        # Off: one address can be a whole office or carrier behind a NAT (chalicelib/ratelimit.py).
        rate_limit_ip_messages=read.number("RATE_LIMIT_IP_MESSAGES", 0),
        ping_rate_limit=read.number("PING_RATE_LIMIT", 20),
        resume_rate_limit=read.number("RESUME_RATE_LIMIT", 10),
        # At most one chunk post per this many ms (0: one post per delta); see chalicelib/coalesce.py.
        chunk_flush_ms=read.number("CHUNK_FLUSH_MS", 100),
        **_retry_settings(read),
    )


def _retry_settings(read: _Reader) -> dict:
    """How chat_processor retries (chalicelib/retry.py): the visibility a failed attempt ``n``
    sets (the ``n``-th backoff, the last one repeated), the visibility it keeps on the record while
    alive (a dead environment's record returns after at most that), and how long before the
    Lambda deadline it stops itself (0: never)."""
    heartbeat = read.number("HEARTBEAT_SECONDS", 10.0, kind=float, minimum=0.05)
    in_flight = read.number("IN_FLIGHT_VISIBILITY_SECONDS", 20, minimum=1)
    if in_flight < 2 * heartbeat:
        raise ConfigError(
            f"IN_FLIGHT_VISIBILITY_SECONDS ({in_flight}) must be at least twice HEARTBEAT_SECONDS ({heartbeat:g}):"
            " each heartbeat extends the record's visibility, and one late heartbeat must not let it return"
        )
    return {
        "retry_backoff_seconds": _backoffs(read.text("RETRY_BACKOFF_SECONDS", "5,15,30,60")),
        "in_flight_visibility_seconds": in_flight,
        "deadline_margin_seconds": read.number("DEADLINE_MARGIN_SECONDS", 10.0, kind=float),
    }


def _backoffs(raw: str) -> Tuple[int, ...]:
    try:
        values = tuple(int(part) for part in raw.split(","))
    except ValueError:
        values = ()
    if not values or any(value < 0 or value > 43_200 for value in values):
        raise ConfigError(
            f"RETRY_BACKOFF_SECONDS must be whole seconds between 0 and 43200 separated by commas"
            f" (e.g. 5,15,30,60), got {raw!r}"
        )
    return values


def _backend_name(value: str) -> str:
    # Built-in names are case-insensitive; "module.path:Factory" is kept as written.
    return value if ":" in value else value.lower()


@functools.lru_cache(maxsize=1)
def settings() -> Settings:
    """The process-wide Settings (``settings.cache_clear()`` re-reads the env)."""
    return load()
