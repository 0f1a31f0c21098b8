"""Create, idempotently, what Chalice does not: the chat queue with its DLQ and the tables.

The deploy wrapper and the local runtime both call ``ensure_all`` so the local
stack has exactly the shape of the deployed one.
"""

import json
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Tuple

from botocore.exceptions import ClientError

__all__ = [
    "DLQ_SUFFIX",
    "FIFO_SUFFIX",
    "dlq_name",
    "queue_attributes",
    "RECOMMENDED_MAX_RECEIVE_COUNT",
    "Resources",
    "ensure_all",
    "ensure_queue",
    "ensure_tables",
    "key_schema",
    "key_schema_mismatch",
    "table_specs",
]

DLQ_SUFFIX = "-dlq"
# AWS: a FIFO queue's name ends in ".fifo", and so must its dead-letter queue's.
FIFO_SUFFIX = ".fifo"
# AWS (Lambda, "Using Lambda with Amazon SQS"): give the source queue's redrive policy a
# maxReceiveCount of at least 5, so throttled or briefly failing invocations do not send a
# message to the DLQ early. The count itself is MAX_RECEIVE_COUNT (chalicelib.config).
RECOMMENDED_MAX_RECEIVE_COUNT = 5
RETENTION_SECONDS = 4 * 24 * 3600
DLQ_RETENTION_SECONDS = 14 * 24 * 3600


@dataclass(frozen=True)
class Resources:
    queue_url: str
    queue_arn: str
    dlq_url: str
    dlq_arn: str
    tables: List[str]


def table_specs(settings) -> List[Dict[str, Any]]:
    """Key schema (hash key, string; optional sort key and its type) and TTL attribute of every table the app uses."""
    return [
        {"name": settings.connections_table, "key": "connection_id", "ttl": "ttl"},
        # Powertools' idempotency layer: key "id", expiry in "expiration".
        {"name": settings.idempotency_table, "key": "id", "ttl": "expiration"},
        {"name": settings.sessions_table, "key": "session_id", "ttl": "ttl"},
        # A session's kept frames, one item each (chalicelib.framestore).
        {"name": settings.frames_table, "key": "session_id", "sort": ("cursor", "N"), "ttl": "ttl"},
    ]


def key_schema(spec: Dict[str, Any]) -> Tuple[List[Dict[str, str]], List[Dict[str, str]]]:
    """CreateTable's ``KeySchema`` and ``AttributeDefinitions`` for a ``table_specs`` entry.

    AWS (DynamoDB, CreateTable): the key schema lists the partition key (HASH) first, then
    the sort key (RANGE), if any; only key attributes are defined, each with its type.
    """
    schema = [{"AttributeName": spec["key"], "KeyType": "HASH"}]
    attributes = [{"AttributeName": spec["key"], "AttributeType": "S"}]
    if spec.get("sort"):
        name, kind = spec["sort"]
        schema.append({"AttributeName": name, "KeyType": "RANGE"})
        attributes.append({"AttributeName": name, "AttributeType": kind})
    return schema, attributes


def key_schema_mismatch(spec: Dict[str, Any], table: Dict[str, Any]) -> Optional[str]:
    """None if ``table`` (DescribeTable's ``Table``) has the key of ``spec``, else what differs.

    AWS: a table's key schema is fixed at creation (UpdateTable cannot change it); a table with
    another key must be deleted and created again.
    """

    def described(schema: List[Dict[str, str]], attributes: List[Dict[str, str]]) -> str:
        types = {a["AttributeName"]: a["AttributeType"] for a in attributes}
        return ", ".join(f"{k['AttributeName']} {k['KeyType']} {types.get(k['AttributeName'], '?')}" for k in schema)

    wanted = described(*key_schema(spec))
    found = described(table.get("KeySchema", []), table.get("AttributeDefinitions", []))
    return None if found == wanted else f"key ({found}), not ({wanted})"


def dlq_name(queue_name: str) -> str:
    """``chat.fifo`` -> ``chat-dlq.fifo``; ``chat`` -> ``chat-dlq``."""
    if queue_name.endswith(FIFO_SUFFIX):
        return queue_name[: -len(FIFO_SUFFIX)] + DLQ_SUFFIX + FIFO_SUFFIX
    return queue_name + DLQ_SUFFIX


def queue_attributes(name: str, attributes: Dict[str, str]) -> Dict[str, str]:
    """A FIFO queue (name ends in .fifo) is created with ``FifoQueue``; deduplication is by
    the MessageDeduplicationId the sender gives (the message_id), not by content."""
    if not name.endswith(FIFO_SUFFIX):
        return dict(attributes)
    return {**attributes, "FifoQueue": "true", "ContentBasedDeduplication": "false"}


def ensure_queue(sqs, name: str, visibility_timeout: int, max_receive_count: int) -> Dict[str, str]:
    dlq = dlq_name(name)
    dlq_url = _create_queue(sqs, dlq, queue_attributes(dlq, {"MessageRetentionPeriod": str(DLQ_RETENTION_SECONDS)}))
    dlq_arn = _queue_arn(sqs, dlq_url)
    attributes = {
        "VisibilityTimeout": str(visibility_timeout),
        "MessageRetentionPeriod": str(RETENTION_SECONDS),
        "ReceiveMessageWaitTimeSeconds": "20",
        "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(max_receive_count)}),
    }
    queue_url = _create_queue(sqs, name, queue_attributes(name, attributes))
    # create_queue refuses to change an existing queue's attributes; make them right
    # (FifoQueue is fixed at creation and cannot be set again).
    # ContentBasedDeduplication too: the code deduplicates by message id, whatever the queue was made with.
    fixed = {key: value for key, value in queue_attributes(name, attributes).items() if key != "FifoQueue"}
    sqs.set_queue_attributes(QueueUrl=queue_url, Attributes=fixed)
    return {"queue_url": queue_url, "queue_arn": _queue_arn(sqs, queue_url), "dlq_url": dlq_url, "dlq_arn": dlq_arn}


def _create_queue(sqs, name: str, attributes: Dict[str, str]) -> str:
    try:
        return sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
    except ClientError as exc:
        if exc.response["Error"]["Code"] not in ("QueueAlreadyExists", "QueueNameExists"):
            raise
        return sqs.get_queue_url(QueueName=name)["QueueUrl"]


def _queue_arn(sqs, queue_url: str) -> str:
    return sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]


def ensure_tables(dynamodb, settings) -> List[str]:
    names = []
    for spec in table_specs(settings):
        _ensure_table(dynamodb, spec)
        names.append(spec["name"])
    return names


def _ensure_table(dynamodb, spec: Dict[str, Any]) -> None:
    """Create the table of ``spec`` unless it exists (an existing table keeps its key: see
    ``key_schema_mismatch``), then enable TTL on its attribute."""
    name, ttl_attribute = spec["name"], spec["ttl"]
    schema, attributes = key_schema(spec)
    try:
        dynamodb.create_table(
            TableName=name, KeySchema=schema, AttributeDefinitions=attributes, BillingMode="PAY_PER_REQUEST"
        )
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ResourceInUseException":
            raise
    dynamodb.get_waiter("table_exists").wait(TableName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 60})
    current = dynamodb.describe_time_to_live(TableName=name)["TimeToLiveDescription"]
    if current.get("TimeToLiveStatus") not in ("ENABLED", "ENABLING"):
        dynamodb.update_time_to_live(
            TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl_attribute}
        )


def ensure_all(make_client, settings, visibility_timeout: int) -> Resources:
    """Everything the app needs besides what ``chalice deploy`` creates.

    ``make_client(service_name)`` returns a boto3 client for the target account
    (AWS, or a moto server through its endpoint URL).
    """
    queue = ensure_queue(make_client("sqs"), settings.queue_name, visibility_timeout, settings.max_receive_count)
    tables = ensure_tables(make_client("dynamodb"), settings)
    return Resources(tables=tables, **queue)
