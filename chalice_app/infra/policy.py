"""What each Lambda function's code calls in AWS, and whether an IAM policy allows it.

``NEEDS`` is the list to keep in step with ``chalicelib/`` when a handler starts
calling something new. ``missing(document, needs)`` evaluates a policy the way IAM
would for these simple cases (Allow/Deny statements with ``*`` and ``?``
wildcards; conditions are not evaluated and ``NotAction``/``NotResource``
statements are ignored) and returns what it does not allow.
"""

import re
from dataclasses import dataclass
from typing import Any, Dict, Iterable, List, Sequence

from infra.stage import FUNCTIONS, PROCESSOR

__all__ = ["NEEDS", "Need", "Scope", "missing", "needs_for", "statements"]

LOGS = ("logs:CreateLogGroup", "log_group"), ("logs:CreateLogStream", "log_stream"), ("logs:PutLogEvents", "log_stream")
MANAGE_CONNECTIONS = ("execute-api:ManageConnections", "connections")
# "us.amazon.nova-lite-v1:0" names a cross-region inference profile, not a model.
INFERENCE_PROFILE_PREFIXES = ("us", "eu", "apac", "us-gov", "global")

# function -> (action, resource kind, why)
NEEDS: Dict[str, Sequence[tuple]] = {
    "websocket_connect": [("dynamodb:PutItem", "connections_table", "connections.register")],
    "websocket_disconnect": [("dynamodb:DeleteItem", "connections_table", "connections.forget")],
    "websocket_message": [
        (*MANAGE_CONNECTIONS, "posts ack/pong/error frames"),
        ("dynamodb:UpdateItem", "connections_table", "ratelimit.allow"),
        ("sqs:GetQueueUrl", "queue", "chat_queue.queue_url"),
        ("sqs:SendMessage", "queue", "chat_queue.enqueue"),
    ],
    PROCESSOR: [
        (*MANAGE_CONNECTIONS, "posts status/chunk/response frames"),
        ("sqs:ReceiveMessage", "queue", "the SQS event source mapping"),
        ("sqs:DeleteMessage", "queue", "the SQS event source mapping"),
        ("sqs:GetQueueAttributes", "queue", "the SQS event source mapping"),
        ("dynamodb:GetItem", "idempotency_table", "Powertools idempotency"),
        ("dynamodb:PutItem", "idempotency_table", "Powertools idempotency"),
        ("dynamodb:UpdateItem", "idempotency_table", "Powertools idempotency"),
        ("dynamodb:DeleteItem", "idempotency_table", "Powertools idempotency"),
        ("dynamodb:GetItem", "sessions_table", "sessions.SessionStore.load"),
        ("dynamodb:PutItem", "sessions_table", "sessions.SessionStore.save"),
        ("bedrock:InvokeModel", "model", "the Bedrock assistant backend"),
        ("bedrock:InvokeModelWithResponseStream", "model", "the Bedrock backend's ConverseStream"),
    ],
}


@dataclass(frozen=True)
class Scope:
    """The concrete names a policy is checked against."""

    partition: str
    region: str
    account: str
    app_name: str
    stage: str
    websocket_stage: str
    api_id: str
    queue: str
    connections_table: str
    idempotency_table: str
    sessions_table: str
    model_id: str

    def arn(self, kind: str, function: str) -> str:
        """An example ARN of ``kind`` that ``function`` touches."""
        aws = f"arn:{self.partition}"
        group = f"/aws/lambda/{self.app_name}-{self.stage}-{function}"
        where = f"{self.region}:{self.account}"
        return {
            "log_group": f"{aws}:logs:{where}:log-group:{group}",
            "log_stream": f"{aws}:logs:{where}:log-group:{group}:log-stream:2026/01/01/x",
            "connections": f"{aws}:execute-api:{where}:{self.api_id}/{self.websocket_stage}/POST/@connections/AbC=",
            "queue": f"{aws}:sqs:{where}:{self.queue}",
            "connections_table": f"{aws}:dynamodb:{where}:table/{self.connections_table}",
            "idempotency_table": f"{aws}:dynamodb:{where}:table/{self.idempotency_table}",
            "sessions_table": f"{aws}:dynamodb:{where}:table/{self.sessions_table}",
            "model": self.model_arn(),
        }[kind]

    def model_arn(self) -> str:
        """BEDROCK_MODEL_ID as an ARN: a model id, a cross-region inference profile id, or an ARN."""
        if self.model_id.startswith("arn:"):
            return self.model_id
        if self.model_id.split(".", 1)[0] in INFERENCE_PROFILE_PREFIXES:
            return f"arn:{self.partition}:bedrock:{self.region}:{self.account}:inference-profile/{self.model_id}"
        return f"arn:{self.partition}:bedrock:{self.region}::foundation-model/{self.model_id}"


@dataclass(frozen=True)
class Need:
    function: str
    action: str
    resource: str
    why: str

    def describe(self) -> str:
        return f"{self.action} on {self.resource} ({self.function}: {self.why})"


def needs_for(scope: Scope, functions: Iterable[str] = FUNCTIONS) -> List[Need]:
    found = []
    for function in functions:
        for action, kind, *why in [*(entry + ("writes its logs",) for entry in LOGS), *NEEDS.get(function, ())]:
            found.append(Need(function, action, scope.arn(kind, function), why[0]))
    return found


def statements(document: Dict[str, Any]) -> List[Dict[str, Any]]:
    found = document.get("Statement", [])
    return [found] if isinstance(found, dict) else list(found)


def _as_list(value: Any) -> List[str]:
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)


def _pattern(text: str, ignore_case: bool) -> "re.Pattern[str]":
    regex = re.escape(text).replace(r"\*", ".*").replace(r"\?", ".")
    return re.compile(regex, re.IGNORECASE if ignore_case else 0)


def _matches(patterns: Any, value: str, ignore_case: bool = False) -> bool:
    return any(_pattern(p, ignore_case).fullmatch(value) for p in _as_list(patterns))


def allows(document: Dict[str, Any], action: str, resource: str) -> bool:
    allowed = False
    for statement in statements(document):
        if "Action" not in statement or "Resource" not in statement:
            continue  # NotAction / NotResource: not evaluated here
        if _matches(statement["Action"], action, ignore_case=True) and _matches(statement["Resource"], resource):
            if statement.get("Effect") == "Deny":
                return False
            allowed = allowed or statement.get("Effect") == "Allow"
    return allowed


def missing(document: Dict[str, Any], needs: Iterable[Need]) -> List[Need]:
    """The needs the document does not allow."""
    return [need for need in needs if not allows(document, need.action, need.resource)]
