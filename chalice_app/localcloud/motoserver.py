"""A moto server (real AWS APIs over HTTP) in its own process, on loopback.

Its own process keeps moto's work off the runtime's interpreter (and its GIL),
and lets a test or ``make run`` start as many isolated clouds as it likes.
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

__all__ = ["MotoServer", "free_port", "die_with_parent"]

PR_SET_PDEATHSIG = 1
PROJECT_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def die_with_parent() -> None:
    """Linux: the server gets SIGTERM when its parent dies, even by SIGKILL (no orphans)."""
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except OSError:
        pass  # not Linux: stop() still ends it on a normal exit


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


class MotoServer:
    def __init__(self, host: str = "127.0.0.1", port: int = 0):
        self.host = host
        self.port = port or free_port(host)
        self.process = None
        self._errors = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self, timeout: float = 30) -> "MotoServer":
        self._errors = tempfile.TemporaryFile()  # noqa: SIM115 (closed in stop())
        self.process = subprocess.Popen(
            [sys.executable, "-m", "localcloud.motomain", "-H", self.host, "-p", str(self.port)],
            stdout=subprocess.DEVNULL,
            stderr=self._errors,
            preexec_fn=die_with_parent,
            cwd=PROJECT_DIR,  # so that ``-m localcloud.motomain`` resolves
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                self._errors.seek(0)
                error = self._errors.read().decode(errors="replace")[-2000:]
                raise RuntimeError(f"moto server exited at start (port {self.port}): {error}")
            try:
                urllib.request.urlopen(self.url + "/moto-api/", timeout=1).close()
                return self
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"moto server did not answer on {self.url} within {timeout:.0f} s")

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
