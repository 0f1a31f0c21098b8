"""One execution environment: an isolated Python process running one function's code.

``lambda_environment()`` is the process environment Lambda gives a function: its
configured variables plus the reserved ones (AWS docs, "Defined runtime environment
variables"). ``ExecutionEnvironment`` starts ``python -I -S bootstrap.py`` with it,
waits for the init phase, then runs one invocation at a time over pipes; past the
timeout the process is killed. Every line the function prints or logs goes to its
log (``localcloud.logfiles``).
"""

import contextlib
import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
import uuid
from typing import Any, Dict, Optional

from localcloud.events import ACCOUNT_ID
from localcloud.lambdaservice.config import EndpointRoutes, FunctionConfig
from localcloud.lambdaservice.errors import FunctionTimeoutError, InitError, InvocationError
from localcloud.logfiles import FunctionLog

__all__ = ["BOOTSTRAP", "INIT_TIMEOUT_SECONDS", "lambda_environment", "function_arn", "ExecutionEnvironment"]

BOOTSTRAP = os.path.join(os.path.dirname(os.path.abspath(__file__)), "bootstrap.py")
# Lambda gives the init phase 10 seconds (AWS docs, "Lambda execution environment lifecycle").
INIT_TIMEOUT_SECONDS = 10.0
_DIED = {"type": "died"}


def function_arn(config: FunctionConfig, region: str) -> str:
    return f"arn:aws:lambda:{region}:{ACCOUNT_ID}:function:{config.name}"


def lambda_environment(
    config: FunctionConfig, credentials: Dict[str, str], region: str, runtime_dir: str, log_stream: str
) -> Dict[str, str]:
    """The function's variables, then Lambda's reserved ones (which a function cannot override)."""
    env = {key: str(value) for key, value in config.environment.items()}
    env.update(
        {
            "AWS_LAMBDA_FUNCTION_NAME": config.name,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(config.memory_mb),
            "AWS_LAMBDA_FUNCTION_TIMEOUT": str(int(config.timeout_seconds)),
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{config.name}",
            "AWS_LAMBDA_LOG_STREAM_NAME": log_stream,
            "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
            "AWS_REGION": region,
            "AWS_DEFAULT_REGION": region,
            "AWS_EXECUTION_ENV": f"AWS_Lambda_python{sys.version_info.major}.{sys.version_info.minor}",
            "LAMBDA_TASK_ROOT": config.code_dir,
            "LAMBDA_RUNTIME_DIR": runtime_dir,
            "_HANDLER": config.handler,
            "LANG": "en_US.UTF-8",
            "TZ": ":UTC",
            "PATH": "/usr/local/bin:/usr/bin:/bin",
        }
    )
    env.update({key: value for key, value in credentials.items() if value})
    return env


class ExecutionEnvironment:
    """``start()`` (the cold start), then ``invoke()`` one at a time, then ``kill()``."""

    def __init__(
        self, config: FunctionConfig, routes: EndpointRoutes, credentials: Dict[str, str], runtime_dir: str,
        log: FunctionLog,
    ):  # fmt: skip
        self.config = config
        self.routes = routes
        self.log = log
        self.log_stream = time.strftime("%Y/%m/%d/[$LATEST]") + uuid.uuid4().hex
        self.env = lambda_environment(config, credentials, routes.region, runtime_dir, self.log_stream)
        self.process: Optional[subprocess.Popen] = None
        self.init_ms: Optional[float] = None  # reported with the first invocation, then None
        self.last_used = time.monotonic()
        self.generation = 0  # set by the service; an older generation is not reused
        self._messages: queue.Queue[Dict[str, Any]] = queue.Queue()

    @property
    def pid(self) -> Optional[int]:
        return self.process.pid if self.process else None

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self) -> None:
        """Start the process and wait for its init phase (raises InitError)."""
        read_fd, write_fd = os.pipe()
        routes = [self.routes.aws_endpoint, self.routes.execute_api]
        command = [sys.executable, "-I", "-S", BOOTSTRAP, str(write_fd), *routes]
        try:
            self.process = subprocess.Popen(
                command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                env=self.env, cwd=self.config.code_dir, pass_fds=(write_fd,), start_new_session=True,
            )  # fmt: skip
        finally:
            os.close(write_fd)
        control = os.fdopen(read_fd, "r", encoding="utf-8")
        threading.Thread(target=self._read_control, args=(control,), daemon=True, name="lambda-control").start()
        threading.Thread(target=self._read_output, daemon=True, name="lambda-output").start()
        message = self._next(INIT_TIMEOUT_SECONDS)
        if message is None:
            self.kill()
            raise InitError(f"{self.config.name}: init did not finish within {INIT_TIMEOUT_SECONDS:.0f} s",
                            "Runtime.InitTimeout")  # fmt: skip
        if message["type"] == "ready":
            self.init_ms = float(message["init_ms"])
            return
        self.kill()
        if message["type"] == "init_error":
            text = f"{message['errorType']}: {message['errorMessage']}"
            self.log.write("ERROR", f"[ERROR] {text}", level="ERROR", errorType=message["errorType"])
            raise InitError(f"{self.config.name} failed to initialise: {text}", message["errorType"])
        raise InitError(f"{self.config.name}: the runtime exited during init", "Runtime.ExitError")

    def invoke(self, event: Dict[str, Any], request_id: str) -> Any:
        """One invocation; the caller holds this environment for its duration."""
        self.last_used = time.monotonic()
        timeout = self.config.timeout_seconds
        request = {
            "request_id": request_id,
            "deadline_ms": int(time.time() * 1000 + timeout * 1000),
            "function_arn": function_arn(self.config, self.routes.region),
            "event": event,
        }
        try:
            self.process.stdin.write((json.dumps(request) + "\n").encode("utf-8"))
            self.process.stdin.flush()
        except (BrokenPipeError, ValueError):
            self.kill()
            raise InvocationError(f"{self.config.name}: the runtime exited", "Runtime.ExitError")
        message = self._next(timeout)
        self.last_used = time.monotonic()
        if message is None:
            self.kill()
            # Lambda's own line for it (the function's log, then an error result).
            self.log.write("ERROR", f"{request_id} Task timed out after {timeout:.2f} seconds", level="ERROR")
            raise FunctionTimeoutError(f"{self.config.name}: Task timed out after {timeout:.2f} seconds",
                                       "Sandbox.Timedout")  # fmt: skip
        if message["type"] == "result":
            return message.get("result")
        if message["type"] == "error":
            raise InvocationError(f"{self.config.name} failed: {message['errorType']}: {message['errorMessage']}",
                                  message["errorType"])  # fmt: skip
        self.kill()
        raise InvocationError(f"{self.config.name}: the runtime exited (code {self.process.poll()})",
                              "Runtime.ExitError")  # fmt: skip

    def _next(self, timeout: float) -> Optional[Dict[str, Any]]:
        """The next message other than a log record (those are written as they come), None on timeout."""
        try:
            return self._messages.get(timeout=timeout)
        except queue.Empty:
            return None

    def _read_control(self, control) -> None:
        with control:
            for line in control:
                try:
                    message = json.loads(line)
                except ValueError:
                    continue
                if message.get("type") == "log":
                    self.log.write("LOG", message.get("message", ""), level=message.get("level", "INFO"),
                                   logger=message.get("logger"))  # fmt: skip
                else:
                    self._messages.put(message)
        self._messages.put(_DIED)

    def _read_output(self) -> None:
        for raw in self.process.stdout:
            text = raw.decode("utf-8", errors="replace").rstrip("\n")
            if text:
                self.log.write("LOG", text, level="ERROR" if text.startswith("[ERROR]") else "INFO", stream="output")

    def kill(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()
        self.process.stdin.close()

    def memory_kb(self) -> int:
        """Resident memory of the process (Linux /proc), 0 when unknown."""
        try:
            with open(f"/proc/{self.pid}/status") as handle:
                for line in handle:
                    if line.startswith("VmRSS:"):
                        return int(line.split()[1])
        except (OSError, TypeError):
            pass
        return 0
