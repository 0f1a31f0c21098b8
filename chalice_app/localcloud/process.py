"""A whole local stack in a subprocess on free ports, started exactly as ``make run``
starts it (``python chalice_app/scripts/local.py``). Tests, the QA phase scripts and
the benchmark use it, so they exercise the real entry point and can run beside a
stack someone already has on port 8000.

    with LocalStackProcess(["--env", "ASSISTANT_BACKEND=echo"]) as stack:
        stack.websocket_url, stack.management_url, stack.moto_url, stack.log_lines("chat_processor")
        stack.control_pollers("stop")  # sends the run's /_local token, read from the console
"""

import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from typing import Any, Dict, List, Optional

from localcloud.guard import LOCAL_TOKEN_HEADER
from localcloud.motoserver import die_with_parent, free_port

__all__ = ["LocalStackProcess", "LOCAL_SCRIPT", "stop_process"]

LOCAL_SCRIPT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "scripts", "local.py")


class LocalStackProcess:
    """``with LocalStackProcess() as stack: stack.websocket_url ...``"""

    def __init__(
        self, extra_args: Optional[List[str]] = None, env: Optional[Dict[str, str]] = None, port: Optional[int] = None
    ):
        self.port = port or free_port()
        self.extra_args = list(extra_args or [])
        self.env = dict(env or {})
        self.log_dir = tempfile.mkdtemp(prefix="local-stack-logs-")
        self.process: Optional[subprocess.Popen] = None
        self.output_path = os.path.join(self.log_dir, "console.txt")
        self.moto_url: Optional[str] = None
        self.local_token: Optional[str] = None  # for /_local/*, read from the console

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def websocket_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/api"

    @property
    def management_url(self) -> str:
        return f"{self.http_url}/api"

    def start(self, timeout: float = 60) -> "LocalStackProcess":
        command = [sys.executable, LOCAL_SCRIPT, "--port", str(self.port), "--log-dir", self.log_dir]
        command += self.extra_args
        env = {**os.environ, **self.env}
        self._output = open(self.output_path, "w")  # noqa: SIM115 (closed in stop())
        self.process = subprocess.Popen(
            command, stdout=self._output, stderr=subprocess.STDOUT, env=env, preexec_fn=die_with_parent
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"local stack exited with {self.process.returncode}:\n{self.console()}")
            console = self.console()
            if "Ready." in console:
                match = re.search(r"Moto \(AWS APIs\): (\S+)", console)
                self.moto_url = match.group(1) if match else None
                match = re.search(r"Local control: +\S+ \(token: (\S+)\)", console)
                self.local_token = match.group(1) if match else None
                return self
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"local stack not ready within {timeout:.0f} s:\n{self.console()}")

    def console(self) -> str:
        with open(self.output_path, errors="replace") as handle:
            return handle.read()

    def health(self) -> Dict[str, Any]:
        with urllib.request.urlopen(self.http_url + "/health", timeout=5) as response:
            return json.load(response)

    def log_lines(self, function: str) -> List[Dict[str, Any]]:
        """The JSON lines of a function's log file (e.g. ``chat_processor``)."""
        lines = []
        for name in os.listdir(self.log_dir):
            if name.endswith(f"-{function}.jsonl"):
                with open(os.path.join(self.log_dir, name)) as handle:
                    lines += [json.loads(line) for line in handle if line.strip()]
        return lines

    def aws_client(self, service: str):
        """A boto3 client for this stack's moto server (or, for ``apigatewaymanagementapi``,
        its @connections API), with the emulator's placeholder credentials."""
        import boto3

        endpoint = self.management_url if service == "apigatewaymanagementapi" else self.moto_url
        return boto3.client(
            service,
            endpoint_url=endpoint,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )

    def connection_ids(self, table: str = "shopping-assistant-connections") -> Dict[str, Any]:
        """The connections table's connections (rows $connect wrote, not rate-limit counters), by id."""
        items = self.aws_client("dynamodb").scan(TableName=table, ConsistentRead=True)["Items"]
        return {item["connection_id"]["S"]: item for item in items if "connected_at" in item}

    def queue_depths(self, queue_name: str = "ChatProcessingQueue.fifo") -> Dict[str, int]:
        """Messages waiting or in flight, for the queue and its DLQ, by queue name."""
        from infra import queues

        sqs = self.aws_client("sqs")
        depths = [queues.depth(sqs, url) for url in queues.queue_urls(sqs, queue_name).values()]
        return {depth.name: depth.visible + depth.in_flight for depth in depths}

    def control_pollers(self, action: str) -> Dict[str, Any]:
        """Stop or start the emulated SQS event source (``/_local/pollers/stop|start``)."""
        request = urllib.request.Request(
            f"{self.http_url}/_local/pollers/{action}",
            method="POST",
            headers={LOCAL_TOKEN_HEADER: self.local_token or ""},
        )
        with urllib.request.urlopen(request, timeout=60) as response:
            return json.load(response)

    def stop(self) -> int:
        if self.process is not None:
            stop_process(self.process)
        if getattr(self, "_output", None):
            self._output.close()
        return self.process.returncode if self.process else 0

    def __enter__(self) -> "LocalStackProcess":
        return self.start()

    def __exit__(self, *exc_info: Any) -> None:
        self.stop()


def stop_process(process: subprocess.Popen, grace_seconds: float = 30) -> None:
    """Stop a stack process as Ctrl-C does (SIGINT), killing it if it has not exited in time."""
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGINT)
    try:
        process.wait(grace_seconds)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
