"""scripts/deploy.py end to end against a moto server: the real chalice CLI deploys the real app.

The tests run in file order on one stack (module fixtures): deploy, redeploy,
validate, break things and see them named, repair, delete.
"""

import json
import threading
import uuid

import boto3
import pytest
from moto.iam.access_control import IAMPolicy, PermissionResult

from infra import bootstrap, policy
from infra.deploy.workcopy import working_copy_dir
from infra.stage import load_stage
from tests.deploy.conftest import PROJECT_DIR, REGION, TEST_STAGE, free_port, run_script


def fifo():
    """What SendMessage needs on the (FIFO) chat queue: a group of its own per message, as a
    session, and a deduplication id."""
    unique = uuid.uuid4().hex
    return {"MessageGroupId": unique, "MessageDeduplicationId": unique}


APP = "shopping-assistant-api"
FUNCTIONS = ("websocket_connect", "websocket_message", "websocket_disconnect", "chat_processor")
QUEUE = "shopping-assistant-chalice-test-chat.fifo"
TABLES = ("connections", "idempotency", "sessions", "frames")
FRAMES_TABLE = "shopping-assistant-chalice-test-frames"
ACCOUNT = "123456789012"  # moto's
ANY_API = "arn:aws:execute-api:*:*:*/api/*/@connections/*"  # the shape issue 14 names


def function_name(name: str) -> str:
    return f"{APP}-{TEST_STAGE}-{name}"


@pytest.fixture(scope="module")
def aws(moto_endpoint):
    def client(service: str):
        return boto3.client(
            service,
            region_name=REGION,
            endpoint_url=moto_endpoint,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )

    return client


@pytest.fixture(scope="module")
def deploy(moto_endpoint, project_copy):
    """deploy(*args) -> (exit code, JSON report, progress text)."""

    def run(*args: str):
        done = run_script(
            "deploy.py",
            "--stage", TEST_STAGE,
            "--region", REGION,
            "--endpoint-url", moto_endpoint,
            "--project-dir", str(project_copy),
            "--json",
            *args,
        )  # fmt: skip
        try:
            report = json.loads(done.stdout)
        except ValueError:
            pytest.fail(f"deploy.py {args} printed no JSON report:\n{done.stdout}\n{done.stderr}")
        return done.returncode, report, done.stderr

    return run


def checks(report, status=None):
    return {(c["step"], c["name"]): c for c in report["checks"] if status is None or c["status"] == status}


def failed(report):
    return {c["name"]: c for c in report["checks"] if c["status"] == "fail"}


def mapping_of(aws):
    queue_arn = f"arn:aws:sqs:{REGION}:{ACCOUNT}:{QUEUE}"
    found = aws("lambda").list_event_source_mappings(EventSourceArn=queue_arn)["EventSourceMappings"]
    assert len(found) == 1, found
    return found[0]


@pytest.fixture(scope="module")
def first_deploy(deploy):
    return deploy()


@pytest.fixture(scope="module")
def work_copy(moto_endpoint, project_copy):
    """Where a deploy into the emulator keeps chalice's state and the wired config (git-ignored)."""
    return working_copy_dir(project_copy, moto_endpoint, REGION)


def tracked_files(project):
    return {path.name: path.read_text() for path in sorted((project / ".chalice").glob("*.json"))}


def test_first_deploy_builds_the_whole_stack(first_deploy, aws, project_copy, work_copy):
    code, report, progress = first_deploy
    assert code == 0, progress
    assert report["ok"] is True
    assert [c["step"] for c in report["checks"]][-1] == "Validate"
    assert "Creating lambda function" in progress  # chalice's own output, streamed

    lam = aws("lambda")
    names = {f["FunctionName"] for f in lam.list_functions()["Functions"]}
    assert names == {function_name(f) for f in FUNCTIONS}

    gateway = aws("apigatewayv2")
    (api,) = gateway.get_apis()["Items"]
    assert api["ProtocolType"] == "WEBSOCKET"
    routes = {r["RouteKey"] for r in gateway.get_routes(ApiId=api["ApiId"])["Items"]}
    assert routes == {"$connect", "$default", "$disconnect"}

    mapping = mapping_of(aws)
    assert mapping["State"] == "Enabled"
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert mapping["FunctionArn"].endswith(function_name("chat_processor"))

    sqs = aws("sqs")
    url = sqs.get_queue_url(QueueName=QUEUE)["QueueUrl"]
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    timeout = lam.get_function_configuration(FunctionName=function_name("chat_processor"))["Timeout"]
    assert int(attributes["VisibilityTimeout"]) >= 6 * timeout
    redrive = json.loads(attributes["RedrivePolicy"])
    assert redrive["deadLetterTargetArn"].endswith("shopping-assistant-chalice-test-chat-dlq.fifo")
    assert int(redrive["maxReceiveCount"]) == 5  # AWS: at least 5 for a Lambda SQS source
    tables = set(aws("dynamodb").list_tables()["TableNames"])
    assert {f"shopping-assistant-chalice-test-{t}" for t in TABLES} <= tables
    frames = aws("dynamodb").describe_table(TableName=FRAMES_TABLE)["Table"]
    assert [(k["AttributeName"], k["KeyType"]) for k in frames["KeySchema"]] == [
        ("session_id", "HASH"),
        ("cursor", "RANGE"),
    ]

    domain = f"{api['ApiId']}.execute-api.{REGION}.amazonaws.com"
    env = lam.get_function_configuration(FunctionName=function_name("chat_processor"))["Environment"]["Variables"]
    assert env["WEBSOCKET_DOMAIN"] == domain and env["WEBSOCKET_STAGE"] == "api"
    assert env["CHAT_QUEUE_NAME"] == QUEUE
    config = json.loads((work_copy / ".chalice" / "config.json").read_text())
    stage_env = config["stages"][TEST_STAGE]["lambda_functions"]["chat_processor"]["environment_variables"]
    assert stage_env == {"WEBSOCKET_DOMAIN": domain, "WEBSOCKET_STAGE": "api"}
    # An emulator's ids stay in the git-ignored working copy: the project's own files are as committed.
    assert tracked_files(project_copy) == tracked_files(PROJECT_DIR)
    assert not (project_copy / ".chalice" / "deployed" / f"{TEST_STAGE}.json").exists()
    assert "tracked files stay unchanged" in progress


def role_policy(aws, function):
    """(role name, every inline policy statement of the deployed function's role as one document)."""
    iam = aws("iam")
    role = aws("lambda").get_function_configuration(FunctionName=function_name(function))["Role"].split("/")[-1]
    found = []
    for name in iam.list_role_policies(RoleName=role)["PolicyNames"]:
        document = iam.get_role_policy(RoleName=role, PolicyName=name)["PolicyDocument"]
        found += policy.statements(json.loads(document) if isinstance(document, str) else document)
    return role, {"Version": "2012-10-17", "Statement": found}


def deployed_scope(aws, project_copy):
    stage = load_stage(TEST_STAGE, project_copy)
    settings = stage.settings(REGION)
    (api,) = aws("apigatewayv2").get_apis()["Items"]
    return policy.Scope.of(
        settings, partition="aws", region=REGION, account=ACCOUNT, app_name=APP, stage=TEST_STAGE,
        websocket_stage=stage.api_gateway_stage, api_id=api["ApiId"],
    )  # fmt: skip


def connection_resources(document):
    return [
        resource
        for statement in document["Statement"]
        if "execute-api:ManageConnections" in json.dumps(statement["Action"])
        for resource in ([statement["Resource"]] if isinstance(statement["Resource"], str) else statement["Resource"])
    ]


def test_each_function_has_its_own_role_that_allows_its_calls_and_not_the_others(
    first_deploy, aws, project_copy, work_copy
):
    """moto's IAM evaluator judges the deployed roles: each function's calls on this stack, and no more."""
    scope = deployed_scope(aws, project_copy)
    roles = set()
    for function in FUNCTIONS:
        role, document = role_policy(aws, function)
        roles.add(role)
        evaluator = IAMPolicy(json.dumps(document))
        for need in policy.needs_for(scope, [function]):
            assert evaluator.is_action_permitted(need.action, need.resource) == PermissionResult.PERMITTED, need
        forbidden = policy.forbidden_for(scope, function)
        for need in forbidden:
            assert evaluator.is_action_permitted(need.action, need.resource) != PermissionResult.PERMITTED, need
        prefix = f"arn:aws:execute-api:{REGION}:{ACCOUNT}:{scope.api_id}/api/"
        assert all(r.startswith(prefix) for r in connection_resources(document)), (function, document)
        # The wire step wrote the same scope into the working copy's policy file: the next chalice deploy keeps it.
        in_file = json.loads(load_stage(TEST_STAGE, work_copy).policy_path(function).read_text())
        assert connection_resources(in_file) == connection_resources(document)
    assert len(roles) == len(FUNCTIONS)
    connect = IAMPolicy(json.dumps(role_policy(aws, "websocket_connect")[1]))
    queue_arn = f"arn:aws:sqs:{REGION}:{ACCOUNT}:{QUEUE}"
    assert connect.is_action_permitted("sqs:SendMessage", queue_arn) != PermissionResult.PERMITTED
    message = IAMPolicy(json.dumps(role_policy(aws, "websocket_message")[1]))
    assert message.is_action_permitted("sqs:SendMessage", queue_arn) == PermissionResult.PERMITTED
    other_api = f"arn:aws:execute-api:{REGION}:{ACCOUNT}:otherapi01/api/POST/@connections/AbC="
    assert message.is_action_permitted("execute-api:ManageConnections", other_api) != PermissionResult.PERMITTED


def snapshot(aws, work_copy):
    lam = aws("lambda")
    return {
        "deployed": (work_copy / ".chalice" / "deployed" / f"{TEST_STAGE}.json").read_text(),
        "config": (work_copy / ".chalice" / "config.json").read_text(),
        "mapping": {k: v for k, v in mapping_of(aws).items() if k not in ("LastModified", "ResponseMetadata")},
        "env": lam.get_function_configuration(FunctionName=function_name("chat_processor"))["Environment"],
        "apis": [a["ApiId"] for a in aws("apigatewayv2").get_apis()["Items"]],
        "queues": sorted(aws("sqs").list_queues().get("QueueUrls", [])),
    }


def test_second_deploy_changes_nothing(first_deploy, deploy, aws, work_copy):
    before = snapshot(aws, work_copy)
    code, report, progress = deploy()
    assert code == 0, progress
    assert not checks(report, "changed"), checks(report, "changed")
    assert snapshot(aws, work_copy) == before


def test_validate_only_changes_nothing_and_holds(first_deploy, deploy):
    code, report, progress = deploy("--validate-only")
    assert code == 0, progress
    assert {c["step"] for c in report["checks"]} == {"Preflight", "Validate"}
    statuses = {c["name"]: c["status"] for c in report["checks"] if c["step"] == "Validate"}
    assert statuses == {
        "functions": "ok",
        "websocket api": "ok",
        "processor endpoint": "ok",
        "sqs mapping": "ok",
        "queue": "ok",
        "tables": "ok",
        "role policies": "ok",
        "smoke test": "skip",
    }


def test_a_frames_table_without_its_sort_key_is_named_with_the_fix(first_deploy, deploy, aws):
    """A table's key cannot change in place: validate names the key it has and the one the code needs."""
    dynamodb = aws("dynamodb")
    dynamodb.delete_table(TableName=FRAMES_TABLE)
    schema, attributes = bootstrap.key_schema({"key": "session_id"})  # no sort key
    dynamodb.create_table(
        TableName=FRAMES_TABLE, KeySchema=schema, AttributeDefinitions=attributes, BillingMode="PAY_PER_REQUEST"
    )
    dynamodb.update_time_to_live(
        TableName=FRAMES_TABLE, TimeToLiveSpecification={"Enabled": True, "AttributeName": "ttl"}
    )

    code, report, _ = deploy("--validate-only")
    assert code == 1
    problem = failed(report)["tables"]
    assert f"{FRAMES_TABLE}: key (session_id HASH S), not (session_id HASH S, cursor RANGE N)" in problem["detail"]
    assert problem["fix"].startswith(f"delete {FRAMES_TABLE} (its items are lost), then rerun scripts/deploy.py")

    dynamodb.delete_table(TableName=FRAMES_TABLE)
    code, report, progress = deploy()
    assert code == 0, progress
    assert checks(report)[("Validate", "tables")]["status"] == "ok"


def test_a_disabled_mapping_is_named_and_a_deploy_enables_it(first_deploy, deploy, aws):
    uuid = mapping_of(aws)["UUID"]
    aws("lambda").update_event_source_mapping(UUID=uuid, Enabled=False)

    code, report, _ = deploy("--validate-only")
    assert code == 1
    problem = failed(report)["sqs mapping"]
    assert "Disabled" in problem["detail"] and uuid in problem["detail"]
    assert "deploy.py --stage chalice-test" in problem["fix"]

    code, report, progress = deploy()
    assert code == 0, progress
    assert mapping_of(aws)["State"] == "Enabled"


def test_a_role_without_manage_connections_is_named_and_a_deploy_restores_it(first_deploy, deploy, aws):
    iam, role = aws("iam"), function_name("chat_processor")
    document = iam.get_role_policy(RoleName=role, PolicyName=role)["PolicyDocument"]
    document["Statement"] = [
        s for s in document["Statement"] if "execute-api:ManageConnections" not in json.dumps(s["Action"])
    ]
    iam.put_role_policy(RoleName=role, PolicyName=role, PolicyDocument=json.dumps(document))

    code, report, _ = deploy("--validate-only")
    assert code == 1
    problem = failed(report)["role policies"]
    assert "execute-api:ManageConnections" in problem["detail"]
    assert role in problem["detail"] and "@connections" in problem["detail"]
    assert set(failed(report)) == {"role policies"}

    code, _, progress = deploy()
    assert code == 0, progress


def test_a_role_that_may_post_to_any_api_is_named_and_a_deploy_scopes_it(first_deploy, deploy, aws):
    iam, role = aws("iam"), function_name("websocket_message")
    document = iam.get_role_policy(RoleName=role, PolicyName=role)["PolicyDocument"]
    for statement in document["Statement"]:
        if "execute-api:ManageConnections" in json.dumps(statement["Action"]):
            statement["Resource"] = [ANY_API]
    iam.put_role_policy(RoleName=role, PolicyName=role, PolicyDocument=json.dumps(document))

    code, report, _ = deploy("--validate-only")
    assert code == 1
    problem = failed(report)["role policies"]
    assert f"role {role} allows execute-api:ManageConnections" in problem["detail"]
    assert "another API's clients" in problem["detail"]

    code, _, progress = deploy()
    assert code == 0, progress
    assert ANY_API not in connection_resources(role_policy(aws, "websocket_message")[1])


def test_preflight_names_a_permission_a_function_does_not_need(first_deploy, deploy, project_copy):
    path = project_copy / ".chalice" / f"policy-{TEST_STAGE}-websocket_connect.json"
    original = path.read_text()
    document = json.loads(original)
    document["Statement"].append(
        {"Effect": "Allow", "Action": ["sqs:SendMessage"], "Resource": [f"arn:aws:sqs:*:*:{QUEUE}"]}
    )
    path.write_text(json.dumps(document))
    try:
        code, report, _ = deploy()
    finally:
        path.write_text(original)
    assert code == 1
    detail = failed(report)["policy file"]["detail"]
    assert f"policy-{TEST_STAGE}-websocket_connect.json allows sqs:SendMessage" in detail
    assert "only websocket_message calls it" in detail
    assert {c["step"] for c in report["checks"]} == {"Preflight"}


def test_preflight_names_a_permission_missing_from_the_policy_file(first_deploy, deploy, project_copy):
    path = project_copy / ".chalice" / f"policy-{TEST_STAGE}-websocket_message.json"
    original = path.read_text()
    document = json.loads(original)
    for statement in document["Statement"]:
        statement["Action"] = [a for a in statement["Action"] if a != "sqs:SendMessage"]
    path.write_text(json.dumps(document))
    try:
        code, report, _ = deploy()
    finally:
        path.write_text(original)
    assert code == 1
    problem = failed(report)["policy file"]
    assert f"policy-{TEST_STAGE}-websocket_message.json does not allow sqs:SendMessage" in problem["detail"]
    assert "websocket_message" in problem["detail"]
    assert {c["step"] for c in report["checks"]} == {"Preflight"}  # stopped before changing anything


def test_a_max_receive_count_under_five_is_a_warning_and_a_mismatch_with_the_queue_fails(
    first_deploy, deploy, project_copy
):
    path = project_copy / ".chalice" / "config.json"
    original = path.read_text()
    config = json.loads(original)
    config["environment_variables"]["MAX_RECEIVE_COUNT"] = "3"
    path.write_text(json.dumps(config))
    try:
        code, report, _ = deploy("--validate-only")
    finally:
        path.write_text(original)
    warning = checks(report, "warn")[("Preflight", "max receive count")]
    assert "MAX_RECEIVE_COUNT=3" in warning["detail"] and "at least 5" in warning["detail"]
    assert code == 1
    assert "redrive after 5 receives, MAX_RECEIVE_COUNT is 3" in failed(report)["queue"]["detail"]


def test_a_backlog_is_a_warning_that_points_at_the_queue_tool(first_deploy, deploy, aws):
    sqs = aws("sqs")
    url = sqs.get_queue_url(QueueName=QUEUE)["QueueUrl"]
    dlq = sqs.get_queue_url(QueueName="shopping-assistant-chalice-test-chat-dlq.fifo")["QueueUrl"]
    for index in range(3):
        sqs.send_message(QueueUrl=url, MessageBody=f"stale {index}", **fifo())  # the mapping is Enabled: no Docker
    sqs.send_message(QueueUrl=dlq, MessageBody="dead", **fifo())
    try:
        code, report, _ = deploy("--validate-only", "--backlog-threshold", "3")
    finally:
        sqs.purge_queue(QueueUrl=url)
        sqs.purge_queue(QueueUrl=dlq)
    assert code == 0  # a warning does not fail
    warning = checks(report, "warn")[("Validate", "queue")]
    assert "3 waiting" in warning["detail"] and "1 waiting" in warning["detail"]
    assert "scripts/queue_tool.py purge --stage chalice-test --older-than" in warning["fix"]
    assert "scripts/queue_tool.py redrive --stage chalice-test" in warning["fix"]


def _pong_server(answer):
    """Answers a ping with ``answer``, and a chat message with an ack and a response."""
    from websockets.sync.server import serve

    def handler(websocket):
        for text in websocket:
            if json.loads(text).get("action") == "sendMessage":
                websocket.send(json.dumps({"type": "ack", "message_id": "m1"}))
                websocket.send(json.dumps({"type": "response", "message_id": "m1", "message": "hi"}))
            else:
                websocket.send(json.dumps(answer))

    port = free_port()
    server = serve(handler, "127.0.0.1", port)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"ws://127.0.0.1:{port}/api"


def test_smoke_test_pings_a_reachable_websocket(first_deploy, deploy):
    server, url = _pong_server({"type": "pong", "timestamp": 1})
    try:
        code, report, _ = deploy("--validate-only", "--smoke-url", url)
    finally:
        server.shutdown()
    assert code == 0
    smoke = checks(report)[("Validate", "smoke test")]
    assert smoke["status"] == "ok" and "ping -> pong" in smoke["detail"]
    assert "chat message answered" in smoke["detail"]

    server, url = _pong_server({"type": "error", "code": "unknown_action"})
    try:
        code, report, _ = deploy("--validate-only", "--smoke-url", url)
    finally:
        server.shutdown()
    assert code == 1 and "unknown_action" in failed(report)["smoke test"]["detail"]


def test_a_disabled_mapping_is_named_and_the_smoke_test_does_not_wait_for_it(first_deploy, deploy, aws):
    """Issue 19: the smoke test used to wait 60 s for an answer a Disabled mapping never gives."""
    uuid = mapping_of(aws)["UUID"]
    aws("lambda").update_event_source_mapping(UUID=uuid, Enabled=False)
    server, url = _pong_server({"type": "pong", "timestamp": 1})
    try:
        code, report, _ = deploy("--validate-only", "--smoke-url", url)
    finally:
        server.shutdown()
        aws("lambda").update_event_source_mapping(UUID=uuid, Enabled=True)
    assert code == 1 and "Disabled" in failed(report)["sqs mapping"]["detail"]
    smoke = checks(report)[("Validate", "smoke test")]
    assert smoke["status"] == "skip" and "not run: sqs mapping failed above" in smoke["detail"]


def _configure(aws, name, **changes):
    """update-function-configuration as any tool could send it (botocore's own checks off: the limits are
    what AWS enforces, and an emulator may not)."""
    from botocore.config import Config

    lam = boto3.client(
        "lambda",
        region_name=REGION,
        endpoint_url=aws("lambda").meta.endpoint_url,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(parameter_validation=False),
    )
    before = lam.get_function_configuration(FunctionName=function_name(name))
    lam.update_function_configuration(FunctionName=function_name(name), **changes)
    return {key: before[key] for key in changes}


def test_a_deployed_function_beyond_lambdas_limits_is_named(first_deploy, deploy, aws):
    restore = _configure(aws, "chat_processor", Timeout=1000, MemorySize=64)
    try:
        code, report, _ = deploy("--validate-only")
    finally:
        _configure(aws, "chat_processor", **restore)
    assert code == 1
    problem = failed(report)["functions"]
    assert "chat_processor timeout 1000 s is outside Lambda's 1-900 s" in problem["detail"]
    assert "chat_processor memory 64 MB is outside Lambda's 128-10240 MB" in problem["detail"]
    assert 'lambda_functions."chat_processor".lambda_timeout to at most 900' in problem["fix"]
    assert checks(report)[("Validate", "smoke test")]["status"] == "skip"


def test_websocket_message_pointed_at_another_stages_queue_is_named_before_a_smoke_test(first_deploy, deploy, aws):
    variables = aws("lambda").get_function_configuration(FunctionName=function_name("websocket_message"))[
        "Environment"
    ]["Variables"]
    other = "shopping-assistant-prod-chat.fifo"
    restore = _configure(aws, "websocket_message", Environment={"Variables": {**variables, "CHAT_QUEUE_NAME": other}})
    try:
        code, report, _ = deploy("--validate-only")
    finally:
        _configure(aws, "websocket_message", **restore)
    assert code == 1
    problem = failed(report)["functions"]
    assert f"websocket_message has CHAT_QUEUE_NAME={other}, the stage's is {QUEUE}" in problem["detail"]
    assert f'set CHAT_QUEUE_NAME to "{QUEUE}" for websocket_message' in problem["fix"]


def test_a_wrong_handler_is_named(first_deploy, deploy, aws):
    restore = _configure(aws, "websocket_connect", Handler="app.on_connect")
    try:
        code, report, _ = deploy("--validate-only")
    finally:
        _configure(aws, "websocket_connect", **restore)
    assert code == 1
    problem = failed(report)["functions"]
    assert "websocket_connect handler app.on_connect is not a function of app.py" in problem["detail"]
    assert "app.connect" in problem["detail"] and "chalice sets each function's handler" in problem["fix"]


def test_a_missing_table_is_named_and_a_deploy_creates_it(first_deploy, deploy, aws):
    sessions = "shopping-assistant-chalice-test-sessions"
    aws("dynamodb").delete_table(TableName=sessions)
    code, report, _ = deploy("--validate-only")
    assert code == 1
    problem = failed(report)["tables"]
    assert f"{sessions}: ResourceNotFoundException" in problem["detail"]
    assert "rerun scripts/deploy.py --stage chalice-test (step 2 creates them)" in problem["fix"]
    code, report, progress = deploy()
    assert code == 0, progress
    assert checks(report)[("Validate", "tables")]["status"] == "ok"


def test_a_standard_queue_in_place_of_the_fifo_one_is_named(first_deploy, deploy, aws, project_copy):
    """A stage configured with a standard queue (created by hand): named before anything is deployed."""
    path = project_copy / ".chalice" / "config.json"
    original = path.read_text()
    config = json.loads(original)
    config["stages"][TEST_STAGE]["environment_variables"]["CHAT_QUEUE_NAME"] = "hand-made-chat"
    hand_made = aws("sqs").create_queue(QueueName="hand-made-chat")["QueueUrl"]
    path.write_text(json.dumps(config))
    try:
        code, report, _ = deploy()
    finally:
        path.write_text(original)
        aws("sqs").delete_queue(QueueUrl=hand_made)
    assert code == 1 and {c["step"] for c in report["checks"]} == {"Preflight"}
    problem = failed(report)["aws limits"]
    assert "CHAT_QUEUE_NAME=hand-made-chat names a standard queue" in problem["detail"]
    assert 'set CHAT_QUEUE_NAME to "hand-made-chat.fifo"' in problem["fix"]


def test_an_unknown_stage_is_named_with_the_known_ones(project_copy):
    done = run_script("deploy.py", "--stage", "nope", "--project-dir", str(project_copy))
    assert done.returncode == 1
    assert 'stage "nope" is not in' in done.stdout and "chalice-test, dev, local, prod" in done.stdout


def test_delete_removes_the_stack_and_a_second_delete_is_a_no_op(first_deploy, deploy, aws, project_copy, work_copy):
    code, report, progress = deploy("--delete")
    assert code == 0, progress
    assert aws("lambda").list_functions()["Functions"] == []
    assert aws("apigatewayv2").get_apis()["Items"] == []
    assert aws("sqs").list_queues().get("QueueUrls", []) == []
    assert not [t for t in aws("dynamodb").list_tables()["TableNames"] if "chalice-test" in t]
    config = json.loads((work_copy / ".chalice" / "config.json").read_text())
    assert "environment_variables" not in config["stages"][TEST_STAGE]["lambda_functions"]["chat_processor"]
    # The deleted API's id is gone from the policy files: back to the stage's committed shape.
    assert tracked_files(project_copy) == tracked_files(PROJECT_DIR)
    for name in ("websocket_message", "chat_processor"):
        path = work_copy / ".chalice" / f"policy-{TEST_STAGE}-{name}.json"
        assert path.read_text() == (PROJECT_DIR / ".chalice" / path.name).read_text()

    code, report, progress = deploy("--delete")
    assert code == 0, progress
    assert checks(report)[("chalice delete", "chalice delete")]["status"] == "ok"
