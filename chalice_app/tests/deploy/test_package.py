"""scripts/deploy.py --package DIR: the real ``chalice package`` of each stage, hardened, and cfn-lint on it.

No AWS account is involved: no credentials, no region, no endpoint. The project
copy is first wired the way a deploy leaves it (config.json and the policy files
name a deployed API), so the tests also show that the template names its own API
instead of that one.
"""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from moto.iam.access_control import IAMPolicy, PermissionResult

from infra import policy
from infra.deploy.wire import edit_processor_env, scope_policy_files
from infra.stage import FUNCTIONS, PROCESSOR, load_stage
from tests.deploy.conftest import run_script

STAGES = ("dev", "chalice-test", "prod")
DEPLOYED_API = "dep1oyed42"  # what an earlier deploy.py wrote into the project
CFN_LINT = Path(sys.executable).parent / "cfn-lint"
SUB_API = "arn:${AWS::Partition}:execute-api:${AWS::Region}:${AWS::AccountId}:${WebsocketAPI}/api"


def offline_env(tmp_path: Path) -> dict:
    """No AWS anything: the machine's profiles, keys and region are out of reach."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("AWS_")}
    env.update(
        AWS_CONFIG_FILE=str(tmp_path / "no-config"),
        AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "no-credentials"),
        PYTHONUNBUFFERED="1",
    )
    return env


@pytest.fixture(scope="module")
def packages(project_copy, tmp_path_factory):
    for name in STAGES:
        stage = load_stage(name, project_copy)
        edit_processor_env(
            stage, {"WEBSOCKET_DOMAIN": f"{DEPLOYED_API}.execute-api.eu-west-1.amazonaws.com", "WEBSOCKET_STAGE": "api"}
        )
        scope_policy_files(
            stage, lambda m: policy.connections_arn("aws", "eu-west-1", "111122223333", DEPLOYED_API, "api", m)
        )
    found = {}
    for name in STAGES:
        out = tmp_path_factory.mktemp(f"package-{name}")
        done = run_script(
            "deploy.py", "--stage", name, "--package", str(out), "--project-dir", str(project_copy),
            env=offline_env(out), timeout=400,
        )  # fmt: skip
        assert done.returncode == 0, done.stdout + done.stderr
        found[name] = (done, out, json.loads((out / "sam.json").read_text()))
    return found


def resources_of(template, kind):
    return {name: r for name, r in template["Resources"].items() if r["Type"] == kind}


def resolve(value, api_id):
    """The template's Fn::Sub strings as CloudFormation would render them for one stack."""
    if isinstance(value, dict) and set(value) == {"Fn::Sub"}:
        names = {"AWS::Partition": "aws", "AWS::Region": "eu-west-1", "AWS::AccountId": "111122223333"}
        names["WebsocketAPI"] = api_id
        names["AWS::URLSuffix"] = "amazonaws.com"
        return re.sub(r"\$\{([^}]+)\}", lambda m: names[m.group(1)], value["Fn::Sub"])
    if isinstance(value, dict):
        return {key: resolve(item, api_id) for key, item in value.items()}
    if isinstance(value, list):
        return [resolve(item, api_id) for item in value]
    return value


def function_logical_ids(template):
    """chalice function name -> the function's logical id (its Handler is app.<name>)."""
    functions = resources_of(template, "AWS::Serverless::Function")
    by_handler = {r["Properties"]["Handler"].removeprefix("app."): name for name, r in functions.items()}
    # chalice names the WebSocket handlers' Lambda functions websocket_connect/message/disconnect
    aliases = {"websocket_connect": "connect", "websocket_message": "message", "websocket_disconnect": "disconnect"}
    return {function: by_handler[aliases.get(function, function)] for function in FUNCTIONS}


@pytest.mark.parametrize("name", STAGES)
def test_cfn_lint_finds_nothing_in_the_packaged_template(packages, name):
    _, out, _ = packages[name]
    lint = subprocess.run([str(CFN_LINT), str(out / "sam.json")], capture_output=True, text=True, timeout=300)
    assert (lint.returncode, lint.stdout) == (0, ""), lint.stdout + lint.stderr
    assert (out / "deployment.zip").stat().st_size > 100_000


def test_cfn_lint_can_fail(packages, tmp_path):
    _, out, template = packages["dev"]
    broken = json.loads(json.dumps(template).replace("${WebsocketAPI}/api/POST", "${NoSuchApi}/api/POST"))
    (tmp_path / "sam.json").write_text(json.dumps(broken))
    lint = subprocess.run([str(CFN_LINT), str(tmp_path / "sam.json")], capture_output=True, text=True, timeout=300)
    assert lint.returncode != 0 and "NoSuchApi" in lint.stdout


@pytest.mark.parametrize("name", STAGES)
def test_the_sqs_event_reports_batch_item_failures(packages, name):
    _, _, template = packages[name]
    events = [
        event
        for function in resources_of(template, "AWS::Serverless::Function").values()
        for event in function["Properties"].get("Events", {}).values()
        if event["Type"] == "SQS"
    ]
    assert len(events) == 1
    assert events[0]["Properties"]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]


@pytest.mark.parametrize("name", STAGES)
def test_manage_connections_names_the_templates_own_api(packages, name):
    _, _, template = packages[name]
    assert DEPLOYED_API not in json.dumps(template)  # neither the policies nor the processor's endpoint
    roles = resources_of(template, "AWS::IAM::Role")
    scoped = {}
    for role_id, role in roles.items():
        for entry in role["Properties"]["Policies"]:
            for statement in policy.statements(entry["PolicyDocument"]):
                if "execute-api:ManageConnections" in statement["Action"]:
                    scoped[role_id] = statement["Resource"]
    post, get = ({"Fn::Sub": f"{SUB_API}/{method}/@connections/*"} for method in ("POST", "GET"))
    assert scoped == {"WebsocketMessageRole": [post], "ChatProcessorRole": [post]}
    assert get not in scoped["ChatProcessorRole"]  # no code calls GET @connections
    processor = template["Resources"][function_logical_ids(template)[PROCESSOR]]["Properties"]
    variables = processor["Environment"]["Variables"]
    assert variables["WEBSOCKET_DOMAIN"] == {"Fn::Sub": "${WebsocketAPI}.execute-api.${AWS::Region}.${AWS::URLSuffix}"}
    assert variables["WEBSOCKET_STAGE"] == "api"


@pytest.mark.parametrize("name", STAGES)
def test_each_packaged_role_allows_its_functions_calls_and_not_the_others(packages, project_copy, name):
    _, _, template = packages[name]
    stage = load_stage(name, project_copy)
    settings = stage.settings("eu-west-1")
    scope = policy.Scope.of(
        settings, partition="aws", region="eu-west-1", account="111122223333", app_name=stage.app_name,
        stage=name, websocket_stage="api", api_id="stackapi01",
    )  # fmt: skip
    for function, logical_id in function_logical_ids(template).items():
        role_id = template["Resources"][logical_id]["Properties"]["Role"]["Fn::GetAtt"][0]
        (entry,) = template["Resources"][role_id]["Properties"]["Policies"]
        evaluator = IAMPolicy(json.dumps(resolve(entry["PolicyDocument"], scope.api_id)))
        for need in policy.needs_for(scope, [function]):
            assert evaluator.is_action_permitted(need.action, need.resource) == PermissionResult.PERMITTED, need
        for need in policy.forbidden_for(scope, function):
            assert evaluator.is_action_permitted(need.action, need.resource) != PermissionResult.PERMITTED, need


def test_packaging_reports_what_it_changed(packages):
    done, out, _ = packages["chalice-test"]
    assert "Creating deployment package" in done.stdout or "Reusing existing deployment package" in done.stdout
    assert str(out / "sam.json") in done.stdout
    assert "ReportBatchItemFailures" in done.stdout and "WebsocketAPI" in done.stdout
    assert "credentials" not in done.stdout  # no account was asked for
    kinds = ("connections", "idempotency", "sessions", "frames")
    tables = ", ".join(f"shopping-assistant-chalice-test-{kind}" for kind in kinds)
    assert f"tables {tables};" in done.stdout  # preflight names every table the stage uses


@pytest.mark.parametrize("name", STAGES)
def test_the_template_holds_the_whole_stage(packages, project_copy, name):
    """Issue 19: the queue, its DLQ and the tables are in the template, with the names and attributes step 2
    gives them, and the SQS event reads the template's own queue."""
    _, _, template = packages[name]
    settings = load_stage(name, project_copy).settings("eu-west-1")
    queues = {r["Properties"]["QueueName"]: r["Properties"] for r in resources_of(template, "AWS::SQS::Queue").values()}
    queue = queues[settings.queue_name]
    assert queue["FifoQueue"] is True and queue["ContentBasedDeduplication"] is False
    assert queue["VisibilityTimeout"] == 6 * 120
    assert queue["RedrivePolicy"] == {
        "deadLetterTargetArn": {"Fn::GetAtt": ["ChatDeadLetterQueue", "Arn"]},
        "maxReceiveCount": settings.max_receive_count,
    }
    assert set(queues) == {settings.queue_name, settings.queue_name.replace(".fifo", "-dlq.fifo")}
    tables = {
        r["Properties"]["TableName"]: r["Properties"] for r in resources_of(template, "AWS::DynamoDB::Table").values()
    }
    assert set(tables) == {settings.connections_table, settings.idempotency_table, settings.sessions_table,
                           settings.frames_table}  # fmt: skip
    assert [k["AttributeName"] for k in tables[settings.frames_table]["KeySchema"]] == ["session_id", "cursor"]
    assert all(t["TimeToLiveSpecification"]["Enabled"] for t in tables.values())
    processor = template["Resources"][function_logical_ids(template)[PROCESSOR]]["Properties"]
    (event,) = processor["Events"].values()
    assert event["Properties"]["Queue"] == {"Fn::GetAtt": ["ChatQueue", "Arn"]}


@pytest.mark.parametrize("name", STAGES)
def test_each_function_is_named_as_its_log_permission_names_it(packages, name):
    _, _, template = packages[name]
    for function, logical_id in function_logical_ids(template).items():
        properties = template["Resources"][logical_id]["Properties"]
        assert properties["FunctionName"] == f"shopping-assistant-api-{name}-{function}"
        role_id = properties["Role"]["Fn::GetAtt"][0]
        (entry,) = template["Resources"][role_id]["Properties"]["Policies"]
        (logs,) = [s for s in entry["PolicyDocument"]["Statement"] if s.get("Sid") == "WriteOwnLogs"]
        assert f"log-group:/aws/lambda/{properties['FunctionName']}" in logs["Resource"][0]


@pytest.mark.parametrize("name", STAGES)
def test_the_plain_cloudformation_template_has_no_transform_and_lints_clean(packages, name):
    done, out, _ = packages[name]
    plain = json.loads((out / "cloudformation.json").read_text())
    assert "Transform" not in plain and not resources_of(plain, "AWS::Serverless::Function")
    assert len(resources_of(plain, "AWS::Lambda::Function")) == 4
    (mapping,) = resources_of(plain, "AWS::Lambda::EventSourceMapping").values()
    assert mapping["Properties"]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert set(plain["Parameters"]) >= {"CodeBucket", "CodeKey"}
    lint = subprocess.run(
        [str(CFN_LINT), str(out / "cloudformation.json")], capture_output=True, text=True, timeout=300
    )
    assert (lint.returncode, lint.stdout) == (0, ""), lint.stdout + lint.stderr
