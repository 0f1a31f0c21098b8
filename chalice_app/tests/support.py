"""Shared by the QA phase scripts and the integration tests: a local stack in a
subprocess on free ports, URI resolution, and a frame reader with progress.

A stack runs as ``python chalice_app/scripts/local.py`` exactly as ``make run``
starts it, so tests exercise the real entry point and can run beside a stack
someone already has on port 8000.
"""

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from typing import Any, Callable, Dict, List, Optional

from localcloud.motoserver import die_with_parent, free_port

REPO_DIR = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
LOCAL_SCRIPT = os.path.join(REPO_DIR, "chalice_app", "scripts", "local.py")


class LocalStackProcess:
    """``with LocalStackProcess() as stack: stack.websocket_url ...``"""

    def __init__(self, extra_args: Optional[List[str]] = None, env: Optional[Dict[str, str]] = None):
        self.port = free_port()
        self.extra_args = list(extra_args or [])
        self.env = dict(env or {})
        self.log_dir = tempfile.mkdtemp(prefix="local-stack-logs-")
        self.process: Optional[subprocess.Popen] = None
        self.output_path = os.path.join(self.log_dir, "console.txt")
        self.moto_url: Optional[str] = None

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
            if "Ready." in self.console():
                match = re.search(r"Moto \(AWS APIs\): (\S+)", self.console())
                self.moto_url = match.group(1) if match else None
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

    def stop(self) -> int:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if getattr(self, "_output", None):
            self._output.close()
        return self.process.returncode if self.process else 0

    def __enter__(self) -> "LocalStackProcess":
        return self.start()

    def __exit__(self, *exc_info: Any) -> None:
        self.stop()


# --- the phase scripts' command line -----------------------------------------


def phase_arguments(description: str, default_timeout: float) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument(
        "--uri",
        default=os.environ.get("WEBSOCKET_TEST_URI"),
        help="WebSocket URI to test (default: $WEBSOCKET_TEST_URI; none: start a local stack on free ports)",
    )
    parser.add_argument("--timeout", type=float, default=default_timeout, help=f"seconds (default {default_timeout:g})")
    return parser


def run_phase(run: Callable[[str, float], bool], description: str, default_timeout: float) -> int:
    """CLI driver: resolve the URI (or start a local stack), run, exit 0 on pass, 1 on fail."""
    args = phase_arguments(description, default_timeout).parse_args()
    try:
        if args.uri:
            passed = run(args.uri, args.timeout)
        else:
            print("No URI given: starting a local stack on free ports...")
            with LocalStackProcess() as stack:
                print(f"Local stack at {stack.websocket_url}")
                passed = run(stack.websocket_url, args.timeout)
    except Exception as exc:  # a failed phase says why, it does not dump a traceback
        print(f"FAIL: {type(exc).__name__}: {exc}")
        return 1
    print("PASS" if passed else "FAIL")
    return 0 if passed else 1


class FrameLog:
    """Frames received so far, with timings relative to a start mark."""

    def __init__(self) -> None:
        self.started = time.perf_counter()
        self.frames: List[Dict[str, Any]] = []
        self.times: List[float] = []

    def add(self, frame: Dict[str, Any]) -> None:
        self.frames.append(frame)
        self.times.append(time.perf_counter() - self.started)

    def first(self, frame_type: str) -> Optional[float]:
        for frame, at in zip(self.frames, self.times, strict=False):
            if frame.get("type") == frame_type:
                return at
        return None

    def counts(self) -> str:
        seen: Dict[str, int] = {}
        for frame in self.frames:
            seen[frame.get("type", "?")] = seen.get(frame.get("type", "?"), 0) + 1
        return ", ".join(f"{name}={count}" for name, count in seen.items()) or "none"
