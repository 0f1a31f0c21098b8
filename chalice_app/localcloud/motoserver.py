"""A moto server (real AWS APIs over HTTP) in its own process, on loopback.

Its own process keeps moto's work off the runtime's interpreter (and its GIL),
and lets a test or ``make run`` start as many isolated clouds as it likes.
It runs in its own session, so a Ctrl-C in the terminal reaches only the runtime,
which stops it; ``exit_reason()`` and ``answers()`` tell the runtime when it died.
"""

import ctypes
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from typing import Sequence

__all__ = ["MotoServer", "free_port", "die_with_parent", "answers", "describe_exit"]

PR_SET_PDEATHSIG = 1
PROJECT_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def die_with_parent() -> None:
    """Linux: the server gets SIGTERM when its parent dies, even by SIGKILL (no orphans)."""
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except OSError:
        pass  # not Linux: stop() still ends it on a normal exit


def describe_exit(returncode: int) -> str:
    """How a child process ended, from its return code (negative: killed by that signal)."""
    if returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            return f"exited with signal {-returncode}"
        return f"exited with signal {-returncode} ({name})"
    return f"exited with status {returncode}"


def answers(url: str, timeout: float = 2) -> bool:
    """A cheap probe: does the moto server at ``url`` answer HTTP?"""
    try:
        urllib.request.urlopen(url + "/moto-api/", timeout=timeout).close()
        return True
    except OSError:
        return False


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


class MotoServer:
    def __init__(self, host: str = "127.0.0.1", port: int = 0, args: Sequence[str] = ()):
        self.host = host
        self.port = port or free_port(host)
        self.args = list(args)  # more arguments for localcloud.motomain (the deployed mode's --region)
        self.process = None
        self._errors = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self, timeout: float = 30) -> "MotoServer":
        self._errors = tempfile.TemporaryFile()  # noqa: SIM115 (closed in stop())
        self.process = subprocess.Popen(
            [sys.executable, "-m", "localcloud.motomain", "-H", self.host, "-p", str(self.port), *self.args],
            stdout=subprocess.DEVNULL,
            stderr=self._errors,
            preexec_fn=die_with_parent,
            start_new_session=True,  # the runtime stops it (a terminal's Ctrl-C is not its death)
            cwd=PROJECT_DIR,  # so that ``-m localcloud.motomain`` resolves
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                self._errors.seek(0)
                error = self._errors.read().decode(errors="replace")[-2000:]
                raise RuntimeError(f"moto server exited at start (port {self.port}): {error}")
            if answers(self.url, timeout=1):
                return self
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"moto server did not answer on {self.url} within {timeout:.0f} s")

    @property
    def pid(self) -> int:
        return self.process.pid

    def exit_reason(self) -> str:
        """Why the server is gone ("" while it runs): what the runtime reports if it dies."""
        if self.process is None or self.process.poll() is None:
            return ""
        return f"the AWS emulator (moto server, pid {self.process.pid}) {describe_exit(self.process.returncode)}"

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None
        if self._errors is not None:
            self._errors.close()
            self._errors = None
