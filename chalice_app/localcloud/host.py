"""Loading the Chalice app as Chalice does, and invoking its functions as Lambda does.

Each function gets the name ``chalice deploy`` would give it
(``<app>-<stage>-websocket_connect``, ``…-chat_processor``), a Lambda context
with its timeout, START/END/REPORT log lines, and its own CloudWatch-style log
file. Invocations run on the caller's thread; the gateway and the poller call
from worker threads so a slow handler never stalls anything else.
"""

import importlib
import os
import threading
import time
import traceback
from dataclasses import dataclass
from typing import Any, Callable, Dict, Optional

from chalice.cli.factory import CLIFactory

from chalicelib.errors import ShoppingAssistantError
from localcloud.events import LambdaContext
from localcloud.logfiles import FunctionLogs

__all__ = ["FunctionHost", "LocalFunction", "InvocationError"]

# What `chalice deploy` names the Lambda functions behind the WebSocket routes.
WEBSOCKET_FUNCTIONS = {
    "$connect": "websocket_connect",
    "$default": "websocket_message",
    "$disconnect": "websocket_disconnect",
}
DEFAULT_TIMEOUT_SECONDS = 60


class InvocationError(ShoppingAssistantError):
    """The function raised: Lambda reports an error result to the caller."""


@dataclass
class LocalFunction:
    name: str  # the name in the app: websocket_connect, chat_processor, ...
    full_name: str  # <app>-<stage>-<name>, as deployed
    handler: Callable[[Dict[str, Any], Any], Any]
    timeout_seconds: int


class FunctionHost:
    def __init__(self, project_dir: str, chalice_stage: str, logs: FunctionLogs):
        self.project_dir = os.path.abspath(project_dir)
        self.chalice_stage = chalice_stage
        self.logs = logs
        self.app: Any = None
        self.functions: Dict[str, LocalFunction] = {}
        self._local = threading.local()

    # --- loading ---------------------------------------------------------

    def stage_environment(self) -> Dict[str, str]:
        """The stage's environment_variables from .chalice/config.json ({} if none)."""
        config = self._config_for(None)
        return dict(config.environment_variables) if config is not None else {}

    def load(self) -> Any:
        """Import app.py with the stage's environment applied to os.environ, as Lambda has it."""
        factory = CLIFactory(self.project_dir, environ=os.environ)
        self.app = factory.load_chalice_app(self.stage_environment())
        module = importlib.import_module("app")
        for route_key, config in self.app.websocket_handlers.items():
            self._add(WEBSOCKET_FUNCTIONS[route_key], getattr(module, config.handler_string.split(".")[-1]))
        for source in self.app.event_sources:
            self._add(source.name, getattr(module, source.handler_string.split(".")[-1]))
        return self.app

    def _add(self, name: str, handler: Callable) -> None:
        full_name = f"{self.app.app_name}-{self.chalice_stage}-{name}"
        self.functions[name] = LocalFunction(name, full_name, handler, self.timeout_for(name))

    def timeout_for(self, name: str) -> int:
        """The function's lambda_timeout in .chalice/config.json, as ``chalice deploy`` reads it."""
        config = self._config_for(name)
        return int(config.lambda_timeout) if config is not None and config.lambda_timeout else DEFAULT_TIMEOUT_SECONDS

    def _config_for(self, function_name: Optional[str]):
        if not os.path.exists(os.path.join(self.project_dir, ".chalice", "config.json")):
            return None
        config = CLIFactory(self.project_dir).create_config_obj(chalice_stage_name=self.chalice_stage)
        return config.scope(self.chalice_stage, function_name) if function_name else config

    def sqs_sources(self):
        return [source for source in self.app.event_sources if type(source).__name__ == "SQSEventConfig"]

    # --- invoking --------------------------------------------------------

    def invoke(self, name: str, event: Dict[str, Any]) -> Any:
        function = self.functions[name]
        context = LambdaContext(function.full_name, function.timeout_seconds, region=_region())
        log = self.logs.for_function(function.full_name)
        log.write("START", f"RequestId: {context.aws_request_id} Version: $LATEST")
        self._local.log = log
        self._reset_websocket_api()
        started = time.perf_counter()
        failed = False
        try:
            return function.handler(event, context)
        except Exception as exc:
            failed = True
            log.write("ERROR", "".join(traceback.format_exception(exc)).rstrip(), level="ERROR")
            raise InvocationError(f"{function.full_name} failed: {exc!r}") from exc
        finally:
            duration_ms = (time.perf_counter() - started) * 1000
            self._local.log = None
            log.write("END", f"RequestId: {context.aws_request_id}")
            log.write(
                "REPORT",
                f"RequestId: {context.aws_request_id} Duration: {duration_ms:.2f} ms",
                duration_ms=round(duration_ms, 2),
                error=failed,
            )
            self.logs.summary(function.name, duration_ms, failed)

    def current_log(self):
        """The log of the function running on this thread (None outside an invocation)."""
        return getattr(self._local, "log", None)

    def _reset_websocket_api(self) -> None:
        # A warm Lambda keeps Chalice's endpoint only within websocket handlers; forgetting
        # it each time keeps local runs from hiding code that relies on it elsewhere.
        api = self.app.websocket_api
        api._endpoint = None
        api._client = None


def _region() -> str:
    return os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"

