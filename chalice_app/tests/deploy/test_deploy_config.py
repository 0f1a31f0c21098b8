"""The stages of .chalice/config.json and their policy files, checked without AWS."""

import functools
import json

import pytest
from moto.iam.access_control import IAMPolicy, PermissionResult

from chalicelib.assistant import BACKENDS
from chalicelib.config import REQUIRED_IN_LAMBDA, load
from infra import bootstrap, motopatch, policy
from infra.stage import FUNCTIONS, PROCESSOR, StageError, load_stage

pytestmark = pytest.mark.inprocess  # pure pieces: no stack (see tests/conftest.py)

STAGES = ("dev", "chalice-test", "prod")


def scope_for(stage):
    settings = stage.settings("eu-west-1")
    return policy.Scope.of(
        settings, partition="aws", region="eu-west-1", account="111122223333", app_name=stage.app_name,
        stage=stage.stage, websocket_stage=stage.api_gateway_stage, api_id="abc123defg",
    )  # fmt: skip


@pytest.mark.parametrize("name", STAGES)
def test_each_stage_is_complete_and_its_policy_allows_what_the_code_calls(name):
    stage = load_stage(name)
    settings = stage.settings("eu-west-1")
    assert settings.assistant_backend in BACKENDS
    assert stage.environment(PROCESSOR)["ASSISTANT_BACKEND"] == settings.assistant_backend  # never a default
    for function in FUNCTIONS:
        config = stage.function(function)
        assert config.autogen_policy is False
        assert all(stage.environment(function).get(key) for key in REQUIRED_IN_LAMBDA), function
    assert stage.processor_timeout >= 60  # long enough for an LLM reply
    assert stage.visibility_timeout == 6 * stage.processor_timeout <= 12 * 3600
    assert stage.function("websocket_message").lambda_timeout < stage.processor_timeout
    for function in FUNCTIONS:
        document = json.loads(stage.policy_path(function).read_text())
        assert policy.missing(document, policy.needs_for(scope_for(stage), [function])) == [], function


@pytest.mark.parametrize("name", STAGES)
def test_each_function_has_its_own_policy_file(name):
    stage = load_stage(name)
    paths = [stage.policy_path(function) for function in FUNCTIONS]
    assert [path.name for path in paths] == [f"policy-{name}-{function}.json" for function in FUNCTIONS]
    assert all(path.exists() for path in paths)


@pytest.mark.parametrize("name", STAGES)
@pytest.mark.parametrize("function", FUNCTIONS)
def test_a_function_policy_allows_its_calls_and_not_the_others(name, function):
    """Judged twice: by infra.policy, and by moto's IAM evaluator (an independent implementation)."""
    stage = load_stage(name)
    scope = scope_for(stage)
    document = json.loads(stage.policy_path(function).read_text())
    # The committed files name any API id of their stage: the Wire step narrows them to the deployed API.
    forbidden = policy.forbidden_for(scope, function, other_apis=False)
    assert policy.excess(document, forbidden) == []
    assert policy.missing(document, policy.needs_for(scope, [function])) == []
    evaluator = IAMPolicy(json.dumps(document))
    for need in policy.needs_for(scope, [function]):
        assert evaluator.is_action_permitted(need.action, need.resource) == PermissionResult.PERMITTED, need
    for need in forbidden:
        assert evaluator.is_action_permitted(need.action, need.resource) != PermissionResult.PERMITTED, need
    if function == "websocket_connect":
        assert {"sqs:SendMessage", "execute-api:ManageConnections"} <= {need.action for need in forbidden}


@pytest.mark.parametrize("name", STAGES)
def test_policy_names_manage_connections_and_bedrock(name):
    stage = load_stage(name)
    for function in FUNCTIONS:
        document = json.loads(stage.policy_path(function).read_text())
        by_action = {action: st["Resource"] for st in document["Statement"] for action in st["Action"]}
        assert not any(action == "*" or action.endswith(":*") for action in by_action)  # least privilege
        methods = sorted(r.split("/")[-3] for r in by_action.get("execute-api:ManageConnections", []))
        assert methods == sorted(policy.connection_methods(function)), function
        # Scoped to the WebSocket stage and a method: never "*/api/*/@connections/*".
        assert all(
            r.endswith(f"/{stage.api_gateway_stage}/{r.split('/')[-3]}/@connections/*")
            for r in by_action.get("execute-api:ManageConnections", [])
        )
        has_bedrock = {"bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream"} <= set(by_action)
        assert has_bedrock is (function == PROCESSOR)


# Every DynamoDB item action: a function's policy may name only those its code calls on a table.
DYNAMODB_ITEM_ACTIONS = (
    "GetItem", "PutItem", "UpdateItem", "DeleteItem", "Query", "Scan", "BatchGetItem", "BatchWriteItem",
    "ConditionCheckItem",
)  # fmt: skip
FRAME_WRITERS = ("websocket_message", PROCESSOR)  # the ack; status, chunk, response and error frames


@pytest.mark.parametrize("name", STAGES)
def test_the_frame_writers_may_put_and_query_frames_on_the_frames_table_only(name):
    """PutItem + Query on exactly the stage's frames table for websocket_message and chat_processor;
    nothing on it for $connect/$disconnect; Query on no other table (moto's IAM evaluator)."""
    stage = load_stage(name)
    settings = stage.settings("eu-west-1")

    def table(table_name):
        return f"arn:aws:dynamodb:eu-west-1:111122223333:table/{table_name}"

    frames = table(settings.frames_table)
    others = [
        table(settings.connections_table),
        table(settings.idempotency_table),
        table(settings.sessions_table),
        table(settings.frames_table + "-other"),  # a neighbour's name that starts the same
        frames + "/index/any",  # no index is queried
    ]
    for function in FUNCTIONS:
        evaluator = IAMPolicy(stage.policy_path(function).read_text())
        permitted = functools.partial(dynamodb_permitted, evaluator)
        allowed = {action for action in DYNAMODB_ITEM_ACTIONS if permitted(action, frames)}
        assert allowed == ({"PutItem", "Query"} if function in FRAME_WRITERS else set()), function
        assert not [resource for resource in others if permitted("Query", resource)], function
        assert not permitted("PutItem", table(settings.frames_table + "-other")), function


def dynamodb_permitted(evaluator, action, resource):
    return evaluator.is_action_permitted(f"dynamodb:{action}", resource) == PermissionResult.PERMITTED


def test_needs_name_the_frames_table_for_the_frame_writers_only():
    scope = scope_for(load_stage("dev"))
    frames = scope.arn("frames_table", PROCESSOR)
    assert frames == "arn:aws:dynamodb:eu-west-1:111122223333:table/shopping-assistant-dev-frames"
    on_frames = {(need.function, need.action) for need in policy.needs_for(scope) if need.resource == frames}
    assert on_frames == {(f, action) for f in FRAME_WRITERS for action in ("dynamodb:PutItem", "dynamodb:Query")}


def test_scope_connections_narrows_to_one_api_and_keeps_the_methods():
    any_api = "arn:aws:execute-api:*:*:*/api"
    document = {
        "Statement": [
            {"Effect": "Allow", "Action": ["logs:PutLogEvents"], "Resource": ["arn:aws:logs:*:*:log-group:x"]},
            {
                "Effect": "Allow",
                "Action": ["execute-api:ManageConnections"],
                "Resource": [f"{any_api}/POST/@connections/*", f"{any_api}/GET/@connections/*"],
            },
        ]
    }  # fmt: skip
    before = json.dumps(document)
    scoped = policy.scope_connections(
        document, lambda method: policy.connections_arn("aws", "eu-west-1", "111122223333", "abc123defg", "api", method)
    )
    assert json.dumps(document) == before  # a copy
    assert scoped["Statement"][0] == document["Statement"][0]
    assert scoped["Statement"][1]["Resource"] == [
        "arn:aws:execute-api:eu-west-1:111122223333:abc123defg/api/POST/@connections/*",
        "arn:aws:execute-api:eu-west-1:111122223333:abc123defg/api/GET/@connections/*",
    ]
    scope = scope_for(load_stage("dev"))
    assert policy.allows(scoped, "execute-api:ManageConnections", scope.arn("connections_post", PROCESSOR))
    # chat_processor calls no GET @connections any more (no GetConnection at pickup): least privilege names it.
    excess = policy.excess(scoped, policy.forbidden_for(scope, PROCESSOR))
    assert [need.resource.split("/")[-3] for need in excess] == ["GET"]
    # The wide shape of issue 14 lets a function post to another API's clients.
    wide = {"Statement": [{**document["Statement"][1], "Resource": f"{any_api}/*/@connections/*"}]}
    assert [need.why for need in policy.excess(wide, policy.forbidden_for(scope, PROCESSOR))] == [
        "no code calls GET @connections",
        "no code calls DELETE @connections",
        "another API's clients",
    ]


def test_max_receive_count_is_at_least_the_five_aws_recommends():
    assert load({}).max_receive_count == 5
    for name in STAGES:
        assert load_stage(name).settings("eu-west-1").max_receive_count >= 5, name


def test_stages_do_not_share_queues_or_tables():
    names = [load_stage(n).settings("us-east-1") for n in STAGES]
    resources = [(s.queue_name, *(spec["name"] for spec in bootstrap.table_specs(s))) for s in names]
    assert all(len(group) == 5 for group in resources)  # the queue, the connections, idempotency, sessions, frames
    flat = [name for group in resources for name in group]
    assert len(flat) == len(set(flat))


def test_an_unknown_stage_lists_the_known_ones():
    with pytest.raises(StageError, match=r'stage "qa" is not in .*stages: chalice-test, dev, local, prod'):
        load_stage("qa")
    assert load_stage("local", require_defined=False).settings("us-east-1").queue_name == "ChatProcessingQueue.fifo"


def test_policy_evaluation():
    doc = {
        "Statement": [
            {"Effect": "Allow", "Action": "SQS:*", "Resource": "arn:aws:sqs:*:*:chat"},
            {"Effect": "Deny", "Action": ["sqs:DeleteMessage"], "Resource": "*"},
            {"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"},  # not evaluated: never allows
        ]
    }
    assert policy.allows(doc, "sqs:SendMessage", "arn:aws:sqs:eu-west-1:1:chat")
    assert not policy.allows(doc, "sqs:SendMessage", "arn:aws:sqs:eu-west-1:1:chat-dlq")
    assert not policy.allows(doc, "sqs:DeleteMessage", "arn:aws:sqs:eu-west-1:1:chat")
    assert not policy.allows(doc, "dynamodb:GetItem", "arn:aws:dynamodb:eu-west-1:1:table/t")
    single = {"Statement": {"Effect": "Allow", "Action": "logs:Put?ogEvents", "Resource": "*"}}
    assert policy.allows(single, "logs:PutLogEvents", "x")


def test_missing_names_function_action_and_resource():
    stage = load_stage("dev")
    needs = policy.needs_for(scope_for(stage), [PROCESSOR])
    (need,) = [n for n in policy.missing({"Statement": []}, needs) if n.resource.endswith("/POST/@connections/AbC=")]
    assert need.describe() == (
        "execute-api:ManageConnections on arn:aws:execute-api:eu-west-1:111122223333:abc123defg/api/POST/"
        "@connections/AbC= (chat_processor: posts status/chunk/response frames)"
    )


def test_motopatch_applies_and_restores():
    from moto.apigatewayv2 import urls
    from moto.apigatewayv2.responses import ApiGatewayV2Response

    had = hasattr(ApiGatewayV2Response, "create_deployment")
    with motopatch.patched():
        assert motopatch.DEPLOYMENTS_PATH in urls.url_paths
        assert hasattr(ApiGatewayV2Response, "create_deployment")
    assert motopatch.DEPLOYMENTS_PATH not in urls.url_paths
    assert hasattr(ApiGatewayV2Response, "create_deployment") == had


@pytest.mark.parametrize(
    "model_id, arn",
    [
        ("amazon.nova-lite-v1:0", "arn:aws:bedrock:eu-west-1::foundation-model/amazon.nova-lite-v1:0"),
        (
            "eu.amazon.nova-lite-v1:0",
            "arn:aws:bedrock:eu-west-1:111122223333:inference-profile/eu.amazon.nova-lite-v1:0",
        ),
        (
            "arn:aws:bedrock:eu-west-1:1:application-inference-profile/x",
            "arn:aws:bedrock:eu-west-1:1:application-inference-profile/x",
        ),
    ],
)
def test_bedrock_model_ids_become_the_arn_iam_checks(model_id, arn):
    scope = scope_for(load_stage("prod"))
    assert policy.Scope(**{**scope.__dict__, "model_id": model_id}).model_arn() == arn
    document = json.loads(load_stage("prod").policy_path().read_text())
    allowed = policy.allows(document, "bedrock:InvokeModelWithResponseStream", arn)
    assert allowed is (":application-inference-profile/" not in arn)  # the policy names models and profiles only
