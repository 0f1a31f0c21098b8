"""Fixtures shared by every test suite: fake AWS credentials, fresh caches, moto.

Keep this file generic; suite-specific fixtures belong in that suite's conftest.py
(for example tests/unit/conftest.py).

Tiers. Every test is in exactly one tier, named by a marker (``pytest -m inprocess``):

- ``inprocess``: no stack, no browser, no ``chalice package``: ``make check``, a few minutes;
- ``stack``: a real local stack or emulator processes (``localcloud``, subprocess environments);
- ``deploy``: the real chalice deployer or packager, the emulated region;
- ``browser``: the chat page in a real Chromium.

A test's tier is its folder's (``TIER_OF_FOLDER``) unless its module says otherwise with
``pytestmark = pytest.mark.<tier>``. An ``inprocess`` test that starts a local stack fails
at once, saying which marker it needs, so the fast tier stays fast as tests are added.
"""

import boto3
import moto
import pytest

from chalicelib import aws, chat_queue, processor
from chalicelib.config import settings
from infra import bootstrap

REGION = "us-east-1"

TIERS = {
    "inprocess": "no stack, no browser, no chalice package (make check)",
    "stack": "starts a local stack or emulator processes",
    "deploy": "runs the chalice deployer or packager, or the emulated region",
    "browser": "drives the chat page in a real browser",
}
TIER_OF_FOLDER = {
    "unit": "inprocess",
    "assistant": "inprocess",
    "web": "inprocess",
    "integration": "stack",
    "lambdaservice": "stack",
    "reliability": "stack",
    "deploy": "deploy",
    "browser": "browser",
}
DEFAULT_TIER = "stack"  # the QA phase scripts and the documented commands at the top of tests/


def pytest_configure(config) -> None:
    for name, meaning in TIERS.items():
        config.addinivalue_line("markers", f"{name}: {meaning}")


def tier_of(item) -> str:
    """The one tier of a collected test: its module's marker, else its folder's."""
    named = [name for name in TIERS if item.get_closest_marker(name)]
    if len(named) > 1:
        raise pytest.UsageError(f"{item.nodeid} is marked with several tiers ({', '.join(named)}); keep one")
    if named:
        return named[0]
    folder = item.path.parent.name
    return TIER_OF_FOLDER.get(folder, DEFAULT_TIER)


def pytest_collection_modifyitems(config, items) -> None:
    for item in items:
        if not any(item.get_closest_marker(name) for name in TIERS):
            item.add_marker(tier_of(item))
        else:
            tier_of(item)


@pytest.fixture(autouse=True)
def tier_guard(request, monkeypatch):
    """An in-process test that starts a local stack is in the wrong tier: say which marker it needs."""
    if request.node.get_closest_marker("inprocess") is None:
        return
    from localcloud.process import LocalStackProcess

    def refuse(self, *args, **kwargs):
        raise RuntimeError(
            f"{request.node.nodeid} starts a local stack but is in the in-process tier (make check): "
            "mark its module with pytestmark = pytest.mark.stack"
        )

    monkeypatch.setattr(LocalStackProcess, "start", refuse)


def clear_caches() -> None:
    """Forget everything the app caches per process, so each test re-reads its env."""
    settings.cache_clear()
    aws.reset_clients()
    chat_queue._resolve_url.cache_clear()
    processor._answer_once.cache_clear()
    processor._idempotency_config.cache_clear()
    processor._assistant.cache_clear()


@pytest.fixture(autouse=True)
def fake_aws_credentials(monkeypatch):
    """Fake credentials and a fixed region, so nothing can reach a real AWS account."""
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SECURITY_TOKEN", "AWS_SESSION_TOKEN"):
        monkeypatch.setenv(name, "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_REGION", REGION)
    monkeypatch.delenv("AWS_PROFILE", raising=False)


@pytest.fixture(autouse=True)
def fresh_caches(fake_aws_credentials):
    clear_caches()
    yield
    clear_caches()


@pytest.fixture
def mock_aws():
    """In-process moto with the queue, DLQ and tables created by infra.bootstrap.

    Returns the ``bootstrap.Resources`` (queue URL/ARN, DLQ, table names).
    """
    with moto.mock_aws():
        yield bootstrap.ensure_all(lambda service: boto3.client(service, region_name=REGION), settings(), 360)
