"""IAM of the deployed mode: each function's role credentials, and the @connections permission check.

``RoleSessions`` is the ``credentials_for`` of ``LambdaService``: Lambda runs a
function with temporary credentials of its execution role, so each function gets
the result of STS ``AssumeRole`` on its ``Role`` (session name = the function's
name), from the emulated STS, renewed before they expire. Because the emulator
issued them, it knows which role each access key belongs to (``role_of``).

The moto server checks those credentials on SQS and DynamoDB calls
(``localcloud.motomain``). API Gateway's Management API is served by the local
gateway, so ``RoleSessions.connections_refusal`` does what IAM does for it: the
caller's role must allow ``execute-api:ManageConnections`` on
``arn:aws:execute-api:{region}:{account}:{apiId}/{stage}/{METHOD}/@connections/{id}``
("Control access to the @connections API", API Gateway developer guide), evaluated
with moto's ``IAMPolicy`` over the role's inline and attached policies (an explicit
Deny wins, otherwise one Allow is needed). Its known gaps: Conditions are ignored,
``?`` wildcards and lower-case actions never match.
"""

import json
import threading
import time
from typing import Any, Callable, Dict, Iterable, List, Optional, Tuple

__all__ = ["RoleSessions", "connection_arn", "is_permitted", "MANAGE_CONNECTIONS", "RENEW_SECONDS"]

MANAGE_CONNECTIONS = "execute-api:ManageConnections"
SESSION_SECONDS = 3600  # AssumeRole's default DurationSeconds
RENEW_SECONDS = 300  # credentials are renewed this long before they expire
POLICY_CACHE_SECONDS = 1.0  # policy edits are seen within this (IAM itself is eventually consistent)


def connection_arn(region: str, account: str, api_id: str, stage: str, method: str, connection_id: str) -> str:
    """The resource of one @connections request (API Gateway developer guide, "Use @connections
    commands in your backend service")."""
    return f"arn:aws:execute-api:{region}:{account}:{api_id}/{stage}/{method}/@connections/{connection_id}"


def is_permitted(documents: Iterable[Any], action: str, resource: str) -> bool:
    """IAM's evaluation within one account: an explicit Deny wins, else at least one Allow."""
    from moto.iam.access_control import IAMPolicy, PermissionResult

    permitted = False
    for document in documents:
        text = document if isinstance(document, str) else json.dumps(document)
        result = IAMPolicy(text).is_action_permitted(action, resource)
        if result == PermissionResult.DENIED:
            return False
        permitted = permitted or result == PermissionResult.PERMITTED
    return permitted


class RoleSessions:
    def __init__(self, client: Callable[[str], Any], clock: Callable[[], float] = time.monotonic):
        """``client(service)``: a boto3 client of the emulated region with the tooling's own keys."""
        self._client = client
        self._clock = clock
        self._lock = threading.Lock()
        self._sessions: Dict[str, Tuple[float, Dict[str, str]]] = {}  # role ARN -> (renew at, credentials)
        self._roles: Dict[str, str] = {}  # access key id -> role ARN
        self._policies: Dict[str, Tuple[float, List[Any]]] = {}  # role name -> (read at, documents)

    def credentials_for(self, config: Any) -> Dict[str, str]:
        """``AWS_ACCESS_KEY_ID`` / ``AWS_SECRET_ACCESS_KEY`` / ``AWS_SESSION_TOKEN`` of the function's role."""
        role_arn = config.role_arn
        if not role_arn:
            raise ValueError(f"{config.name} has no execution role: Lambda cannot run it")
        with self._lock:
            renew_at, credentials = self._sessions.get(role_arn, (0.0, {}))
            if credentials and self._clock() < renew_at:
                return dict(credentials)
        issued = self._client("sts").assume_role(
            RoleArn=role_arn, RoleSessionName=config.name[:64], DurationSeconds=SESSION_SECONDS
        )["Credentials"]
        credentials = {
            "AWS_ACCESS_KEY_ID": issued["AccessKeyId"],
            "AWS_SECRET_ACCESS_KEY": issued["SecretAccessKey"],
            "AWS_SESSION_TOKEN": issued["SessionToken"],
        }
        with self._lock:
            self._sessions[role_arn] = (self._clock() + SESSION_SECONDS - RENEW_SECONDS, credentials)
            self._roles[issued["AccessKeyId"]] = role_arn
        return dict(credentials)

    def role_of(self, access_key_id: str) -> Optional[str]:
        with self._lock:
            return self._roles.get(access_key_id)

    def policies_of(self, role_name: str) -> List[Any]:
        """The role's inline and attached policy documents (cached for POLICY_CACHE_SECONDS)."""
        with self._lock:
            read_at, documents = self._policies.get(role_name, (float("-inf"), []))
            if self._clock() - read_at < POLICY_CACHE_SECONDS:
                return documents
        iam = self._client("iam")
        documents = []
        for name in iam.list_role_policies(RoleName=role_name)["PolicyNames"]:
            document = iam.get_role_policy(RoleName=role_name, PolicyName=name)["PolicyDocument"]
            documents.append(json.loads(document) if isinstance(document, str) else document)
        for attached in iam.list_attached_role_policies(RoleName=role_name)["AttachedPolicies"]:
            version = iam.get_policy(PolicyArn=attached["PolicyArn"])["Policy"]["DefaultVersionId"]
            document = iam.get_policy_version(PolicyArn=attached["PolicyArn"], VersionId=version)["PolicyVersion"]
            documents.append(document["Document"])
        with self._lock:
            self._policies[role_name] = (self._clock(), documents)
        return documents

    def connections_refusal(self, access_key_id: str, resource: str) -> Optional[str]:
        """Why a @connections request signed with ``access_key_id`` is forbidden on ``resource``, or None.

        Keys the emulator did not issue are long-term keys of the developer or the
        tooling (moto does not check those either); a role-session key it did not issue
        is refused as AWS refuses an unknown token.
        """
        role_arn = self.role_of(access_key_id)
        if role_arn is None:
            if access_key_id.startswith("ASIA"):
                return "The security token included in the request is invalid"
            return None
        role_name = role_arn.split("/")[-1]
        if is_permitted(self.policies_of(role_name), MANAGE_CONNECTIONS, resource):
            return None
        return (
            f"User: {role_arn} is not authorized to perform: {MANAGE_CONNECTIONS} on resource: {resource} "
            f"(the role {role_name} needs a policy statement allowing {MANAGE_CONNECTIONS} on it)"
        )
