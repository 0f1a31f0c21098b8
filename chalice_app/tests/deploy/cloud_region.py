"""An emulated region for the deploy tests: ``scripts/local.py --cloud`` in a subprocess, on free ports.

Started exactly as ``make cloud`` starts it; ``deploy(project, *args)`` runs the real
``scripts/deploy.py --stage chalice-test --endpoint-url`` into it.
"""

import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import List

from localcloud.motoserver import die_with_parent, free_port
from localcloud.process import stop_process
from tests.deploy.conftest import REGION, SCRIPTS, TEST_STAGE, run_script, tool_env

__all__ = ["CloudRegionProcess", "deploy_into"]


class CloudRegionProcess:
    def __init__(self):
        self.port = free_port()
        self.gateway_port = free_port()
        self.log_dir = tempfile.mkdtemp(prefix="cloud-region-logs-")
        self.lines: List[str] = []
        self.process = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> "CloudRegionProcess":
        command = [sys.executable, str(SCRIPTS / "local.py"), "--cloud", "--port", str(self.port)]
        command += ["--gateway-port", str(self.gateway_port), "--quiet", "--log-dir", self.log_dir]
        self.process = subprocess.Popen(
            command,
            env=tool_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            preexec_fn=die_with_parent,
        )
        threading.Thread(target=self._read, daemon=True).start()
        deadline = time.monotonic() + 60
        while not any(line.startswith("Ready.") for line in self.lines):
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("the emulated region did not start:\n" + self.output())
            time.sleep(0.1)
        return self

    def _read(self) -> None:
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n"))

    def output(self) -> str:
        return "\n".join(self.lines)

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process)

    def __exit__(self, *exc) -> None:
        self.stop()


def deploy_into(region: CloudRegionProcess, project: Path, *args: str, timeout: float = 400):
    """``scripts/deploy.py --stage chalice-test --endpoint-url <region>`` for ``project``."""
    return run_script(
        "deploy.py",
        "--stage", TEST_STAGE,
        "--region", REGION,
        "--endpoint-url", region.endpoint,
        "--project-dir", str(project),
        *args,
        timeout=timeout,
    )  # fmt: skip
