"""Fixtures shared by every test suite: fake AWS credentials, fresh caches, moto.

Keep this file generic; suite-specific fixtures belong in that suite's conftest.py
(for example tests/unit/conftest.py).
"""

import boto3
import moto
import pytest

from chalicelib import aws, chat_queue, processor
from chalicelib.config import settings
from infra import bootstrap

REGION = "us-east-1"


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
