"""The deployed mode's moto server (``localcloud.motomain --region``): IAM enforced for role sessions.

A real moto server process; a role with a narrow policy, assumed through the emulated STS;
the role session's SQS and DynamoDB calls allowed or denied as AWS decides them, in AWS's
error shapes, while the tooling's own keys are not checked.
"""

import hashlib
import io
import json
import urllib.request
import zipfile

import boto3
import pytest
from botocore.exceptions import ClientError

from infra import bootstrap
from localcloud.motoserver import MotoServer

REGION = "us-east-1"
TRUST = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}],
}
POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Action": ["sqs:GetQueueUrl", "sqs:SendMessage"], "Resource": "arn:aws:sqs:*:*:allowed"},
        {
            "Effect": "Allow",
            "Action": ["dynamodb:PutItem", "dynamodb:Query"],
            "Resource": "arn:aws:dynamodb:*:*:table/allowed",
        },
    ],
}


def client(endpoint, service, **keys):
    keys = keys or {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
    return boto3.client(service, region_name=REGION, endpoint_url=endpoint, **keys)


@pytest.fixture(scope="module")
def region():
    server = MotoServer(args=["--region", "--info", json.dumps({"gateway": "http://127.0.0.1:1"})]).start()
    try:
        endpoint = server.url
        sqs, dynamodb, iam = (client(endpoint, name) for name in ("sqs", "dynamodb", "iam"))
        for name in ("allowed", "other"):
            sqs.create_queue(QueueName=name)
            schema, attributes = bootstrap.key_schema({"key": "k"})
            dynamodb.create_table(
                TableName=name, KeySchema=schema, AttributeDefinitions=attributes, BillingMode="PAY_PER_REQUEST"
            )
        role = iam.create_role(RoleName="fn-role", AssumeRolePolicyDocument=json.dumps(TRUST))["Role"]["Arn"]
        iam.put_role_policy(RoleName="fn-role", PolicyName="fn", PolicyDocument=json.dumps(POLICY))
        issued = client(endpoint, "sts").assume_role(RoleArn=role, RoleSessionName="fn")["Credentials"]
        keys = {
            "aws_access_key_id": issued["AccessKeyId"],
            "aws_secret_access_key": issued["SecretAccessKey"],
            "aws_session_token": issued["SessionToken"],
        }
        yield endpoint, keys
    finally:
        server.stop()


def code_of(call):
    with pytest.raises(ClientError) as caught:
        call()
    return caught.value.response["Error"]["Code"]


def test_role_session_sqs_calls_are_allowed_or_denied_by_its_policy(region):
    endpoint, keys = region
    sqs = client(endpoint, "sqs", **keys)
    url = sqs.get_queue_url(QueueName="allowed")["QueueUrl"]  # moto checks GetQueueUrl on "*" unpatched
    sqs.send_message(QueueUrl=url, MessageBody="hello")
    other = client(endpoint, "sqs").get_queue_url(QueueName="other")["QueueUrl"]
    assert code_of(lambda: sqs.send_message(QueueUrl=other, MessageBody="x")) == "AccessDenied"
    assert code_of(lambda: sqs.purge_queue(QueueUrl=url)) == "AccessDenied"


def test_role_session_dynamodb_calls_are_checked_on_the_table(region):
    endpoint, keys = region
    dynamodb = client(endpoint, "dynamodb", **keys)
    dynamodb.put_item(TableName="allowed", Item={"k": {"S": "a"}})  # denied on "*" unpatched
    assert code_of(lambda: dynamodb.put_item(TableName="other", Item={"k": {"S": "a"}})) == "AccessDeniedException"
    assert code_of(lambda: dynamodb.get_item(TableName="allowed", Key={"k": {"S": "a"}})) == "AccessDeniedException"


def test_role_session_queries_are_checked_on_the_table(region):
    """The frames table's reads are Query calls: authorized on the table, like its item writes."""
    endpoint, keys = region
    dynamodb = client(endpoint, "dynamodb", **keys)

    def query(table):
        return dynamodb.query(
            TableName=table, KeyConditionExpression="k = :k", ExpressionAttributeValues={":k": {"S": "q"}}
        )

    dynamodb.put_item(TableName="allowed", Item={"k": {"S": "q"}})
    assert query("allowed")["Items"] == [{"k": {"S": "q"}}]
    assert code_of(lambda: query("other")) == "AccessDeniedException"


def test_a_bad_session_signature_is_refused(region):
    endpoint, keys = region
    wrong = dict(keys, aws_secret_access_key="not-the-secret")
    assert code_of(lambda: client(endpoint, "dynamodb", **wrong).list_tables()) in (
        "SignatureDoesNotMatch",
        "InvalidSignatureException",
    )


def test_the_tooling_keys_are_not_checked(region):
    endpoint, _ = region
    client(endpoint, "dynamodb").get_item(TableName="other", Key={"k": {"S": "a"}})
    client(endpoint, "lambda").list_functions()
    client(endpoint, "apigatewayv2").get_apis()


def test_the_code_route_serves_the_uploaded_package(region):
    endpoint, _ = region
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as bundle:
        bundle.writestr("app.py", "def handler(event, context):\n    return event\n")
    role = client(endpoint, "iam").get_role(RoleName="fn-role")["Role"]["Arn"]
    created = client(endpoint, "lambda").create_function(
        FunctionName="zipped",
        Runtime="python3.12",
        Role=role,
        Handler="app.handler",
        Code={"ZipFile": buffer.getvalue()},
    )
    url = f"{endpoint}/moto-api/localcloud/code?FunctionArn={created['FunctionArn']}"
    with urllib.request.urlopen(url, timeout=10) as response:
        data = response.read()
    assert data == buffer.getvalue()
    import base64

    assert base64.b64encode(hashlib.sha256(data).digest()).decode() == created["CodeSha256"]


def test_the_info_route_names_the_gateway(region):
    endpoint, _ = region
    with urllib.request.urlopen(f"{endpoint}/moto-api/localcloud/info", timeout=10) as response:
        assert json.loads(response.read())["gateway"] == "http://127.0.0.1:1"


def test_the_regions_route_names_every_region_with_something_deployed(region):
    """The deployed mode serves each region this names: a function in one region, an API in another,
    a region only read from (no resources) left out."""
    endpoint, _ = region
    role = client(endpoint, "iam").get_role(RoleName="fn-role")["Role"]["Arn"]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as bundle:
        bundle.writestr("app.py", "def handler(event, context):\n    return event\n")
    boto3.client(
        "lambda", region_name="ap-southeast-1", endpoint_url=endpoint,
        aws_access_key_id="testing", aws_secret_access_key="testing",
    ).create_function(
        FunctionName="far", Runtime="python3.12", Role=role, Handler="app.handler", Code={"ZipFile": buffer.getvalue()}
    )  # fmt: skip
    boto3.client(
        "apigatewayv2", region_name="eu-west-1", endpoint_url=endpoint,
        aws_access_key_id="testing", aws_secret_access_key="testing",
    ).create_api(Name="ws", ProtocolType="WEBSOCKET", RouteSelectionExpression="$request.body.action")  # fmt: skip
    boto3.client(
        "lambda", region_name="sa-east-1", endpoint_url=endpoint,
        aws_access_key_id="testing", aws_secret_access_key="testing",
    ).list_functions()  # fmt: skip
    with urllib.request.urlopen(f"{endpoint}/moto-api/localcloud/regions", timeout=10) as response:
        regions = json.loads(response.read())["regions"]
    assert {"ap-southeast-1", "eu-west-1"} <= set(regions)
    assert "sa-east-1" not in regions
    assert regions == sorted(regions)
