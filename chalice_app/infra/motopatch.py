"""Three measured gaps of moto 5.2.5 that stop a real ``chalice deploy`` (and its checklist) against it, patched.

Only for an *emulated* AWS (the deploy tests, or a developer trying
``scripts/deploy.py --endpoint-url`` on a laptop); nothing in ``chalicelib/`` or
in the deploy pipeline knows about it. The patches change moto's classes in the
process that runs the moto server, so apply them before the server serves its
first request, in that process::

    with motopatch.patched():
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=port)
        ...

or run a patched server by itself: ``python -m infra.motopatch --port 5000``.

1. apigatewayv2 has no ``/v2/apis/{apiId}/deployments`` route, so
   ``CreateDeployment`` (chalice's ``deploy_websocket_api``) answers 404. The patch
   adds the route with ``CreateDeployment`` and ``GetDeployments``; a deployment is
   a record on the API (id, status DEPLOYED, date), which is all chalice reads.
2. Once an SQS event source mapping exists, every ``send_message`` on that queue
   makes moto receive the batch and invoke the function in a Docker container
   (there is no Docker engine here), so ``send_message`` hangs or fails and the
   messages' receive counts climb toward the DLQ. The patch keeps the mapping
   (Create/Get/List/Update/Delete behave as before, ``State`` included) but does not
   attach it to the queue: the emulated Lambda never polls, messages stay in the
   queue as they would while a real mapping is disabled, and queue depth checks
   see them.
3. ``ListEventSourceMappings --function-name NAME`` compares NAME with the name or ARN
   the mapping was created with, literally: chalice creates it with the ARN, so the
   seed checklist's ``aws lambda list-event-source-mappings --function-name
   shopping-assistant-api-chalice-test-chat_processor`` lists nothing. AWS accepts the
   name, the ARN or a partial ARN (Lambda API reference, ListEventSourceMappings); the
   patch compares function names.
"""

import argparse
import contextlib
import json
import time
import uuid
from typing import Any, Callable, Dict, Iterator, List, Tuple

__all__ = ["apply", "patched", "restore", "serve"]

DEPLOYMENTS_PATH = "{0}/v2/apis/(?P<api_id>[^/]+)/deployments$"

_undo: List[Callable[[], None]] = []


def apply() -> None:
    """Patch moto's classes in this process (idempotent)."""
    if _undo:
        return
    _patch_apigatewayv2_deployments()
    _patch_sqs_mapping_dispatch()
    _patch_mapping_function_filter()


def restore() -> None:
    """Undo ``apply`` (servers started meanwhile keep their route table)."""
    while _undo:
        _undo.pop()()


@contextlib.contextmanager
def patched() -> Iterator[None]:
    already = bool(_undo)
    apply()
    try:
        yield
    finally:
        if not already:
            restore()


def _set(owner: Any, name: str, value: Any) -> None:
    missing = object()
    previous = owner.__dict__.get(name, missing) if isinstance(owner, type) else getattr(owner, name, missing)

    def undo() -> None:
        if previous is missing:
            delattr(owner, name)
        else:
            setattr(owner, name, previous)

    setattr(owner, name, value)
    _undo.append(undo)


# --- 1. apigatewayv2 CreateDeployment ---------------------------------------------


def _deployments_of(api: Any) -> List[Dict[str, Any]]:
    if not hasattr(api, "motopatch_deployments"):
        api.motopatch_deployments = []
    return api.motopatch_deployments


def _create_deployment(self) -> Tuple[int, Dict[str, str], str]:
    api_id = self.path.split("/")[-2]
    api = self.apigatewayv2_backend.get_api(api_id)  # NotFoundException for an unknown id
    body = json.loads(self.body or "{}")
    deployment = {
        "deploymentId": uuid.uuid4().hex[:10],
        "deploymentStatus": "DEPLOYED",
        "createdDate": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "autoDeployed": False,
    }
    if body.get("description"):
        deployment["description"] = body["description"]
    _deployments_of(api).append(deployment)
    stage_name = body.get("stageName")
    if stage_name and stage_name in api.stages:
        api.stages[stage_name].config["deploymentId"] = deployment["deploymentId"]
    return 201, {}, json.dumps(deployment)


def _get_deployments(self) -> Tuple[int, Dict[str, str], str]:
    api = self.apigatewayv2_backend.get_api(self.path.split("/")[-2])
    return 200, {}, json.dumps({"items": list(_deployments_of(api))})


def _patch_apigatewayv2_deployments() -> None:
    from moto.apigatewayv2 import urls
    from moto.apigatewayv2.responses import ApiGatewayV2Response

    _set(ApiGatewayV2Response, "create_deployment", _create_deployment)
    _set(ApiGatewayV2Response, "get_deployments", _get_deployments)
    if DEPLOYMENTS_PATH not in urls.url_paths:
        urls.url_paths[DEPLOYMENTS_PATH] = ApiGatewayV2Response.dispatch
        _undo.append(lambda: urls.url_paths.pop(DEPLOYMENTS_PATH, None))


# --- 2. SQS event source mappings never invoke Lambda ------------------------------


def _patch_sqs_mapping_dispatch() -> None:
    from moto.awslambda.models import LambdaBackend
    from moto.sqs.models import sqs_backends

    original = LambdaBackend.create_event_source_mapping

    def create_event_source_mapping(self, spec: Dict[str, Any]):
        esm = original(self, spec)
        if esm.event_source_arn.split(":")[2] == "sqs":
            for queue in sqs_backends[self.account_id][self.region_name].queues.values():
                if queue.queue_arn == esm.event_source_arn:
                    queue.lambda_event_source_mappings.pop(esm.function_arn, None)
        return esm

    _set(LambdaBackend, "create_event_source_mapping", create_event_source_mapping)


# --- 3. ListEventSourceMappings by function name or ARN ----------------------------


def _function_name(name_or_arn: str) -> str:
    """``NAME``, ``ACCOUNT:function:NAME`` or ``arn:aws:lambda:REGION:ACCOUNT:function:NAME[:QUALIFIER]`` -> NAME."""
    return name_or_arn.split(":function:")[-1].split(":")[0] if ":function:" in name_or_arn else name_or_arn


def _patch_mapping_function_filter() -> None:
    from moto.awslambda.models import LambdaBackend

    original = LambdaBackend.list_event_source_mappings

    def list_event_source_mappings(self, event_source_arn: str, function_name: str):
        mappings = original(self, event_source_arn, "")
        if not function_name:
            return mappings
        wanted = _function_name(function_name)
        return [mapping for mapping in mappings if _function_name(mapping.function_arn) == wanted]

    _set(LambdaBackend, "list_event_source_mappings", list_event_source_mappings)


# --- a patched server on its own ---------------------------------------------------


def serve(port: int, host: str = "127.0.0.1") -> None:
    from moto.server import ThreadedMotoServer

    apply()
    server = ThreadedMotoServer(ip_address=host, port=port, verbose=False)
    server.start()
    print(f"patched moto server on http://{host}:{port} (Ctrl-C stops it)", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description="Run a moto server with the deploy patches applied.")
    parser.add_argument("--port", type=int, default=5000)
    parser.add_argument("--host", default="127.0.0.1")
    args = parser.parse_args()
    serve(args.port, args.host)


if __name__ == "__main__":
    main()
