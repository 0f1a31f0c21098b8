"""What was deployed into the emulated region, read from its APIs (never from the source tree).

Small pure functions turn the API responses into what the deployed mode serves:

- ``function_fields(get_function response, code_dir)``: the fields of the Lambda
  service's ``FunctionConfig`` (handler, environment, timeout, memory, role, and a
  ``version`` that changes with the code or the configuration);
- ``integration_function_arn(uri)``: the function behind an apigatewayv2 integration
  (``arn:aws:apigateway:{region}:lambda:path/2015-03-31/functions/{functionArn}/invocations``,
  API Gateway's Lambda integration URI);
- ``websocket_api(api, stages, routes, integrations)``: a ``WebSocketApi`` (route key ->
  function name, stages);
- ``event_source(mapping)``: an ``EventSource`` (queue, batch size, window, Enabled,
  ``FunctionResponseTypes``).

``read_region(client, code_cache)`` reads them all (``Snapshot``), fetching each
function's package from the moto server's ``/moto-api/localcloud/code`` route and
unpacking it once per ``CodeSha256`` under ``code_cache``. The deployed mode calls it
every second or so; a redeploy shows up as a new snapshot.
"""

import hashlib
import io
import json
import os
import shutil
import tempfile
import urllib.parse
import urllib.request
import zipfile
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Optional, Tuple

__all__ = [
    "WebSocketApi",
    "EventSource",
    "Snapshot",
    "function_fields",
    "integration_function_arn",
    "function_name_of",
    "websocket_api",
    "event_source",
    "fetch_code",
    "read_region",
    "BATCH_ITEM_FAILURES",
]

BATCH_ITEM_FAILURES = "ReportBatchItemFailures"


@dataclass(frozen=True)
class WebSocketApi:
    api_id: str
    name: str
    stages: Tuple[str, ...]
    routes: Dict[str, str] = field(default_factory=dict)  # "$connect" -> function name


@dataclass(frozen=True)
class EventSource:
    uuid: str
    queue_arn: str
    function_name: str
    batch_size: int
    batching_window_seconds: int
    enabled: bool
    report_batch_item_failures: bool
    maximum_concurrency: Optional[int] = None


@dataclass
class Snapshot:
    functions: Dict[str, Dict[str, Any]] = field(default_factory=dict)  # name -> function_fields(...)
    apis: Dict[str, WebSocketApi] = field(default_factory=dict)  # api id -> WebSocketApi
    sources: Dict[str, EventSource] = field(default_factory=dict)  # mapping UUID -> EventSource


def function_name_of(arn: str) -> str:
    """``arn:aws:lambda:{region}:{account}:function:{name}[:{qualifier}]`` -> ``name``."""
    return arn.split(":function:")[-1].split(":")[0] if ":function:" in arn else arn


def function_fields(response: Dict[str, Any], code_dir: str) -> Dict[str, Any]:
    """``FunctionConfig`` fields from ``lambda.get_function`` (or its ``Configuration``)."""
    config = response.get("Configuration", response)
    environment = {str(k): str(v) for k, v in ((config.get("Environment") or {}).get("Variables") or {}).items()}
    fields = {
        "name": config["FunctionName"],
        "handler": config["Handler"],
        "code_dir": code_dir,
        "environment": environment,
        # Lambda's defaults (CreateFunction): 3 s and 128 MB.
        "timeout_seconds": float(config.get("Timeout") or 3),
        "memory_mb": int(config.get("MemorySize") or 128),
        "role_arn": config.get("Role"),
    }
    identity = json.dumps(
        [config.get("CodeSha256"), config.get("LastModified"), {k: v for k, v in fields.items() if k != "code_dir"}],
        sort_keys=True,
    )
    fields["version"] = hashlib.sha256(identity.encode()).hexdigest()[:16]
    return fields


def integration_function_arn(uri: str) -> Optional[str]:
    """The Lambda function ARN inside an integration URI (or the URI itself when it is one)."""
    if ":lambda:path/" in uri and "/functions/" in uri:
        return uri.split("/functions/", 1)[1].removesuffix("/invocations")
    if ":function:" in uri:
        return uri
    return None


def websocket_api(api: Dict[str, Any], stages: Any, routes: Any, integrations: Any) -> WebSocketApi:
    """A WEBSOCKET API's routes, each to the function of its (AWS_PROXY) integration."""
    by_id = {item["IntegrationId"]: item for item in integrations}
    mapped = {}
    for route in routes:
        target = route.get("Target") or ""  # "integrations/{IntegrationId}"
        integration = by_id.get(target.split("/")[-1])
        arn = integration_function_arn(integration.get("IntegrationUri", "")) if integration else None
        if arn:
            mapped[route["RouteKey"]] = function_name_of(arn)
    return WebSocketApi(
        api_id=api["ApiId"],
        name=api.get("Name", ""),
        stages=tuple(sorted(stage["StageName"] for stage in stages)),
        routes=mapped,
    )


def event_source(mapping: Dict[str, Any]) -> EventSource:
    """An SQS event source mapping as Lambda's poller reads it (a mapping is Enabled when its
    State is Enabled, or still Creating/Updating/Enabling toward it)."""
    state = mapping.get("State", "Enabled")
    scaling = mapping.get("ScalingConfig") or {}
    return EventSource(
        uuid=mapping["UUID"],
        queue_arn=mapping["EventSourceArn"],
        function_name=function_name_of(mapping["FunctionArn"]),
        batch_size=int(mapping.get("BatchSize") or 10),
        batching_window_seconds=int(mapping.get("MaximumBatchingWindowInSeconds") or 0),
        enabled=state in ("Enabled", "Enabling", "Creating", "Updating"),
        report_batch_item_failures=BATCH_ITEM_FAILURES in (mapping.get("FunctionResponseTypes") or []),
        maximum_concurrency=scaling.get("MaximumConcurrency"),
    )


def fetch_code(endpoint: str, function_arn: str, code_sha256: str, code_cache: str) -> str:
    """The unpacked deployment package of one code version (fetched and unpacked once)."""
    target = os.path.join(code_cache, hashlib.sha256(code_sha256.encode()).hexdigest()[:20])
    if os.path.isdir(target):
        return target
    query = urllib.parse.urlencode({"FunctionArn": function_arn})
    with urllib.request.urlopen(f"{endpoint}/moto-api/localcloud/code?{query}", timeout=30) as response:
        data = response.read()
    os.makedirs(code_cache, exist_ok=True)
    staging = tempfile.mkdtemp(dir=code_cache, prefix=".unpack-")
    with zipfile.ZipFile(io.BytesIO(data)) as bundle:
        bundle.extractall(staging)
    try:
        os.rename(staging, target)
    except OSError:  # another reader unpacked it meanwhile
        shutil.rmtree(staging, ignore_errors=True)
    return target


def _all(client: Any, method: str, key: str, **kwargs: Any):
    """Every item of a list call, following NextToken/NextMarker (apigatewayv2 / lambda)."""
    while True:
        page = getattr(client, method)(**kwargs)
        yield from page.get(key, [])
        token = page.get("NextToken") or page.get("NextMarker")
        if not token:
            return
        kwargs["NextToken" if "NextToken" in page else "Marker"] = token


def read_region(client: Callable[[str], Any], endpoint: str, code_cache: str) -> Snapshot:
    """Everything the region serves, read from its APIs now."""
    snapshot = Snapshot()
    lam, gateway = client("lambda"), client("apigatewayv2")
    for summary in _all(lam, "list_functions", "Functions"):
        config = lam.get_function(FunctionName=summary["FunctionName"])["Configuration"]
        code_dir = fetch_code(endpoint, config["FunctionArn"], config.get("CodeSha256", ""), code_cache)
        snapshot.functions[config["FunctionName"]] = function_fields(config, code_dir)
    for api in _all(gateway, "get_apis", "Items"):
        if api.get("ProtocolType") != "WEBSOCKET":
            continue
        api_id = api["ApiId"]
        snapshot.apis[api_id] = websocket_api(
            api,
            _all(gateway, "get_stages", "Items", ApiId=api_id),
            _all(gateway, "get_routes", "Items", ApiId=api_id),
            list(_all(gateway, "get_integrations", "Items", ApiId=api_id)),
        )
    for mapping in _all(lam, "list_event_source_mappings", "EventSourceMappings"):
        if mapping.get("EventSourceArn", "").split(":")[2:3] == ["sqs"]:
            snapshot.sources[mapping["UUID"]] = event_source(mapping)
    return snapshot
