"""The deployed mode's pure pieces: reading API responses, IAM evaluation, and naming a failure's cause."""

import shutil
from types import SimpleNamespace

import pytest

from infra.deploy.validate import cause_of
from localcloud import region
from localcloud.iam import MANAGE_CONNECTIONS, connection_arn, is_permitted
from localcloud.motomain import access_key_of, json_error, resource_arn

pytestmark = pytest.mark.inprocess  # pure pieces: no stack (see tests/conftest.py)

FN_ARN = "arn:aws:lambda:us-east-1:123456789012:function:shopping-assistant-api-chalice-test-chat_processor"
CONFIG = {
    "FunctionName": "shopping-assistant-api-chalice-test-chat_processor",
    "FunctionArn": FN_ARN,
    "Handler": "app.chat_processor",
    "Timeout": 120,
    "MemorySize": 512,
    "Role": "arn:aws:iam::123456789012:role/chat_processor_role",
    "Environment": {"Variables": {"WEBSOCKET_STAGE": "api", "SQS_BATCH_SIZE": 1}},
    "CodeSha256": "abc=",
    "LastModified": "2026-12-01T10:00:00.000+0000",
}


def test_function_fields_are_what_lambda_says():
    fields = region.function_fields({"Configuration": CONFIG}, "/code")
    assert fields["name"] == CONFIG["FunctionName"] and fields["handler"] == "app.chat_processor"
    assert fields["timeout_seconds"] == 120.0 and fields["memory_mb"] == 512
    assert fields["environment"] == {"WEBSOCKET_STAGE": "api", "SQS_BATCH_SIZE": "1"}
    assert fields["role_arn"] == CONFIG["Role"] and fields["code_dir"] == "/code"


def test_the_version_changes_with_code_or_configuration_only():
    version = region.function_fields(CONFIG, "/a")["version"]
    assert region.function_fields(CONFIG, "/b")["version"] == version
    assert region.function_fields({**CONFIG, "CodeSha256": "def="}, "/a")["version"] != version
    changed = {**CONFIG, "Environment": {"Variables": {"WEBSOCKET_DOMAIN": "x"}}}
    assert region.function_fields(changed, "/a")["version"] != version


def test_routes_map_to_the_functions_of_their_integrations():
    uri = f"arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/{FN_ARN}/invocations"
    api = region.websocket_api(
        {"ApiId": "abc123", "Name": "ws"},
        [{"StageName": "api"}],
        [{"RouteKey": "$default", "Target": "integrations/i1"}, {"RouteKey": "$connect"}],
        [{"IntegrationId": "i1", "IntegrationUri": uri}],
    )
    assert api.routes == {"$default": CONFIG["FunctionName"]} and api.stages == ("api",)


def test_an_event_source_mapping_as_the_poller_reads_it():
    mapping = {
        "UUID": "u1",
        "EventSourceArn": "arn:aws:sqs:us-east-1:123456789012:q",
        "FunctionArn": FN_ARN,
        "BatchSize": 1,
        "State": "Disabled",
    }
    source = region.event_source(mapping)
    assert (source.enabled, source.report_batch_item_failures, source.batch_size) == (False, False, 1)
    source = region.event_source({**mapping, "State": "Enabled", "FunctionResponseTypes": ["ReportBatchItemFailures"]})
    assert source.enabled and source.report_batch_item_failures and source.function_name == CONFIG["FunctionName"]


def test_manage_connections_is_evaluated_as_iam_does():
    allow = {
        "Statement": [
            {
                "Effect": "Allow",
                "Action": MANAGE_CONNECTIONS,
                "Resource": "arn:aws:execute-api:*:*:a1/api/POST/@connections/*",
            }
        ]
    }
    deny = {"Statement": [{"Effect": "Deny", "Action": "execute-api:*", "Resource": "*"}]}
    resource = connection_arn("us-east-1", "123456789012", "a1", "api", "POST", "c1=")
    assert is_permitted([allow], MANAGE_CONNECTIONS, resource)
    assert not is_permitted([allow, deny], MANAGE_CONNECTIONS, resource)
    assert not is_permitted([allow], MANAGE_CONNECTIONS, connection_arn("us-east-1", "1", "a1", "prod", "POST", "c"))
    assert not is_permitted([], MANAGE_CONNECTIONS, resource)


def test_moto_gets_the_real_resource_and_json_errors():
    assert access_key_of("AWS4-HMAC-SHA256 Credential=ASIAXYZ/20261201/us-east-1/sqs/aws4_request, S=") == "ASIAXYZ"
    assert resource_arn("dynamodb", "us-east-1", "1", {"TableName": "t"}, "*") == "arn:aws:dynamodb:us-east-1:1:table/t"
    assert resource_arn("sqs", "us-east-1", "1", {"QueueName": "q"}, "*") == "arn:aws:sqs:us-east-1:1:q"
    assert resource_arn("sqs", "us-east-1", "1", {}, "arn:aws:sqs:us-east-1:1:q") == "arn:aws:sqs:us-east-1:1:q"
    headers, body = json_error("sqs", "AccessDeniedException", "no")
    assert headers["x-amzn-query-error"] == "AccessDenied;Sender" and '"__type": "AccessDenied"' in body


def test_causes_name_the_error_and_the_change():
    cause = cause_of(
        "fn-connect",
        "[ERROR] Runtime.ImportModuleError: Unable to import module 'app': No module named 'aws_lambda_powertools'",
        "chalice-test",
    )
    assert "aws_lambda_powertools==" in cause.fix and "chalice_app/requirements.txt" in cause.fix
    cause = cause_of(
        "fn-chat_processor", '{"error": "ValueError(\'Assign app.websocket_api.session to a boto3 session\')"}', "s"
    )
    assert "chalicelib.management" in cause.fix
    cause = cause_of("a-b-chat_processor", "ForbiddenException: execute-api:ManageConnections", "dev")
    assert "policy-dev-chat_processor.json" in cause.fix
    assert cause_of("fn", "START RequestId: 1", "dev") is None


@pytest.fixture
def edge():
    """A CloudRegion's edge, not started, serving one API in ap-southeast-1."""
    from localcloud.cloud import CloudOptions, CloudRegion

    cloud = CloudRegion(CloudOptions(port=1))
    cloud.gateways["k3yq9z"] = SimpleNamespace(stage="api")
    cloud.api_regions["k3yq9z"] = "ap-southeast-1"
    yield cloud
    shutil.rmtree(cloud.code_cache, ignore_errors=True)
    shutil.rmtree(cloud.options.log_dir, ignore_errors=True)


def connections_request(api_id, region_name, stage="api"):
    from aiohttp.test_utils import make_mocked_request

    from localcloud.lambdaservice import API_ID_HEADER, REGION_HEADER

    headers = {API_ID_HEADER: api_id, REGION_HEADER: region_name}
    request = make_mocked_request("POST", f"/{stage}/@connections/c1", headers=headers)
    request.match_info.update({"stage": stage, "connection_id": "c1"})
    return request


def test_the_edge_serves_an_api_in_its_own_region_and_names_any_other(edge):
    assert edge._refusal(connections_request("k3yq9z", "ap-southeast-1")) is None
    reason = edge._refusal(connections_request("k3yq9z", "us-east-1"))
    assert "k3yq9z is in region ap-southeast-1, not us-east-1" in reason
    reason = edge._refusal(connections_request("other1", "eu-west-1"))
    assert "no WebSocket API 'other1' is deployed in any region" in reason and "(asked for region eu-west-1)" in reason
    assert "/_api/k3yq9z/api (ap-southeast-1)" in reason
    assert "has stage 'api', not 'dev'" in edge._refusal(connections_request("k3yq9z", "ap-southeast-1", "dev"))
