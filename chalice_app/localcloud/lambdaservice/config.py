"""What Lambda knows about a function, and where calls made inside it are sent.

``FunctionConfig`` is one function as deployed (source mode builds it from
``.chalice/config.json``, deployed mode reads it from the emulated Lambda API);
``EndpointRoutes`` is what the bootstrap's botocore hook rewrites endpoints to
(see ``localcloud.lambdaservice.routing``); ``Invoker`` is the seam the gateway and
the SQS poller call (``invoke(name, event)``).
"""

from dataclasses import dataclass
from typing import Any, Dict, Optional, Protocol

__all__ = ["FunctionConfig", "EndpointRoutes", "Invoker"]


@dataclass(frozen=True)
class FunctionConfig:
    name: str  # deployed name, e.g. shopping-assistant-api-local-chat_processor
    handler: str  # as deployed: "app.chat_processor", "app.connect", ...
    code_dir: str  # the unpacked deployment package (app.py, chalicelib/, vendored deps)
    environment: Dict[str, str]  # the function's configured variables only
    timeout_seconds: float
    memory_mb: int
    role_arn: Optional[str]
    # Changes when code or configuration changes: warm environments of an older
    # version are retired, new invocations get fresh ones.
    version: str


@dataclass(frozen=True)
class EndpointRoutes:
    aws_endpoint: str  # the emulated region: every *.amazonaws.com service call goes here
    execute_api: str  # base URL of the local gateway (see routing's docstring for the rewrite)
    region: str = "us-east-1"  # AWS_REGION / AWS_DEFAULT_REGION inside the environments


class Invoker(Protocol):
    """What the gateway and the SQS poller call: a function by its name in the app."""

    def invoke(self, name: str, event: Dict[str, Any]) -> Any: ...
