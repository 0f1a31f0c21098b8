"""boto3 clients, created once per (service, endpoint) and shared by threads.

boto3 clients are thread-safe; creating one costs milliseconds of CPU and a lot of
memory, so a warm Lambda (or the local runtime) must reuse them.
"""

import threading
from typing import Any, Dict, Optional, Tuple

import boto3
from botocore.config import Config

from chalicelib.config import settings

__all__ = ["client", "reset_clients"]

_CLIENT_CONFIG = Config(
    connect_timeout=3,
    read_timeout=10,
    retries={"max_attempts": 3, "mode": "standard"},
    max_pool_connections=64,
)

# A model can think for a while before its first token; 10 s would cut its stream off.
_SLOW_SERVICES = {"bedrock-runtime": _CLIENT_CONFIG.merge(Config(read_timeout=120))}

_clients: Dict[Tuple[str, Optional[str]], Any] = {}
_lock = threading.Lock()


def client(service_name: str, endpoint_url: Optional[str] = None) -> Any:
    """A cached client; ``endpoint_url=None`` lets boto3 resolve it (AWS_ENDPOINT_URL too)."""
    key = (service_name, endpoint_url)
    found = _clients.get(key)
    if found is not None:
        return found
    # One thread builds it: concurrent first calls would each pay the (CPU-heavy) build.
    with _lock:
        if key not in _clients:
            _clients[key] = boto3.session.Session().client(
                service_name,
                region_name=settings().region,
                endpoint_url=endpoint_url,
                config=_SLOW_SERVICES.get(service_name, _CLIENT_CONFIG),
            )
        return _clients[key]


def reset_clients() -> None:
    """Forget cached clients (tests that change endpoints or credentials)."""
    with _lock:
        _clients.clear()
