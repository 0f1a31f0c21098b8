"""What each Lambda function's code calls in AWS, and whether an IAM policy allows it.

``NEEDS`` is the list to keep in step with ``chalicelib/`` when a handler starts
calling something new. ``missing(document, needs)`` evaluates a policy the way IAM
would for these simple cases (Allow/Deny statements with ``*`` and ``?``
wildcards; conditions are not evaluated and ``NotAction``/``NotResource``
statements are ignored) and returns what it does not allow; ``excess(document,
forbidden_for(scope, function))`` returns what it allows but must not: the calls
only other functions make, other functions' logs, the @connections methods no
code calls, and (``other_apis=True``) another API's @connections.

Each function has its own role and policy file. ``scope_connections`` narrows a
policy's ManageConnections statements to one WebSocket API, keeping the methods
the file names (deploy's Wire step with the deployed API id, ``--package`` with
the template's own API).
"""

import copy
import dataclasses
import re
from dataclasses import dataclass
from typing import Any, Callable, Dict, Iterable, List, Sequence

from infra.stage import FUNCTIONS, PROCESSOR

__all__ = [
    "MANAGE_CONNECTIONS",
    "NEEDS",
    "Need",
    "Scope",
    "allows",
    "connection_methods",
    "connections_arn",
    "excess",
    "forbidden_for",
    "missing",
    "needs_for",
    "scope_connections",
    "statements",
]

LOGS = ("logs:CreateLogGroup", "log_group"), ("logs:CreateLogStream", "log_stream"), ("logs:PutLogEvents", "log_stream")
MANAGE_CONNECTIONS = "execute-api:ManageConnections"
# management.ManagementApi: post -> POST @connections/{id}, is_connected -> GET; nothing calls DELETE.
CONNECTION_METHODS = {"connections_post": "POST", "connections_get": "GET", "connections_delete": "DELETE"}
# An API id that is never the deployed one: a probe for "may post to another API's clients".
OTHER_API_ID = "0therap1id"
# "us.amazon.nova-lite-v1:0" names a cross-region inference profile, not a model.
INFERENCE_PROFILE_PREFIXES = ("us", "eu", "apac", "us-gov", "global")
# The tables a Scope names, each as the chalicelib.config.Settings field of the same name.
TABLES = ("connections_table", "idempotency_table", "sessions_table", "frames_table")

# function -> (action, resource kind, why)
NEEDS: Dict[str, Sequence[tuple]] = {
    "websocket_connect": [
        ("dynamodb:PutItem", "connections_table", "connections.register"),
        ("dynamodb:UpdateItem", "sessions_table", "framelog.FrameLog.attach (?session_id=)"),
    ],
    "websocket_disconnect": [
        ("dynamodb:DeleteItem", "connections_table", "connections.forget"),
        ("dynamodb:UpdateItem", "sessions_table", "framelog.FrameLog.detach"),
    ],
    "websocket_message": [
        (MANAGE_CONNECTIONS, "connections_post", "posts ack/pong/error frames"),
        ("dynamodb:UpdateItem", "connections_table", "ratelimit.allow"),
        ("dynamodb:GetItem", "connections_table", "connections.subject_of (rate limits off)"),
        ("dynamodb:GetItem", "sessions_table", "framelog.FrameLog.read"),
        ("dynamodb:PutItem", "sessions_table", "framelog.FrameLog.create (a new session's ack)"),
        ("dynamodb:UpdateItem", "sessions_table", "framelog.FrameLog head: cursors, attach, ack lease, stop"),
        ("dynamodb:PutItem", "frames_table", "framelog.FrameLog.store (frames)"),
        ("dynamodb:Query", "frames_table", "framelog.FrameLog.replay (Query)"),
        ("sqs:GetQueueUrl", "queue", "chat_queue.queue_url"),
        ("sqs:SendMessage", "queue", "chat_queue.enqueue"),
    ],
    PROCESSOR: [
        (MANAGE_CONNECTIONS, "connections_post", "posts status/chunk/response frames"),
        ("sqs:ReceiveMessage", "queue", "the SQS event source mapping"),
        ("sqs:DeleteMessage", "queue", "the SQS event source mapping"),
        ("sqs:GetQueueAttributes", "queue", "the SQS event source mapping"),
        ("sqs:GetQueueUrl", "queue", "chat_queue.queue_url (the record's visibility)"),
        ("sqs:ChangeMessageVisibility", "queue", "retry.Lease: in-flight heartbeat, retry backoff"),
        ("dynamodb:GetItem", "idempotency_table", "Powertools idempotency"),
        ("dynamodb:PutItem", "idempotency_table", "Powertools idempotency"),
        ("dynamodb:UpdateItem", "idempotency_table", "Powertools idempotency"),
        ("dynamodb:DeleteItem", "idempotency_table", "Powertools idempotency"),
        ("dynamodb:GetItem", "sessions_table", "sessions.SessionStore.load"),
        ("dynamodb:PutItem", "sessions_table", "sessions.SessionStore.save"),
        ("dynamodb:UpdateItem", "sessions_table", "framelog.FrameLog head: cursors, pickup, stop polls"),
        ("dynamodb:PutItem", "frames_table", "framelog.FrameLog.store (frames)"),
        ("dynamodb:Query", "frames_table", "framelog.FrameLog.replay (Query)"),
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
    frames_table: str
    model_id: str

    @classmethod
    def of(cls, settings: Any, **where: str) -> "Scope":
        """The scope of a stage's ``settings`` (``chalicelib.config.Settings``: its queue, tables and
        model); ``where`` names the rest: partition, region, account, app_name, stage,
        websocket_stage and api_id."""
        tables = {kind: getattr(settings, kind) for kind in TABLES}
        return cls(queue=settings.queue_name, model_id=settings.bedrock_model_id, **tables, **where)

    def arn(self, kind: str, function: str) -> str:
        """An example ARN of ``kind`` that ``function`` touches."""
        aws = f"arn:{self.partition}"
        group = f"/aws/lambda/{self.app_name}-{self.stage}-{function}"
        where = f"{self.region}:{self.account}"
        return {
            "log_group": f"{aws}:logs:{where}:log-group:{group}",
            "log_stream": f"{aws}:logs:{where}:log-group:{group}:log-stream:2026/01/01/x",
            **{kind: self.connection_arn(method) for kind, method in CONNECTION_METHODS.items()},
            "queue": f"{aws}:sqs:{where}:{self.queue}",
            # AWS: a table is arn:{partition}:dynamodb:{region}:{account}:table/{name}; Query and the
            # item actions are authorized on it (an index would be .../table/{name}/index/{index}).
            **{kind: f"{aws}:dynamodb:{where}:table/{getattr(self, kind)}" for kind in TABLES},
            "model": self.model_arn(),
        }[kind]

    def connections(self, method: str) -> str:
        """The ManageConnections resource for ``method`` on this scope's API and stage (every connection)."""
        return connections_arn(self.partition, self.region, self.account, self.api_id, self.websocket_stage, method)

    def connection_arn(self, method: str) -> str:
        """One connection's @connections ARN for ``method`` on this scope's API and stage."""
        return self.connections(method).removesuffix("*") + "AbC="

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


def forbidden_for(scope: Scope, function: str, other_apis: bool = True) -> List[Need]:
    """What ``function``'s policy must not allow: least privilege, one role per function.

    The calls only other functions make, the other functions' log groups, the
    @connections methods nobody calls and, with ``other_apis``, the
    @connections of another API (in a shared account, another stage's clients).
    """
    own = {(action, kind) for action, kind, _ in NEEDS.get(function, ())}
    found: Dict[tuple, Need] = {}

    def forbid(action: str, resource: str, why: str) -> None:
        found.setdefault((action, resource), Need(function, action, resource, why))

    for other in FUNCTIONS:
        if other == function:
            continue
        for action, kind, _ in NEEDS.get(other, ()):
            if (action, kind) not in own:
                forbid(action, scope.arn(kind, function), f"only {other} calls it")
        forbid("logs:PutLogEvents", scope.arn("log_stream", other), f"{other}'s logs")
    for kind, method in CONNECTION_METHODS.items():
        if (MANAGE_CONNECTIONS, kind) not in own:
            forbid(MANAGE_CONNECTIONS, scope.arn(kind, function), f"no code calls {method} @connections")
    if other_apis:
        other_api = dataclasses.replace(scope, api_id=OTHER_API_ID)
        forbid(MANAGE_CONNECTIONS, other_api.arn("connections_post", function), "another API's clients")
    return list(found.values())


def connection_methods(function: str) -> List[str]:
    """The @connections methods ``function``'s code calls (POST, GET), from NEEDS."""
    return [CONNECTION_METHODS[kind] for action, kind, _ in NEEDS.get(function, ()) if action == MANAGE_CONNECTIONS]


def connections_arn(partition: str, region: str, account: str, api_id: str, stage: str, method: str) -> str:
    """The ManageConnections resource of one WebSocket API stage and method.

    AWS: ``arn:aws:execute-api:{region}:{account-id}:{api-id}/{stage}/{METHOD}/@connections/{connection-id}``
    ("Use @connections commands in your backend service", API Gateway developer guide).
    """
    return f"arn:{partition}:execute-api:{region}:{account}:{api_id}/{stage}/{method}/@connections/*"


def _method(resource: str) -> str:
    """POST of ``...:{api}/{stage}/POST/@connections/*``; ``*`` when the resource names none."""
    parts = resource.split("/")
    return parts[-3] if len(parts) >= 4 and parts[-2] == "@connections" else "*"


def scope_connections(document: Dict[str, Any], resource_for: Callable[[str], Any]) -> Dict[str, Any]:
    """A copy of ``document`` whose ManageConnections Allow statements name ``resource_for(method)`` for
    each method their resources name (POST, GET, ...): the same methods, one API and stage."""
    scoped = copy.deepcopy(document)
    for statement in statements(scoped):
        if statement.get("Effect") != "Allow" or "Resource" not in statement:
            continue  # a Deny stays as wide as it was
        if any(action.lower() == MANAGE_CONNECTIONS.lower() for action in _as_list(statement.get("Action"))):
            methods = dict.fromkeys(_method(resource) for resource in _as_list(statement.get("Resource")))
            statement["Resource"] = [resource_for(method) for method in methods]
    return scoped


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


def excess(document: Dict[str, Any], forbidden: Iterable[Need]) -> List[Need]:
    """The forbidden calls (``forbidden_for``) the document allows."""
    return [need for need in forbidden if allows(document, need.action, need.resource)]
