"""CloudWatch-like logs: one JSON-lines file per function, named after its log group.

``/aws/lambda/shopping-assistant-api-local-chat_processor`` is written to
``logs/aws-lambda-shopping-assistant-api-local-chat_processor.jsonl``. Each line is
``{"timestamp": ms, "level": ..., "type": START|END|REPORT|ERROR|LOG, "message": ...}``;
the console gets a one-line summary per invocation.
"""

import json
import logging
import os
import threading
import time
from typing import Any, Dict

__all__ = ["FunctionLogs", "FunctionLog", "log_file_name"]

console = logging.getLogger("localcloud")


def log_file_name(log_group: str) -> str:
    return log_group.strip("/").replace("/", "-") + ".jsonl"


class FunctionLog:
    def __init__(self, path: str, log_group: str):
        self.path = path
        self.log_group = log_group
        self._lock = threading.Lock()
        self._file = open(path, "a", encoding="utf-8", buffering=1)  # noqa: SIM115 (closed by close())

    def write(self, kind: str, message: str, level: str = "INFO", **fields: Any) -> None:
        line = {"timestamp": int(time.time() * 1000), "level": level, "type": kind, "message": message, **fields}
        text = json.dumps(line, ensure_ascii=False, default=str)
        with self._lock:
            self._file.write(text + "\n")

    def close(self) -> None:
        with self._lock:
            self._file.close()


class FunctionLogs:
    def __init__(self, directory: str, verbose: bool = True):
        self.directory = directory
        self.verbose = verbose
        os.makedirs(directory, exist_ok=True)
        self._logs: Dict[str, FunctionLog] = {}
        self._lock = threading.Lock()

    def for_function(self, full_name: str) -> FunctionLog:
        with self._lock:
            log = self._logs.get(full_name)
            if log is None:
                group = f"/aws/lambda/{full_name}"
                log = FunctionLog(os.path.join(self.directory, log_file_name(group)), group)
                self._logs[full_name] = log
            return log

    def summary(self, function: str, duration_ms: float, failed: bool) -> None:
        if self.verbose or failed:
            console.log(
                logging.ERROR if failed else logging.INFO,
                "%-22s %8.1f ms%s",
                function,
                duration_ms,
                "  FAILED (see logs/)" if failed else "",
            )

    def close(self) -> None:
        with self._lock:
            for log in self._logs.values():
                log.close()
            self._logs.clear()
