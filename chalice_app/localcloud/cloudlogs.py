"""Function logs of the deployed mode, also in the emulated region's CloudWatch Logs.

Lambda sends what a function prints, and its START/END/REPORT lines, to the log group
``/aws/lambda/{function name}``. ``ShippedLogs`` is a ``FunctionLogs`` (the JSON-lines
files and the console summary, as in source mode) whose every line is also put, from
a background thread, into that log group of the moto server, so tools that read
CloudWatch Logs (``aws logs tail``, ``aws logs filter-log-events``, deploy.py's
Validate explaining a failed smoke test) work offline as they do on AWS.

A CloudWatch event's message is the line as Lambda writes it: the application's own
lines and ``[ERROR] ...`` as they are, the runtime's as ``START RequestId: ...``.
"""

import contextlib
import queue
import threading
import time
from typing import Any, Callable, Dict, List, Tuple

from localcloud.logfiles import FunctionLog, FunctionLogs

__all__ = ["ShippedLogs", "cloudwatch_message", "STREAM_NAME", "FLUSH_SECONDS"]

FLUSH_SECONDS = 0.5
STREAM_NAME = "localcloud/[$LATEST]environments"
PLAIN_KINDS = ("LOG", "ERROR")


def cloudwatch_message(kind: str, message: str) -> str:
    return message if kind in PLAIN_KINDS else f"{kind} {message}"


class _ShippedLog:
    """A function's log: its file, and the queue to CloudWatch Logs."""

    def __init__(self, log: FunctionLog, outbox: "queue.Queue[Tuple[str, int, str]]"):
        self._log = log
        self._outbox = outbox
        self.log_group = log.log_group
        self.path = log.path

    def write(self, kind: str, message: str, level: str = "INFO", **fields: Any) -> None:
        self._log.write(kind, message, level=level, **fields)
        self._outbox.put((self.log_group, int(time.time() * 1000), cloudwatch_message(kind, message)))

    def close(self) -> None:
        self._log.close()


class ShippedLogs(FunctionLogs):
    def __init__(self, directory: str, client: Callable[[str], Any], verbose: bool = True):
        super().__init__(directory, verbose=verbose)
        self._client = client
        self._outbox: queue.Queue[Tuple[str, int, str]] = queue.Queue()
        self._made: set = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._ship_loop, name="cloudwatch-logs", daemon=True)
        self._thread.start()

    def for_function(self, full_name: str) -> _ShippedLog:  # type: ignore[override]
        return _ShippedLog(super().for_function(full_name), self._outbox)

    def _ship_loop(self) -> None:
        while not self._stop.is_set():
            self._stop.wait(FLUSH_SECONDS)
            self.flush()

    def flush(self) -> None:
        batches: Dict[str, List[Dict[str, Any]]] = {}
        while True:
            try:
                group, stamp, message = self._outbox.get_nowait()
            except queue.Empty:
                break
            batches.setdefault(group, []).append({"timestamp": stamp, "message": message})
        for group, events in batches.items():
            # A failure means the region is going away; the files still have every line.
            with contextlib.suppress(Exception):
                self._put(group, sorted(events, key=lambda event: event["timestamp"]))

    def _put(self, group: str, events: List[Dict[str, Any]]) -> None:
        logs = self._client("logs")
        if group not in self._made:
            for call, kwargs in (
                (logs.create_log_group, {"logGroupName": group}),
                (logs.create_log_stream, {"logGroupName": group, "logStreamName": STREAM_NAME}),
            ):
                with contextlib.suppress(logs.exceptions.ResourceAlreadyExistsException):
                    call(**kwargs)
            self._made.add(group)
        logs.put_log_events(logGroupName=group, logStreamName=STREAM_NAME, logEvents=events)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self.flush()
        super().close()
