"""Fixtures for the deploy tools: a patched moto server in this process, and a copy of the project.

The server is moto's ``ThreadedMotoServer`` on a free loopback port, with the two
patches of ``infra.motopatch`` (apigatewayv2 CreateDeployment; SQS mappings that
never start Docker). ``scripts/deploy.py`` and the real chalice CLI reach it as
subprocesses through ``--endpoint-url``. The project copy keeps
``.chalice/deployed`` and ``config.json`` edits out of the work tree.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from infra import motopatch
from tests.support import free_port, threaded_moto_server  # noqa: F401 (deploy tests import free_port from here)

PROJECT_DIR = Path(__file__).resolve().parents[2]
SCRIPTS = PROJECT_DIR / "scripts"
REGION = "us-east-1"
TEST_STAGE = "chalice-test"


@pytest.fixture(scope="module")
def moto_endpoint():
    with motopatch.patched(), threaded_moto_server() as url:
        yield url


@pytest.fixture(scope="module")
def project_copy(tmp_path_factory) -> Path:
    return copy_project(tmp_path_factory.mktemp("project"))


@pytest.fixture(scope="module")
def region():
    """A ``make cloud`` of the module's own (``tests/deploy/cloud_region.py``), stopped after its tests."""
    from tests.deploy.cloud_region import CloudRegionProcess

    with CloudRegionProcess() as running:
        yield running


@pytest.fixture(scope="module")
def project(request, tmp_path_factory) -> Path:
    """A copy of the project for the module's deploys (a module may define its own per test)."""
    return copy_project(tmp_path_factory.mktemp(request.module.__name__.rsplit(".", 1)[-1]))


def copy_project(target: Path) -> Path:
    """The chalice project (app, chalicelib, requirements, .chalice/*.json) copied into ``target``."""
    for name in ("app.py", "requirements.txt"):
        shutil.copy2(PROJECT_DIR / name, target / name)
    shutil.copytree(PROJECT_DIR / "chalicelib", target / "chalicelib", ignore=shutil.ignore_patterns("__pycache__"))
    (target / ".chalice").mkdir()
    for path in (PROJECT_DIR / ".chalice").glob("*.json"):
        shutil.copy2(path, target / ".chalice" / path.name)
    return target


def tool_env(**extra: str) -> dict:
    """The environment of a tool run: fake credentials, never a profile or a stray endpoint."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("AWS_")}
    env.update(
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_DEFAULT_REGION=REGION,
        PYTHONUNBUFFERED="1",
        **extra,
    )
    return env


def run_script(name: str, *args: str, timeout: float = 240, env=None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(SCRIPTS / name), *args],
        env=env or tool_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def run_phase_3(websocket_url: str) -> subprocess.CompletedProcess:
    """QA's phase 3 (``tests/test_websocket_full.py``) against a deployed API; asserts it passed."""
    done = subprocess.run(
        [sys.executable, str(PROJECT_DIR / "tests" / "test_websocket_full.py"), "--timeout", "240"],
        env=tool_env(WEBSOCKET_TEST_URI=websocket_url),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0 and "PASS" in done.stdout, done.stdout + done.stderr
    return done
