"""What AWS would refuse or silently degrade, and each failure's printed fix: the rules behind Preflight and
Validate, each with its fault put back. Config faults go through the real Preflight on a copy of the project;
queue faults are real queues of a moto server, judged from ``get_queue_attributes`` as Validate judges them.
"""

import importlib.metadata
import json
import shlex
import subprocess
import time
import uuid

import boto3
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from infra import bootstrap
from infra.deploy import Options, diagnosis, imports, limits
from infra.deploy.base import Context
from infra.deploy.preflight import Preflight
from infra.stage import load_stage
from tests.deploy.conftest import REGION, TEST_STAGE, copy_project, tool_env

CONFIG_KEYS = ("lambda_timeout", "lambda_memory_size")


@pytest.fixture
def project(tmp_path):
    return copy_project(tmp_path)


def edit_config(project, change):
    path = project / ".chalice" / "config.json"
    config = json.loads(path.read_text())
    change(config)
    path.write_text(json.dumps(config, indent=2))


def preflight(project):
    """The real Preflight of a stage, as ``--package`` runs it (no AWS account): its checks by name."""
    ctx = Context(Options(stage=TEST_STAGE, mode="package", project_dir=project, region=REGION), print, print)
    try:
        Preflight().run(ctx)
    except Exception as exc:  # DeployStoppedError: the failed check is in the report
        assert type(exc).__name__ == "DeployStoppedError", exc
    return {check.name: check for check in ctx.report.checks}


def test_the_unbroken_project_passes_the_new_preflight_checks(project):
    found = preflight(project)
    assert found["aws limits"].status == "ok" and found["imports"].status == "ok", found


@pytest.mark.parametrize(
    "key, value, named",
    [
        ("lambda_timeout", 1000, "chat_processor timeout 1000 s is outside Lambda's 1-900 s"),
        ("lambda_memory_size", 64, "chat_processor memory 64 MB is outside Lambda's 128-10240 MB"),
        ("lambda_memory_size", 20000, "chat_processor memory 20000 MB is outside Lambda's 128-10240 MB"),
    ],
)
def test_a_function_beyond_lambdas_limits_is_named_before_the_deploy(project, key, value, named):
    edit_config(project, lambda config: config["lambda_functions"]["chat_processor"].__setitem__(key, value))
    check = preflight(project)["aws limits"]
    assert check.status == "fail" and named in check.detail
    assert f'set lambda_functions."chat_processor".{key} to' in check.fix


def test_a_standard_queue_name_is_named_with_its_fifo_name(project):
    stage_env = ["stages", TEST_STAGE, "environment_variables"]

    def standard(config):
        variables = config[stage_env[0]][stage_env[1]][stage_env[2]]
        variables["CHAT_QUEUE_NAME"] = variables["CHAT_QUEUE_NAME"].removesuffix(".fifo")

    edit_config(project, standard)
    check = preflight(project)["aws limits"]
    assert check.status == "fail" and "names a standard queue" in check.detail
    assert 'set CHAT_QUEUE_NAME to "shopping-assistant-chalice-test-chat.fifo"' in check.fix


def test_websocket_message_pointed_at_another_stages_queue_is_named(project):
    def other_queue(config):
        prod_queue = config["stages"]["prod"]["environment_variables"]["CHAT_QUEUE_NAME"]
        functions = config["stages"][TEST_STAGE].setdefault("lambda_functions", {})
        functions.setdefault("websocket_message", {}).setdefault("environment_variables", {})
        functions["websocket_message"]["environment_variables"]["CHAT_QUEUE_NAME"] = prod_queue

    edit_config(project, other_queue)
    check = preflight(project)["aws limits"]
    assert check.status == "fail"
    assert "websocket_message has CHAT_QUEUE_NAME=shopping-assistant-prod-chat.fifo" in check.detail
    assert 'set CHAT_QUEUE_NAME to "shopping-assistant-chalice-test-chat.fifo" for websocket_message' in check.fix


def test_a_table_shared_with_another_stage_is_named(project):
    def shared(config):
        prod = config["stages"]["prod"]["environment_variables"]["SESSIONS_TABLE"]
        config["stages"][TEST_STAGE]["environment_variables"]["SESSIONS_TABLE"] = prod

    edit_config(project, shared)
    check = preflight(project)["aws limits"]
    assert check.status == "fail" and "is stage prod's too" in check.detail
    assert "give stage chalice-test its own SESSIONS_TABLE" in check.fix


# --- imports: the requirements line by distribution name, lazy imports included --------


def test_a_lazy_import_missing_from_the_requirements_is_named_by_distribution(project):
    (project / "chalicelib" / "exporter.py").write_text(
        "def export(data):\n    import yaml\n\n    return yaml.dump(data)\n"
    )
    check = preflight(project)["imports"]
    version = importlib.metadata.version("PyYAML")
    assert check.status == "fail" and "chalicelib/exporter.py:2 imports yaml" in check.detail
    assert f"add PyYAML=={version} to chalice_app/requirements.txt" in check.fix


def test_a_requirement_removed_from_the_requirements_is_named(project):
    requirements = project / "requirements.txt"
    requirements.write_text("".join(line for line in requirements.open() if "powertools" not in line))
    check = preflight(project)["imports"]
    assert check.status == "fail" and "aws_lambda_powertools" in check.detail
    assert f"aws_lambda_powertools=={importlib.metadata.version('aws_lambda_powertools')}" in check.fix


def test_an_optional_import_is_not_required(project):
    (project / "chalicelib" / "optional.py").write_text("try:\n    import yaml\nexcept ImportError:\n    yaml = None\n")
    assert preflight(project)["imports"].status == "ok"


_INSTALLED = sorted(
    (module, names[0])
    for module, names in importlib.metadata.packages_distributions().items()
    # one distribution ships it, from site-packages (not the project's own editable install)
    if module.isidentifier() and not module.startswith("_") and len(names) == 1 and names[0] != "shopping-assistant-api"
)


@settings(max_examples=40, deadline=None)
@given(st.sampled_from(_INSTALLED))
def test_every_installed_module_resolves_to_the_distribution_that_ships_it(pair):
    module, _ = pair
    name, version = imports.requirement_line(module).split("==")
    files = importlib.metadata.files(name) or []
    assert version == importlib.metadata.version(name)
    assert any(str(path).split("/")[0] in (module, f"{module}.py") for path in files), (module, name)


# --- the live queue's attributes ----------------------------------------------------


@pytest.fixture(scope="module")
def sqs(moto_endpoint):
    return boto3.client(
        "sqs", region_name=REGION, endpoint_url=moto_endpoint, aws_access_key_id="t", aws_secret_access_key="t"
    )


def made(sqs, name, **attributes):
    """A real queue with a DLQ, made as step 2 makes it, then ``attributes`` put on it."""
    resources = bootstrap.ensure_queue(sqs, name, visibility_timeout=720, max_receive_count=5)
    url = resources["queue_url"]
    if attributes:
        sqs.set_queue_attributes(QueueUrl=url, Attributes=attributes)
    found = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    return limits.queue_rules(name, found, resources["dlq_arn"], 120, 5)


def test_the_queue_step_2_makes_holds(sqs):
    assert made(sqs, f"q-{uuid.uuid4().hex}.fifo") == []


def test_a_standard_queue_is_named(sqs):
    (problem, fix), *_ = made(sqs, name := f"q-{uuid.uuid4().hex}")
    assert f"{name} is a standard queue: per-session ordering (MessageGroupId) is lost" == problem
    assert "FifoQueue is fixed when a queue is created" in fix


def test_content_based_deduplication_is_named_and_step_2_turns_it_off(sqs):
    name = f"q-{uuid.uuid4().hex}.fifo"
    ((problem, _),) = made(sqs, name, ContentBasedDeduplication="true")
    assert "ContentBasedDeduplication on" in problem
    assert made(sqs, name) == []  # a rerun of step 2 puts it back


def test_a_short_visibility_timeout_is_named(sqs):
    ((problem, fix),) = made(sqs, f"q-{uuid.uuid4().hex}.fifo", VisibilityTimeout="30")
    assert problem == "VisibilityTimeout 30 s < 6 x chat_processor timeout 120 s" and "step 2" in fix


def test_a_max_receive_count_under_five_on_the_queue_is_named(sqs):
    name = f"q-{uuid.uuid4().hex}.fifo"
    dlq = sqs.get_queue_attributes(
        QueueUrl=sqs.create_queue(QueueName=bootstrap.dlq_name(name), Attributes={"FifoQueue": "true"})["QueueUrl"],
        AttributeNames=["QueueArn"],
    )["Attributes"]["QueueArn"]
    ((problem, fix),) = made(sqs, name, RedrivePolicy=json.dumps({"deadLetterTargetArn": dlq, "maxReceiveCount": 2}))
    assert "redrive after 2 receives: fewer than the 5 AWS recommends" in problem
    assert "MAX_RECEIVE_COUNT to 5 or more" in fix


@given(st.integers(min_value=-5, max_value=20000), st.integers(min_value=0, max_value=20000))
def test_function_limits_match_lambdas(timeout, memory):
    found = limits.function_limits("f", timeout, memory, "config.json")
    assert any("timeout" in problem for problem, _ in found) == (not 1 <= timeout <= 900)
    assert any("memory" in problem for problem, _ in found) == (not 128 <= memory <= 10240)


# --- diagnosis: the fix each log line names --------------------------------------------


WHERE = diagnosis.Where(
    "chalice-test",
    frozenset({"shopping-assistant-chalice-test-chat.fifo"}),
    endpoint_url="http://127.0.0.1:4566",
    region=REGION,
    since_ms=1,
)
FN = "shopping-assistant-api-chalice-test-chat_processor"


def test_the_chalice_docs_websocket_api_session_names_the_management_helper():
    line = (
        '{"level": "ERROR", "error": "ValueError(\'WebsocketAPI.configure must be called before using the '
        "WebsocketAPI')\"}"
    )
    cause = diagnosis.cause_of(FN, line, "chalice-test", WHERE)
    assert "chalicelib.management.for_endpoint(WEBSOCKET_DOMAIN, WEBSOCKET_STAGE).post" in cause.fix
    assert "read" not in cause.fix


def test_a_module_missing_at_run_time_names_the_distribution():
    cause = diagnosis.cause_of(FN, "ModuleNotFoundError: No module named 'yaml'", "chalice-test", WHERE)
    assert f"`PyYAML=={importlib.metadata.version('PyYAML')}`" in cause.fix


def test_access_denied_on_another_stages_queue_names_the_config_key():
    line = (
        "AccessDenied: User: arn:aws:sts::123456789012:assumed-role/r/s is not authorized to perform: "
        "sqs:SendMessage on resource: arn:aws:sqs:us-east-1:123456789012:shopping-assistant-prod-chat.fifo"
    )
    cause = diagnosis.cause_of("x-websocket_message", line, "chalice-test", WHERE)
    assert "is not a resource of stage chalice-test" in cause.error and "CHAT_QUEUE_NAME" in cause.fix


def test_access_denied_on_the_stages_own_resource_names_the_policy_statement():
    arn = "arn:aws:sqs:us-east-1:123456789012:shopping-assistant-chalice-test-chat.fifo"
    line = f"AccessDenied: User: x is not authorized to perform: sqs:SendMessage on resource: {arn}"
    cause = diagnosis.cause_of("x-websocket_message", line, "chalice-test", WHERE)
    statement = json.dumps({"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": arn})
    assert statement in cause.fix and ".chalice/policy-chalice-test-websocket_message.json" in cause.fix


def test_the_printed_log_command_runs_with_the_installed_cli(moto_endpoint):
    logs = boto3.client(
        "logs", region_name=REGION, endpoint_url=moto_endpoint, aws_access_key_id="t", aws_secret_access_key="t"
    )
    group = f"/aws/lambda/{FN}"
    logs.create_log_group(logGroupName=group)
    logs.create_log_stream(logGroupName=group, logStreamName="s")
    now = int(time.time() * 1000)
    logs.put_log_events(logGroupName=group, logStreamName="s", logEvents=[{"timestamp": now, "message": "boom"}])
    where = diagnosis.Where("chalice-test", endpoint_url=moto_endpoint, region=REGION, since_ms=now - 1000)
    cause = diagnosis.cause_of(FN, "[ERROR] RuntimeError: boom", "chalice-test", where)
    command = cause.fix.split("read its log: ", 1)[1]
    assert command.startswith(".venv/bin/aws --endpoint-url") and " logs filter-log-events " in command
    from tests.deploy.conftest import PROJECT_DIR

    done = subprocess.run(
        shlex.split(command), cwd=PROJECT_DIR.parent, env=tool_env(), capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0 and "boom" in done.stdout, done.stderr


def test_stage_config_rules_hold_for_every_committed_stage():
    for name in ("dev", "chalice-test", "prod"):
        stage = load_stage(name)
        assert limits.stage_config_rules(stage, stage.settings(REGION)) == [], name


def test_a_handler_not_found_names_the_redeploy():
    line = "[ERROR] Runtime.HandlerNotFound: Handler 'on_connect' missing on module 'app'"
    cause = diagnosis.cause_of("x-websocket_connect", line, "chalice-test", WHERE)
    assert cause.error.startswith("[ERROR] Runtime.HandlerNotFound") and "chalice sets the handler" in cause.fix


def test_app_handlers_are_the_functions_chalice_deploys():
    from tests.deploy.conftest import PROJECT_DIR

    handlers = limits.app_handlers(PROJECT_DIR)
    assert {"app.connect", "app.message", "app.disconnect", "app.chat_processor"} <= handlers
    assert limits.handler_rule("f", "app.connect", handlers, "rerun") == []
    ((problem, fix),) = limits.handler_rule("f", "app.nope", handlers, "rerun")
    assert "f handler app.nope is not a function of app.py" in problem and fix.startswith("rerun")
