"""Assistant-suite fixtures: a clean app environment, moto for the sessions table,
and a ``Conversation`` that talks to an assistant the way chat_processor does."""

import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

import boto3
import moto
import pytest

from chalicelib.assistant import Delta, Reply, turn
from chalicelib.assistant.catalog import CatalogAssistant
from chalicelib.config import load, settings
from chalicelib.sessions import SessionState, SessionStore
from infra import bootstrap
from tests.app_fixtures import (  # noqa: E402,F401 (fixtures are found by name)
    capture_app_logs,
    clean_app_env,
    client,
    frames,
    set_env,
    shared_botocore_loader,
)
from tests.conftest import REGION

# The fields of a product in a response, as README documents them (stated here, not read from the code).
PRODUCT_FIELDS = {
    "id",
    "name",
    "brand",
    "category",
    "price",
    "currency",
    "rating",
    "review_count",
    "attributes",
    "description",
}


@pytest.fixture(scope="module")
def moto_tables():
    """moto with the app's tables, shared by a module's tests (each uses its own session ids)."""
    with pytest.MonkeyPatch.context() as patch:
        for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
            patch.setenv(name, "testing")
        patch.setenv("AWS_DEFAULT_REGION", REGION)
        with moto.mock_aws():
            dynamodb = boto3.client("dynamodb", region_name=REGION)
            bootstrap.ensure_tables(dynamodb, load({}))  # the default table names, as the tests use
            yield


def _store() -> SessionStore:
    config = settings()
    return SessionStore(config.sessions_table, config.session_ttl_seconds, config.session_history_limit)


@pytest.fixture
def sessions(moto_tables) -> SessionStore:
    return _store()


@pytest.fixture
def assistant(moto_tables) -> CatalogAssistant:
    # moto_tables: a Conversation without a store of its own uses the app's sessions table.
    return CatalogAssistant()


@dataclass
class Said:
    """One answered message, as a client sees it."""

    message: str
    deltas: List[str]
    reply: Reply
    seconds: float

    @property
    def content(self) -> str:
        return self.reply.content

    @property
    def products(self) -> List[Dict[str, Any]]:
        return self.reply.products

    @property
    def ids(self) -> List[str]:
        return [item["id"] for item in self.reply.products]


@dataclass
class Conversation:
    """Messages to one assistant in one session, each checked against the streaming contract."""

    assistant: Any
    sessions: SessionStore = field(default_factory=lambda: _store())
    session_id: str = field(default_factory=lambda: "s-" + uuid.uuid4().hex[:12])
    said: List[Said] = field(default_factory=list)
    carts: List[Dict[str, int]] = field(default_factory=list)  # the saved cart after each message

    def send(self, message: str, message_id: Optional[str] = None) -> Said:
        started = time.perf_counter()
        message_id = message_id or str(uuid.uuid4())
        events = list(turn.run(self.assistant, self.sessions, self.session_id, message_id, message))
        seconds = time.perf_counter() - started
        *deltas, reply = events
        assert isinstance(reply, Reply), f"the last event must be the Reply, got {reply!r}"
        assert all(isinstance(event, Delta) for event in deltas), "only Deltas before the Reply"
        assert "".join(delta.text for delta in deltas) == reply.content, "content must equal the streamed deltas"
        assert len(reply.products) <= 5, "at most 5 products per reply"
        said = Said(message, [delta.text for delta in deltas], reply, seconds)
        self.said.append(said)
        self.carts.append(dict(self.state().cart))
        return said

    def state(self) -> SessionState:
        return self.sessions.load(self.session_id)


@pytest.fixture
def conversation(assistant, sessions) -> Conversation:
    return Conversation(assistant, sessions)
