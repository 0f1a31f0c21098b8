"""The runtime inside one execution environment: what Lambda's Python bootstrap does, over pipes.

Started by ``localcloud.lambdaservice.environment`` as::

    python -I -S bootstrap.py <control-fd> <aws-endpoint> <execute-api-base>

``-I`` isolates it from the developer's environment (no ``PYTHON*`` variables, no user
site, no script directory on the path) and ``-S`` keeps the dev venv's site-packages
out. Like Lambda's own bootstrap, it then puts ``LAMBDA_TASK_ROOT`` (the deployment
package) first on ``sys.path`` and ``LAMBDA_RUNTIME_DIR`` (boto3/botocore only) last,
installs the endpoint routing (``routing.py``, loaded by file path so the function's
code cannot import it), imports the module of ``_HANDLER`` (the init phase) and serves
invocations one at a time.

Protocol: the parent writes one JSON line per invocation on stdin
(``{"request_id", "deadline_ms", "event", "function_arn"}``); this process answers on
``<control-fd>`` with JSON lines: ``{"type": "ready", "init_ms"}`` or ``{"type":
"init_error", ...}`` once, then per invocation ``{"type": "result", "result"}`` or
``{"type": "error", "errorType", "errorMessage", "stackTrace"}``, and ``{"type": "log",
...}`` for each logging record. The handler's stdout and stderr go to the parent too,
as the function's log. EOF on stdin ends the environment.
"""

import collections
import importlib
import importlib.util
import json
import logging
import os
import sys
import threading
import time
import traceback

_control_lock = threading.Lock()


class _Channel:
    def __init__(self, fd: int):
        self._out = os.fdopen(fd, "w", encoding="utf-8", buffering=1)

    def send(self, message) -> None:
        text = json.dumps(message, default=str, ensure_ascii=False)
        with _control_lock:
            self._out.write(text + "\n")
            self._out.flush()


class _LogHandler(logging.Handler):
    """The Lambda runtime's root handler: each record becomes a line of the function's log."""

    def __init__(self, channel: _Channel):
        super().__init__()
        self.channel = channel

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = record.getMessage()
            if record.exc_info:
                message += "\n" + logging.Formatter().formatException(record.exc_info)
            self.channel.send({"type": "log", "level": record.levelname, "logger": record.name, "message": message})
        except Exception:
            self.handleError(record)


class LambdaContext:
    """The context object the Lambda Python runtime passes to a handler."""

    def __init__(self, request_id: str, deadline_ms: int, function_arn: str):
        self.function_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "")
        self.function_version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        self.invoked_function_arn = function_arn
        self.memory_limit_in_mb = int(os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128"))
        self.aws_request_id = request_id
        self.log_group_name = os.environ.get("AWS_LAMBDA_LOG_GROUP_NAME", "")
        self.log_stream_name = os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME", "")
        self.identity = None
        self.client_context = None
        self._deadline_ms = deadline_ms

    def get_remaining_time_in_millis(self) -> int:
        return max(0, self._deadline_ms - int(time.time() * 1000))


def _error(exc: BaseException, error_type: str = "", message: str = ""):
    return {
        "errorType": error_type or type(exc).__name__,
        "errorMessage": message or str(exc),
        "stackTrace": traceback.format_tb(exc.__traceback__),
    }


def _load_handler(handler: str):
    """``(function, None)``, or ``(None, error)`` named as the Lambda runtime names it."""
    module_name, _, function_name = handler.rpartition(".")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        return None, _error(exc, "Runtime.ImportModuleError", f"Unable to import module '{module_name}': {exc}")
    except SyntaxError as exc:
        return None, _error(exc, "Runtime.UserCodeSyntaxError", f"Syntax error in module '{module_name}': {exc}")
    except Exception as exc:
        return None, _error(exc)
    function = getattr(module, function_name, None)
    if function is None:
        message = f"Handler '{function_name}' missing on module '{module_name}'"
        return None, {"errorType": "Runtime.HandlerNotFound", "errorMessage": message, "stackTrace": []}
    return function, None


def _routing_module():
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "routing.py")
    spec = importlib.util.spec_from_file_location("_localcloud_routing", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _count_aws_calls(directory):
    """A ``before-send`` handler on every botocore session; returns ``flush()`` (one line per invocation)."""
    from botocore import handlers

    counts, lock = collections.Counter(), threading.Lock()
    function = os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "function")
    path = os.path.join(directory, f"{function}-{os.getpid()}.jsonl")

    def before_send(event_name="", **_kwargs):
        _, service, operation = (event_name.split(".", 2) + ["", ""])[:3]
        with lock:
            counts[f"{service}.{operation}"] += 1

    def flush():
        with lock:
            taken = dict(counts)
            counts.clear()
        if taken:
            with open(path, "a", encoding="utf-8") as handle:
                handle.write(json.dumps({"function": function, "calls": taken}) + "\n")

    handlers.BUILTIN_HANDLERS.append(("before-send", before_send))
    return flush


def main(argv) -> int:
    started = time.perf_counter()
    channel = _Channel(int(argv[1]))
    aws_endpoint, execute_api = argv[2], argv[3]
    # Lambda's bootstrap: the task root first, the runtime's own packages last.
    sys.path.insert(0, os.environ["LAMBDA_TASK_ROOT"])
    sys.path.append(os.environ["LAMBDA_RUNTIME_DIR"])
    sys.stdout.reconfigure(line_buffering=True)
    sys.stderr.reconfigure(line_buffering=True)
    root = logging.getLogger()
    root.addHandler(_LogHandler(channel))
    root.setLevel(logging.WARNING)  # the Lambda runtime's default
    _routing_module().install(aws_endpoint, execute_api)
    counted = os.environ.get("BENCH_COUNT_AWS_CALLS")
    flush_counts = _count_aws_calls(counted) if counted else (lambda: None)
    handler, error = _load_handler(os.environ["_HANDLER"])
    if error is not None:
        channel.send({"type": "init_error", **error})
        return 1
    channel.send({"type": "ready", "init_ms": (time.perf_counter() - started) * 1000})
    for line in sys.stdin:
        request = json.loads(line)
        context = LambdaContext(request["request_id"], request["deadline_ms"], request["function_arn"])
        try:
            result = handler(request["event"], context)
        except Exception as exc:
            flush_counts()
            _report(channel, _error(exc), exc)
            continue
        flush_counts()
        try:
            channel.send({"type": "result", "result": json.loads(json.dumps(result))})
        except (TypeError, ValueError) as exc:
            _report(channel, _error(exc, "Runtime.MarshalError", f"Unable to marshal response: {exc}"), exc)
    return 0


def _report(channel: _Channel, error, exc: BaseException) -> None:
    """An unhandled error: logged as the runtime logs it, then returned as the error result."""
    print(f"[ERROR] {error['errorType']}: {error['errorMessage']}", file=sys.stderr)
    print("".join(traceback.format_exception(exc)).rstrip(), file=sys.stderr)
    channel.send({"type": "error", **error})


if __name__ == "__main__":
    sys.exit(main(sys.argv))
