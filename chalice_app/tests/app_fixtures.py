"""App fixtures shared by the unit and assistant suites (their conftest files import
them): a clean app environment, Chalice's test client, and a recorder standing in
for the API Gateway Management API (moto's never reports a gone connection)."""

import functools
import inspect
import logging
import os
import re

import botocore.session
import pytest
from chalice.test import Client

from chalicelib import config, management
from tests.conftest import clear_caches
from tests.unit.support import FrameRecorder

KNOWN_APP_ENV_VARS = {
    "AWS_LAMBDA_FUNCTION_NAME",
    "CHAT_QUEUE_NAME",
    "CHAT_QUEUE_URL",
    "CONNECTIONS_TABLE",
    "IDEMPOTENCY_TABLE",
    "SESSIONS_TABLE",
    "FRAMES_TABLE",
    "SQS_BATCH_SIZE",
    "MAX_RECEIVE_COUNT",
    "MESSAGE_TTL_SECONDS",
    "HEARTBEAT_SECONDS",
    "CONNECTION_TTL_SECONDS",
    "IDEMPOTENCY_TTL_SECONDS",
    "ASSISTANT_BACKEND",
    "ASSISTANT_DELAY_SECONDS",
    "WEBSOCKET_DOMAIN",
    "WEBSOCKET_STAGE",
    "WEBSOCKET_ENDPOINT_URL",
}


def app_env_vars():
    """The variables chalicelib.config reads: the known ones plus any it reads that
    are found in its source (so new settings are covered); never credentials/region."""
    found = set(re.findall(r'read\.(?:text|number)\(\s*"([A-Z][A-Z0-9_]*)"', inspect.getsource(config)))
    return sorted(KNOWN_APP_ENV_VARS | {name for name in found if not name.startswith("AWS_")})


@pytest.fixture(scope="package", autouse=True)
def shared_botocore_loader():
    """Share one botocore data loader between all sessions.

    The app builds a new boto3 Session per cached client and the tests reset that
    cache for every test, so each one would re-parse the endpoint and service JSON
    files (most of the suite's run time). The loader only reads botocore's
    bundled data files, so sharing it changes nothing else.
    """
    loaders = {}
    original = botocore.session.create_loader

    def create_loader(search_path_string=None):
        if search_path_string not in loaders:
            loaders[search_path_string] = original(search_path_string)
        return loaders[search_path_string]

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(botocore.session, "create_loader", create_loader)
        yield


@pytest.fixture(autouse=True)
def clean_app_env(monkeypatch, fresh_caches):
    """Unit tests start from the documented defaults, whatever the shell exported."""
    unset_app_env(monkeypatch)
    clear_caches()


def unset_app_env(monkeypatch) -> None:
    """Remove the app's settings and any AWS endpoint or Powertools override the shell exported."""
    for name in app_env_vars():
        monkeypatch.delenv(name, raising=False)
    for name in list(os.environ):
        if name.startswith(("AWS_ENDPOINT_URL", "POWERTOOLS_")):
            monkeypatch.delenv(name)


@pytest.fixture(autouse=True)
def capture_app_logs(caplog):
    """Let chalicelib's INFO events reach caplog (support.log_events reads them)."""
    caplog.set_level(logging.INFO, logger="chalicelib")


@pytest.fixture
def set_env(monkeypatch):
    """``set_env(NAME="value", ...)`` sets variables and makes the app re-read them."""

    def apply(**values: str) -> None:
        for name, value in values.items():
            monkeypatch.setenv(name, value)
        clear_caches()

    return apply


@pytest.fixture
def client(tmp_path, monkeypatch):
    """Chalice's test client; project_dir has no .chalice/config.json, so no stage
    environment variables leak into the tests. Its Lambda context says 3 s are left whatever
    the function's timeout; chat_processor stops itself before its deadline, so the context
    here has Lambda's longest timeout (15 min): tests of the deadline pass their own context."""
    import chalice.test

    from app import app

    monkeypatch.setattr(
        chalice.test, "LambdaContext", functools.partial(chalice.test.LambdaContext, max_runtime_ms=900_000)
    )
    return Client(app, project_dir=str(tmp_path))


@pytest.fixture
def frames(monkeypatch) -> FrameRecorder:
    """Capture every frame the app posts (handlers and chat_processor alike)."""
    recorder = FrameRecorder()
    original_init = management.ManagementApi.__init__

    def init(self, endpoint: str) -> None:
        original_init(self, endpoint)
        self._client = recorder.client_for(endpoint)

    monkeypatch.setattr(management.ManagementApi, "__init__", init)
    return recorder
