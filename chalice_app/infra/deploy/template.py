"""The whole stage in the packaged template: what ``chalice package`` leaves out, and a plain CloudFormation copy.

``add_stage(template, ...)`` adds, in place, what deploy's EnsureResources step
creates beside chalice (``infra.bootstrap``, the same names and attributes):

- the FIFO queue (``ChatQueue``: visibility 6x the processor's timeout,
  content-based deduplication off, redrive to the DLQ after MAX_RECEIVE_COUNT) and
  its DLQ (``ChatDeadLetterQueue``); the SQS event reads the queue's ``Arn``, so the
  mapping is created after it;
- the tables with their keys and TTL (``ConnectionsTable``, ...);
- a ``FunctionName`` on every function, the name its role's log permission
  (``WriteOwnLogs``) and the log tools use: ``<app>-<stage>-<function>``.

``to_cloudformation(template)`` is the same stack without the SAM transform
(which only AWS runs): each ``AWS::Serverless::Function`` becomes an
``AWS::Lambda::Function`` with its code at ``CodeBucket``/``CodeKey`` (template
parameters: upload ``deployment.zip`` there) and each SQS event an
``AWS::Lambda::EventSourceMapping``.
"""

import copy
import re
from typing import Any, Dict, List, Optional

from infra import bootstrap

__all__ = ["add_stage", "function_names", "to_cloudformation"]

SERVERLESS_FUNCTION = "AWS::Serverless::Function"
QUEUE, DLQ = "ChatQueue", "ChatDeadLetterQueue"
TABLE_IDS = {
    "connections_table": "ConnectionsTable",
    "idempotency_table": "IdempotencyTable",
    "sessions_table": "SessionsTable",
    "frames_table": "FramesTable",
}


def _snake(logical_id: str) -> str:
    """chalice's logical id of a function back to its name: ``WebsocketConnect`` -> ``websocket_connect``."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", logical_id).lower()


def function_names(template: Dict[str, Any], app: str, stage: str) -> Dict[str, str]:
    """Logical id -> the function's name in the stage, as ``chalice deploy`` names it."""
    return {
        logical: f"{app}-{stage}-{_snake(logical)}"
        for logical, resource in template.get("Resources", {}).items()
        if resource.get("Type") == SERVERLESS_FUNCTION
    }


def queue_resources(settings, visibility_timeout: int) -> Dict[str, Any]:
    dlq = {
        "Type": "AWS::SQS::Queue",
        "Properties": {
            "QueueName": bootstrap.dlq_name(settings.queue_name),
            "MessageRetentionPeriod": bootstrap.DLQ_RETENTION_SECONDS,
        },
    }
    queue = {
        "Type": "AWS::SQS::Queue",
        "Properties": {
            "QueueName": settings.queue_name,
            "VisibilityTimeout": visibility_timeout,
            "MessageRetentionPeriod": bootstrap.RETENTION_SECONDS,
            "ReceiveMessageWaitTimeSeconds": 20,
            "RedrivePolicy": {
                "deadLetterTargetArn": {"Fn::GetAtt": [DLQ, "Arn"]},
                "maxReceiveCount": settings.max_receive_count,
            },
        },
    }
    for resource in (queue, dlq):
        if resource["Properties"]["QueueName"].endswith(bootstrap.FIFO_SUFFIX):
            resource["Properties"].update(FifoQueue=True, ContentBasedDeduplication=False)
    return {QUEUE: queue, DLQ: dlq}


def table_resources(settings) -> Dict[str, Any]:
    found = {}
    for attribute, spec in zip(TABLE_IDS, bootstrap.table_specs(settings), strict=True):
        schema, attributes = bootstrap.key_schema(spec)
        found[TABLE_IDS[attribute]] = {
            "Type": "AWS::DynamoDB::Table",
            "Properties": {
                "TableName": spec["name"],
                "KeySchema": schema,
                "AttributeDefinitions": attributes,
                "BillingMode": "PAY_PER_REQUEST",
                "TimeToLiveSpecification": {"AttributeName": spec["ttl"], "Enabled": True},
            },
        }
    return found


def add_stage(template: Dict[str, Any], settings, visibility_timeout: int, app: str, stage: str) -> List[str]:
    """Add the queue, DLQ, tables and function names to chalice's template, in place; what it added."""
    resources = template.setdefault("Resources", {})
    added = {**queue_resources(settings, visibility_timeout), **table_resources(settings)}
    resources.update(added)
    tables = [logical for logical in added if logical not in (QUEUE, DLQ)]
    for logical, name in function_names(template, app, stage).items():
        function = resources[logical]
        function["Properties"]["FunctionName"] = name
        function["DependsOn"] = sorted(set(function.get("DependsOn", [])) | set(tables))
        for event in function["Properties"].get("Events", {}).values():
            if event.get("Type") == "SQS":
                event["Properties"]["Queue"] = {"Fn::GetAtt": [QUEUE, "Arn"]}
    return sorted(added)


def _lambda_function(properties: Dict[str, Any]) -> Dict[str, Any]:
    function = {
        key: value
        for key, value in properties.items()
        if key in ("FunctionName", "Runtime", "Handler", "Timeout", "MemorySize", "Role", "Environment")
    }
    function["Architectures"] = properties.get("Architectures", ["x86_64"])
    function["Code"] = {"S3Bucket": {"Ref": "CodeBucket"}, "S3Key": {"Ref": "CodeKey"}}
    function["Tags"] = [{"Key": key, "Value": value} for key, value in (properties.get("Tags") or {}).items()]
    if properties.get("Tracing"):
        function["TracingConfig"] = {"Mode": properties["Tracing"]}
    return function


def _mapping(logical: str, event: Dict[str, Any]) -> Dict[str, Any]:
    properties = event["Properties"]
    mapping = {"EventSourceArn": properties["Queue"], "FunctionName": {"Ref": logical}, "Enabled": True}
    for key in ("BatchSize", "MaximumBatchingWindowInSeconds", "FunctionResponseTypes"):
        if key in properties:
            mapping[key] = properties[key]
    return {"Type": "AWS::Lambda::EventSourceMapping", "Properties": mapping}


def to_cloudformation(template: Dict[str, Any], description: Optional[str] = None) -> Dict[str, Any]:
    """The SAM template as plain CloudFormation (no Transform): functions, mappings, code parameters."""
    plain = copy.deepcopy(template)
    plain.pop("Transform", None)
    if description:
        plain["Description"] = description
    plain.setdefault("Parameters", {}).update(
        CodeBucket={"Type": "String", "Description": "the S3 bucket deployment.zip is uploaded to"},
        CodeKey={"Type": "String", "Default": "deployment.zip", "Description": "its key in CodeBucket"},
    )
    resources = plain["Resources"]
    for logical, resource in list(resources.items()):
        if resource.get("Type") != SERVERLESS_FUNCTION:
            continue
        properties = resource["Properties"]
        resources[logical] = {k: v for k, v in resource.items() if k not in ("Type", "Properties")}
        resources[logical].update(Type="AWS::Lambda::Function", Properties=_lambda_function(properties))
        for name, event in (properties.get("Events") or {}).items():
            if event.get("Type") == "SQS":
                resources[f"{logical}{name}"] = _mapping(logical, event)
    return plain


def log_permission_mismatches(template: Dict[str, Any]) -> List[str]:
    """Each function whose role's policies do not name its own log group (``/aws/lambda/<FunctionName>``)."""
    resources = template.get("Resources", {})
    found = []
    for logical, function in resources.items():
        if function.get("Type") not in (SERVERLESS_FUNCTION, "AWS::Lambda::Function"):
            continue
        name = function["Properties"].get("FunctionName")
        role = (function["Properties"].get("Role") or {}).get("Fn::GetAtt", [""])[0]
        policies = str(resources.get(role, {}).get("Properties", {}).get("Policies", []))
        if not name or f"/aws/lambda/{name}'" not in policies:
            found.append(f"{logical} ({name or 'no FunctionName'}): its role {role} names another log group")
    return found
