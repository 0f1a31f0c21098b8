"""The local runtime's moto server process: moto's own ``main`` with two changes.

- No werkzeug line per request on stderr (nobody reads them; a full pipe blocks).
- A fast clock for SQS: moto computes "now" through datetime conversions several
  times per message on every ReceiveMessage, which made one receive take ~0.4 s
  with 500 messages queued (measured). ``time.time()`` gives the same value.
- Request routing without a directory listing: moto finds each request's backend by
  listing its own package folder, under a process-wide lock (about 40% of the
  server's time under load, measured with py-spy). The folder does not change while
  it runs, so the list is read once.
- One ReceiveMessage at a time per queue: moto's receive is not atomic, so two
  concurrent pollers could both take the same message (seen under load). The long
  poll waits outside that lock, for a message the receive may hand out: moto's own
  wait wakes up at once for a message of a FIFO group that is in flight, and then
  spins on it with the group list it read at the start (measured: every follow-up
  message of a session waited 1 s). SQS hands out a group's next message as soon as
  the one in flight is deleted or visible again, so deletes and visibility changes
  wake the waiters (``serialize_receives``, ``deliverable``).
- One DynamoDB write at a time per table: DynamoDB applies the writes to an item
  one at a time (a condition is checked against the item as the write finds it);
  moto checks and writes in two steps, so two conditional updates racing on a
  session's cursor could both pass (seen in a threaded test).

With ``--region`` (the deployed mode, ``scripts/local.py --cloud``) it is also the
emulated region that ``scripts/deploy.py --endpoint-url`` deploys into:

- ``infra.motopatch`` (apigatewayv2 CreateDeployment; SQS mappings that never start
  Docker), as the deploy tests use it;
- IAM enforced for role sessions (``enforce_role_sessions``): a request signed with
  STS credentials (access key ``ASIA...``, what each function runs with) has its
  signature and its action checked against the role's policies, on the real
  resource ARN (moto checks GetQueueUrl and every DynamoDB action against ``*``),
  and a denial comes back in the service's protocol: JSON for JSON services
  (``AccessDeniedException``; SQS's ``AccessDenied`` through ``x-amzn-query-error``,
  as AWS's awsQueryCompatible SQS sends it). Long-term keys (the deploy tooling's
  own, ``AKIA...`` or ``testing``) are not checked, as with an administrator;
- ``GET /moto-api/localcloud/code?FunctionArn=...``: the function's deployment
  package (moto's ``Code.Location`` is a made-up URL nothing serves);
- CloudFormation's ``AWS::ApiGatewayV2::*`` types (``localcloud.cfntypes``), so the
  packaged template (``deploy.py --package``) deploys as a stack;
- ``GET /moto-api/localcloud/info``: JSON with what ``--info`` was given (the local
  gateway's URL), so deploy.py finds the WebSocket URL of what it deployed;
- ``GET /moto-api/localcloud/regions``: ``{"regions": [...]}``, every region that has a
  Lambda function, an event source mapping or an API Gateway v2 API (any account), so
  the deployed mode serves each region something was deployed into.

    python -m localcloud.motomain -H 127.0.0.1 -p 5000 [--region] [--info '{"gateway": ...}']
"""

import json
import logging
import sys
import threading
import time
from collections import defaultdict
from typing import Any, Dict, List, Optional, Tuple
from urllib.parse import parse_qs, urlparse

import moto.backends as moto_backends
import moto.dynamodb.models as dynamodb_models
import moto.sqs.models as sqs_models
from moto.server import main

__all__ = [
    "apply_fast_sqs_clock",
    "cache_module_list",
    "serialize_receives",
    "deliverable",
    "serialize_item_writes",
    "enforce_role_sessions",
    "serve_region_routes",
    "access_key_of",
    "resource_arn",
    "json_error",
    "run",
    "deployed_regions",
]

# STS issues temporary credentials with this prefix (IAM identifiers, "Unique ID prefixes").
ROLE_SESSION_PREFIX = "ASIA"
CODE_PATH = "{0}/moto-api/localcloud/code$"
INFO_PATH = "{0}/moto-api/localcloud/info$"
REGIONS_PATH = "{0}/moto-api/localcloud/regions$"


def apply_fast_sqs_clock() -> None:
    slow_unix_time = sqs_models.unix_time

    def unix_time(dt=None):
        return time.time() if dt is None else slow_unix_time(dt)

    def unix_time_millis(dt=None):
        return time.time() * 1000.0 if dt is None else slow_unix_time(dt) * 1000.0

    sqs_models.unix_time = unix_time
    sqs_models.unix_time_millis = unix_time_millis


# A long poll looks again at least this often (a message whose visibility timeout ran out).
POLL_SECONDS = 0.25


def deliverable(queue) -> bool:
    """Whether ReceiveMessage may hand out a message now: one visible, not delayed and, on
    a FIFO queue, of a group with no message in flight (SQS FIFO: "messages that belong to
    the same message group are processed in order ... one by one")."""
    in_flight = {m.group_id for m in queue.pending_messages if m.group_id and not m.visible}
    return any(
        m.visible and not m.delayed and not (queue.fifo_queue and m.group_id in in_flight) for m in queue._messages
    )


def serialize_receives() -> None:
    original = sqs_models.SQSBackend.receive_message
    locks: Dict[str, threading.Lock] = defaultdict(threading.Lock)

    def receive_message(self, queue_name, count, wait_seconds_timeout, visibility_timeout, *args, **kwargs):
        deadline = time.monotonic() + (wait_seconds_timeout or 0)
        while True:
            with locks[f"{self.account_id}/{self.region_name}/{queue_name}"]:
                result = original(self, queue_name, count, 0, visibility_timeout, *args, **kwargs)
            remaining = deadline - time.monotonic()
            if result or remaining <= 0:
                return result
            queue = self.get_queue(queue_name)
            with queue._messages_lock:
                woken = queue._messages_lock.wait_for(
                    lambda queue=queue: deliverable(queue), timeout=min(POLL_SECONDS, remaining)
                )
            if woken:
                time.sleep(0.002)  # another poller may take it first; never a busy loop

    def waking(original_method, queue_of):
        def method(self, *args, **kwargs):
            try:
                return original_method(self, *args, **kwargs)
            finally:
                queue = queue_of(self, *args, **kwargs)
                if queue is not None:
                    with queue._messages_lock:
                        queue._messages_lock.notify_all()

        return method

    sqs_models.SQSBackend.receive_message = receive_message
    sqs_models.Queue.delete_message = waking(sqs_models.Queue.delete_message, lambda queue, *a, **k: queue)
    for name in ("change_message_visibility", "change_message_visibility_batch"):
        setattr(
            sqs_models.SQSBackend,
            name,
            waking(
                getattr(sqs_models.SQSBackend, name), lambda backend, queue_name, *a, **k: _queue(backend, queue_name)
            ),
        )


def _queue(backend, queue_name):
    try:
        return backend.get_queue(queue_name)
    except Exception:
        return None


def serialize_item_writes() -> None:
    """Make moto's item writes atomic per table, as DynamoDB's are per item (idempotent)."""
    backend = dynamodb_models.DynamoDBBackend
    if getattr(backend, "_writes_serialized", False):
        return
    locks: Dict[str, threading.Lock] = defaultdict(threading.Lock)

    def serialized(original):
        def write(self, table_name, *args, **kwargs):
            with locks[f"{self.account_id}/{self.region_name}/{table_name}"]:
                return original(self, table_name, *args, **kwargs)

        return write

    for name in ("put_item", "update_item", "delete_item"):
        setattr(backend, name, serialized(getattr(backend, name)))
    backend._writes_serialized = True


def cache_module_list() -> None:
    modules = tuple(moto_backends.list_of_moto_modules())
    moto_backends.list_of_moto_modules = lambda: modules


# --- the deployed mode: IAM for role sessions ------------------------------------


def access_key_of(authorization: str) -> str:
    """The access key id of a SigV4 ``Authorization`` header ("" when unsigned)."""
    return authorization.partition("Credential=")[2].partition("/")[0]


def resource_arn(service: str, region: str, account: str, params: Dict[str, Any], resource: str) -> str:
    """The resource an action is authorized on, where moto passes ``*``.

    IAM authorizes DynamoDB item and table actions on the table
    (``arn:aws:dynamodb:{region}:{account}:table/{TableName}``) and SQS's GetQueueUrl on
    the queue (``arn:aws:sqs:{region}:{account}:{QueueName}``) (Service Authorization
    Reference: "Resource types defined by Amazon DynamoDB / Amazon SQS").
    """
    if resource != "*":
        return resource
    if service == "dynamodb":
        table = params.get("TableName") or next(iter(params.get("RequestItems") or {}), None)
        if table:
            return f"arn:aws:dynamodb:{region}:{account}:table/{table}"
    if service == "sqs" and params.get("QueueName"):
        return f"arn:aws:sqs:{region}:{account}:{params['QueueName']}"
    return resource


def json_error(service: str, code: str, message: str) -> Tuple[Dict[str, str], str]:
    """(headers, body) of an error in the JSON protocols (awsJson1_0): ``__type`` names the code;
    SQS (awsQueryCompatible) also names its query-protocol code in ``x-amzn-query-error``."""
    if service == "sqs" and code == "AccessDeniedException":
        code = "AccessDenied"
    headers = {"Content-Type": "application/x-amz-json-1.0"}
    if service == "sqs":
        headers["x-amzn-query-error"] = f"{code};Sender"
    return headers, json.dumps({"__type": code, "message": message})


def _json_code(error: Any) -> str:
    code = getattr(error, "error_type", "") or "AccessDenied"
    return {"AccessDenied": "AccessDeniedException"}.get(code, code)


def enforce_role_sessions() -> None:
    """Check every request signed with role-session credentials; let long-term keys through."""
    from moto.core.authorization import ActionAuthenticatorMixin
    from moto.core.exceptions import JsonRESTError
    from werkzeug.exceptions import HTTPException

    def authorize(self, iam_request_cls: type, resource: str = "*") -> None:
        headers = self.headers
        if not access_key_of(headers.get("Authorization", "")).startswith(ROLE_SESSION_PREFIX):
            return
        service = _signed_service(headers.get("Authorization", ""))
        params = _params_of(self)
        resource = resource_arn(service, self.region, self.current_account, params, resource)
        try:
            iam_request = iam_request_cls(
                account_id=self.current_account,
                method=self.method,
                path=self.raw_path + (f"?{urlparse(self.uri).query}" if urlparse(self.uri).query else ""),
                data=self.data,
                body=self.raw_body,
                headers=headers,
                action=self._get_action(),
            )
            iam_request.check_signature()
            iam_request.check_action_permitted(resource)
        except HTTPException as exc:
            if not headers.get("X-Amz-Target"):
                raise  # a query/XML service: moto's XML error is the right shape
            message = getattr(exc, "message", None) or str(exc)
            extra, _ = json_error(service, _json_code(exc), message)
            self.response_headers.update(extra)
            raise JsonRESTError(_json_code(exc), message) from exc

    ActionAuthenticatorMixin._authenticate_and_authorize_action = authorize


def _signed_service(authorization: str) -> str:
    scope = authorization.partition("Credential=")[2].partition(",")[0].split("/")
    return scope[3] if len(scope) > 3 else ""


def _params_of(response: Any) -> Dict[str, Any]:
    params = getattr(response, "params", None)
    if isinstance(params, dict) and params:
        return params
    try:
        body = json.loads(response.body or "{}") if isinstance(response.body, (str, bytes)) else response.body
    except ValueError:
        body = {}
    return body if isinstance(body, dict) else {}


# --- the deployed mode: routes of its own -----------------------------------------


def serve_region_routes(info: Dict[str, Any]) -> None:
    """Add ``/moto-api/localcloud/code``, ``/info`` and ``/regions`` to moto's own API."""
    from moto.moto_api._internal import urls

    urls.url_paths[CODE_PATH] = _code_response
    urls.url_paths[REGIONS_PATH] = lambda request, full_url, headers: (
        200,
        {"Content-Type": "application/json"},
        json.dumps({"regions": deployed_regions()}),
    )
    urls.url_paths[INFO_PATH] = lambda request, full_url, headers: (
        200,
        {"Content-Type": "application/json"},
        json.dumps(info),
    )


def deployed_regions() -> List[str]:
    """The regions (of any account) holding a function, a mapping or an apigatewayv2 API."""
    from moto.apigatewayv2.models import apigatewayv2_backends
    from moto.awslambda.models import lambda_backends

    regions = set()
    for _, name, backend in list(lambda_backends.iter_backends()):
        if backend._lambdas._functions or backend._event_source_mappings:
            regions.add(name)
    for _, name, backend in list(apigatewayv2_backends.iter_backends()):
        if backend.apis:
            regions.add(name)
    return sorted(regions)


def _code_response(request: Any, full_url: str, headers: Any) -> Tuple[int, Dict[str, str], Any]:
    from moto.awslambda.models import lambda_backends

    arn = (parse_qs(urlparse(full_url).query).get("FunctionArn") or [""])[0]
    parts = arn.split(":")  # arn:aws:lambda:{region}:{account}:function:{name}
    if len(parts) < 7 or parts[2] != "lambda":
        return 400, {"Content-Type": "application/json"}, json.dumps({"message": "pass ?FunctionArn=<function ARN>"})
    try:
        function = lambda_backends[parts[4]][parts[3]].get_function(parts[6])
    except Exception:  # moto's UnknownFunctionException
        return 404, {"Content-Type": "application/json"}, json.dumps({"message": f"no function {arn}"})
    return (
        200,
        {"Content-Type": "application/zip", "x-localcloud-code-sha256": function.code_sha_256},
        function.code_bytes,
    )


def _own_args(argv: List[str]) -> Tuple[bool, Optional[Dict[str, Any]], List[str]]:
    region, info, rest = False, None, []
    items = iter(argv)
    for item in items:
        if item == "--region":
            region = True
        elif item == "--info":
            info = json.loads(next(items))
        else:
            rest.append(item)
    return region, info, rest


def run(argv=None) -> None:
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    region, info, argv = _own_args(list(argv if argv is not None else sys.argv[1:]))
    apply_fast_sqs_clock()
    cache_module_list()
    serialize_receives()
    serialize_item_writes()
    if region:
        from infra import motopatch
        from localcloud import cfntypes

        motopatch.apply()
        cfntypes.register()  # CloudFormation's AWS::ApiGatewayV2::* types
        enforce_role_sessions()
        serve_region_routes(info or {})
    main(argv)


if __name__ == "__main__":
    run(sys.argv[1:])
