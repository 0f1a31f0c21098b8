"""Source mode's package and configuration, without a stack: what ``chalice package`` would
ship, the ``local`` stage as chalice resolves it, and the order the environment is built in."""

import os

import pytest

from localcloud.lambdaservice import SourceProject
from localcloud.lambdaservice.source import setting_names
from localcloud.stack import PROJECT_DIR


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    project = SourceProject(PROJECT_DIR, "local", package_root=str(tmp_path_factory.mktemp("packages") / "p"))
    project.load_app({"CHAT_QUEUE_NAME": "ChatProcessingQueue.fifo"})
    yield project
    project.remove_packages()


def test_each_function_is_configured_as_chalice_resolves_the_local_stage(project):
    configs = project.build({}, {"WEBSOCKET_ENDPOINT_URL": "http://127.0.0.1:1/api"})
    assert sorted(configs) == ["chat_processor", "websocket_connect", "websocket_disconnect", "websocket_message"]
    processor = configs["chat_processor"]
    assert processor.name == "shopping-assistant-api-local-chat_processor"
    assert processor.handler == "app.chat_processor" and configs["websocket_connect"].handler == "app.connect"
    assert (processor.timeout_seconds, processor.memory_mb) == (120, 512)
    assert (configs["websocket_message"].timeout_seconds, configs["websocket_message"].memory_mb) == (15, 256)
    assert processor.environment["CHAT_QUEUE_NAME"] == "ChatProcessingQueue.fifo"  # the local stage's own
    assert processor.environment["MAX_RECEIVE_COUNT"] == "5"  # the top level's
    assert processor.environment["WEBSOCKET_ENDPOINT_URL"] == "http://127.0.0.1:1/api"


def test_the_shell_gives_app_settings_only_and_the_stage_and_overrides_win(project):
    shell = {"ASSISTANT_BACKEND": "slow", "MAX_RECEIVE_COUNT": "9", "HOME": "/root", "AWS_ENDPOINT_URL": "http://x"}
    env = project.build(shell, {"HEARTBEAT_SECONDS": "0.3"})["chat_processor"].environment
    assert env["ASSISTANT_BACKEND"] == "slow"  # not configured by the stage: the shell's
    assert env["MAX_RECEIVE_COUNT"] == "5"  # configured: the stage wins
    assert env["HEARTBEAT_SECONDS"] == "0.3"
    assert "HOME" not in env and "AWS_ENDPOINT_URL" not in env
    assert {"ASSISTANT_BACKEND", "CHAT_QUEUE_NAME", "HEARTBEAT_SECONDS"} <= set(setting_names(PROJECT_DIR))


def test_the_package_holds_what_chalice_package_ships_and_nothing_else(project):
    code_dir = project.build({}, {})["chat_processor"].code_dir
    names = set(os.listdir(code_dir))
    assert {"app.py", "chalicelib", "chalice", "aws_lambda_powertools"} <= names
    assert sorted(os.listdir(os.path.join(code_dir, "chalice"))) == ["__init__.py", "app.py"]
    assert not names & {"tests", "localcloud", "infra", "scripts", "moto", "boto3", "web"}


def test_a_backend_module_outside_chalicelib_is_added_by_itself(project):
    configs = project.build({}, {"ASSISTANT_BACKEND": "tests.faults:FaultyAssistant"})
    code_dir = configs["chat_processor"].code_dir
    assert os.listdir(os.path.join(code_dir, "tests")) == ["faults.py"]
    assert configs["chat_processor"].version != project.build({}, {})["chat_processor"].version
