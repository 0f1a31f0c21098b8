"""Shared by the QA phase scripts and the integration tests: the local stack in a
subprocess (``localcloud.process``), URI resolution, and a frame reader with progress."""

import argparse
import contextlib
import errno
import os
import time
from typing import Any, Callable, Dict, Iterator, List, Optional

from localcloud.motoserver import free_port  # noqa: F401 (tests import it from here)
from localcloud.process import LocalStackProcess

REPO_DIR = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@contextlib.contextmanager
def threaded_moto_server() -> Iterator[str]:
    """moto's ``ThreadedMotoServer`` in this process on a free loopback port; yields its URL."""
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


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
        print(f"FAIL: {phase_failure(exc, args.uri)}")
        return 1
    print("PASS" if passed else "FAIL")
    return 0 if passed else 1


def phase_failure(exc: BaseException, uri: Optional[str]) -> str:
    """Why a phase failed, in words: a refused connection says how to start a stack."""
    if isinstance(exc, ConnectionRefusedError) or (
        isinstance(exc, OSError) and getattr(exc, "errno", None) == errno.ECONNREFUSED
    ):
        return (
            f"cannot connect to {uri}: no server listens there.\n"
            "Start the local stack with `make run` (it serves ws://127.0.0.1:8000/api), "
            "pass --uri of a deployed stack, or leave out --uri to start a local stack on free ports."
        )
    return f"{type(exc).__name__}: {exc}"


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
