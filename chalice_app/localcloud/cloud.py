"""The deployed mode: an offline AWS region that serves what ``scripts/deploy.py`` deployed into it.

``make cloud`` (``scripts/local.py --cloud``) starts ``CloudRegion``::

    moto server (own process, localcloud.motomain --region)   AWS APIs, IAM enforced for role sessions
    this process
      watcher        every POLL_SECONDS: localcloud.region.read_region (functions, code zips,
                     WebSocket APIs, routes, integrations, event source mappings)
      Lambda service localcloud.lambdaservice: one execution environment (a python -I
                     subprocess) per concurrent invocation, with the role's STS credentials
                     (localcloud.iam.RoleSessions)
      edge           one aiohttp server: a localcloud.gateway.Gateway per deployed WebSocket
                     API, and the @connections API checked for execute-api:ManageConnections
      SQS pollers    a localcloud.poller.SqsPoller per Enabled SQS event source mapping

Nothing is read from the source tree: a redeploy shows up at the next poll (new code or
configuration gets fresh environments; a changed mapping gets its pollers restarted).

The edge's URLs, for API ``{apiId}`` and stage ``{stage}`` (one form, also what
``EndpointRoutes.execute_api`` points the functions' @connections calls at):

- ``ws://127.0.0.1:{G}/_api/{apiId}/{stage}``: the WebSocket endpoint (deploy.py prints it);
- ``http://127.0.0.1:{G}/{stage}/@connections/{connectionId}`` with the header
  ``x-localcloud-api-id: {apiId}``: the Management API (the form of
  ``localcloud.lambdaservice.routing``, which rewrites the functions' calls to it);
- ``GET /health``: readiness and what is served.

The moto server's ``/moto-api/localcloud/info`` names the edge, so tools given only the
AWS endpoint (deploy.py's Validate) find the WebSocket URL of what they deployed.
"""

import asyncio
import contextlib
import json
import logging
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Dict, Optional

import boto3
from aiohttp import web

from localcloud import guard, region, shutdown
from localcloud.cloudlogs import ShippedLogs
from localcloud.gateway import Gateway, Limits
from localcloud.iam import RoleSessions, connection_arn
from localcloud.lambdaservice import API_ID_HEADER, EndpointRoutes, FunctionConfig, InvocationError, LambdaService
from localcloud.motomain import access_key_of
from localcloud.motoserver import MotoServer
from localcloud.poller import PollerConfig, SqsPoller

__all__ = ["CloudOptions", "CloudRegion", "DeployedFunctions", "EDGE_PREFIX", "POLL_SECONDS"]

log = logging.getLogger("localcloud")

EDGE_PREFIX = "/_api"
POLL_SECONDS = 1.0
ACCOUNT = "123456789012"  # moto's default account
DEFAULT_POLLERS = 4


@dataclass
class CloudOptions:
    host: str = "127.0.0.1"
    port: int = 4566  # the AWS endpoint (the moto server)
    gateway_port: int = 0  # the edge; 0: the AWS endpoint's port + 1
    region: str = "us-east-1"
    log_dir: str = field(default_factory=lambda: tempfile.mkdtemp(prefix="localcloud-logs-"))
    concurrency: int = 10  # per function, as Lambda's reserved concurrency
    idle_seconds: float = 300.0  # a warm environment unused this long is reaped
    max_environments: Optional[int] = 12  # all functions together (None: no cap)
    poll_seconds: float = POLL_SECONDS
    limits: Limits = field(default_factory=Limits)
    verbose: bool = True


class DeployedFunctions:
    """The ``invoke(name, event)`` that the gateway and the pollers call, over the deployed functions.

    For a WebSocket API it picks the function by the event's route key (its apigatewayv2
    route and integration); for an event source mapping by the mapping's function, and
    drops ``batchItemFailures`` when the mapping does not report them (Lambda then
    treats the batch as a success).
    """

    def __init__(self, cloud: "CloudRegion", api_id: Optional[str] = None, source: Optional[region.EventSource] = None):
        self.cloud = cloud
        self.api_id = api_id
        self.source = source

    def invoke(self, name: str, event: Dict[str, Any]) -> Any:
        snapshot = self.cloud.snapshot
        if self.api_id is not None:
            api = snapshot.apis.get(self.api_id)
            route_key = event.get("requestContext", {}).get("routeKey", "")
            name = (api.routes if api else {}).get(route_key, "")
            if not name:
                raise InvocationError(f"API {self.api_id} has no integration for route {route_key}")
        fields = snapshot.functions.get(name)
        if fields is None:
            raise InvocationError(f"Function not found: {name}")
        result = self.cloud.service.invoke(FunctionConfig(**fields), event)
        if self.source is not None and not self.source.report_batch_item_failures:
            return None
        return result


class CloudRegion:
    def __init__(self, options: CloudOptions):
        self.options = options
        self.moto: Optional[MotoServer] = None
        self._clients: Dict[str, Any] = {}
        self.logs = ShippedLogs(options.log_dir, self.client, verbose=options.verbose)
        self.gateway_port = options.gateway_port or options.port + 1
        self.snapshot = region.Snapshot()
        self.gateways: Dict[str, Gateway] = {}
        self.pollers: Dict[str, SqsPoller] = {}
        self.executor = ThreadPoolExecutor(max_workers=64, thread_name_prefix="lambda")
        self.code_cache = tempfile.mkdtemp(prefix="localcloud-code-")
        self.sessions = RoleSessions(self.client)
        self.service: Optional[LambdaService] = None
        self.failure: Optional[str] = None
        self.refreshed_at = 0.0  # when the region was last read (epoch seconds, before the read)
        self.failed = asyncio.Event()
        self._runner: Optional[web.AppRunner] = None
        self._watch: Optional[asyncio.Task] = None

    # --- URLs ----------------------------------------------------------------

    @property
    def aws_endpoint(self) -> str:
        return f"http://{self.options.host}:{self.options.port}"

    @property
    def edge_url(self) -> str:
        return f"http://{self.options.host}:{self.gateway_port}"

    def websocket_url(self, api_id: str, stage: str) -> str:
        return f"ws://{self.options.host}:{self.gateway_port}{EDGE_PREFIX}/{api_id}/{stage}"

    def client(self, service: str) -> Any:
        """A client of the emulated region with the tooling's own (unchecked) keys."""
        if service not in self._clients:
            self._clients[service] = boto3.client(
                service,
                region_name=self.options.region,
                endpoint_url=self.aws_endpoint,
                aws_access_key_id="testing",
                aws_secret_access_key="testing",
            )
        return self._clients[service]

    # --- lifecycle -------------------------------------------------------------

    async def start(self) -> None:
        info = json.dumps({"gateway": self.edge_url, "websocket_prefix": EDGE_PREFIX})
        moto = MotoServer(self.options.host, self.options.port, args=["--region", "--info", info])
        self.moto = await asyncio.to_thread(moto.start)
        self.service = LambdaService(
            self.logs,
            EndpointRoutes(aws_endpoint=self.aws_endpoint, execute_api=self.edge_url, region=self.options.region),
            self.sessions.credentials_for,
            concurrency=self.options.concurrency,
            idle_seconds=self.options.idle_seconds,
            max_environments=self.options.max_environments,
        )
        app = web.Application(client_max_size=self.options.limits.message_bytes + 1024)
        app.middlewares.append(self._edge_guard)
        app.on_response_prepare.append(_security_headers)
        prefix = EDGE_PREFIX + "/{api_id}/{stage}"
        app.router.add_get(prefix, self._websocket)
        app.router.add_get(prefix + "/", self._websocket)
        for method in ("POST", "GET", "DELETE"):
            app.router.add_route(method, "/{stage}/@connections/{connection_id}", self._connections)
        app.router.add_get("/health", self._health)
        self._runner = web.AppRunner(app, handle_signals=False, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, self.options.host, self.gateway_port, reuse_address=True).start()
        await self.refresh()
        self._watch = asyncio.ensure_future(self._watch_loop())

    async def shutdown(self, grace: float, notify=lambda line: None) -> Optional[shutdown.StopReport]:
        """A clean stop's first half (``localcloud.shutdown``), for every deployed WebSocket API."""
        if self.failure is not None or not self.gateways:
            return None
        await asyncio.gather(*(g.drain("the emulated region is stopping", grace) for g in self.gateways.values()))
        logs = await asyncio.to_thread(self._frame_logs)

        def read() -> shutdown.Pending:
            return shutdown.read_all({table: reader for table, (_, reader) in logs.items()})

        before = await asyncio.to_thread(read)
        if before:
            notify(f"Waiting up to {grace:g} s for {len(before)} acked message(s) in flight...")
        left = await asyncio.to_thread(shutdown.wait_settled, read, before, grace)
        for poller in self.pollers.values():
            poller.halt()
        if left and self.service is not None:
            await asyncio.to_thread(self.service.close)  # no answer is cut after its terminal is told
        api = shutdown.DirectPost(self.gateways.values(), asyncio.get_running_loop())
        for frames, reader in logs.values():
            mine = left & await asyncio.to_thread(reader)
            await asyncio.to_thread(shutdown.tell_unavailable, api, frames, mine)
        lost = len(left & await asyncio.to_thread(read))
        return shutdown.StopReport(len(before), len(before) - len(left), len(left) - lost, lost)

    def _frame_logs(self) -> Dict[str, Any]:
        """sessions table -> (FrameLog, unfinished reader), for each deployed SQS-fed function."""
        from chalicelib.config import load
        from chalicelib.framelog import FrameLog

        dynamodb, found = self.client("dynamodb"), {}
        for source in self.snapshot.sources.values():
            fields = self.snapshot.functions.get(source.function_name)
            if fields is None:
                continue
            config = load(fields["environment"])
            ttl = max(config.session_ttl_seconds, config.resume_window_seconds)
            frames = FrameLog(config.sessions_table, config.frames_table, ttl, config.resume_window_seconds, dynamodb)
            table = config.sessions_table
            found[table] = (frames, lambda table=table: shutdown.unfinished(dynamodb, table))
        return found

    async def stop(self) -> None:
        if self._watch is not None:
            self._watch.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watch
        for poller in self.pollers.values():
            await asyncio.to_thread(poller.stop)
        for gateway in self.gateways.values():
            await gateway.close()
        if self._runner is not None:
            await self._runner.cleanup()
        self.executor.shutdown(wait=True, cancel_futures=True)
        if self.service is not None:
            await asyncio.to_thread(self.service.close)
        if self.moto is not None:
            await asyncio.to_thread(self.moto.stop)
        self.logs.close()

    def describe(self):
        return [
            f"AWS endpoint: {self.aws_endpoint}",
            f"Gateway (WebSocket APIs, @connections): {self.edge_url}{EDGE_PREFIX}/{{apiId}}/{{stage}}",
            f"Health: {self.edge_url}/health",
            f"Logs: {self.options.log_dir}/",
        ]

    # --- following what is deployed ------------------------------------------

    async def _watch_loop(self) -> None:
        while True:
            await asyncio.sleep(self.options.poll_seconds)
            reason = self.moto.exit_reason() if self.moto is not None else ""
            if reason:
                self.failure = reason
                for poller in self.pollers.values():
                    poller.halt()
                for gateway in self.gateways.values():
                    await gateway.fail(reason)
                self.failed.set()
                return
            try:
                await self.refresh()
            except Exception as exc:  # a half-made deployment (function without code yet, ...): next poll
                log.warning("reading the deployed region failed (%s); retrying", exc)

    async def refresh(self) -> None:
        """Read the region and serve what it says now."""
        read_at = time.time()
        snapshot = await asyncio.to_thread(region.read_region, self.client, self.aws_endpoint, self.code_cache)
        previous, self.snapshot = self.snapshot, snapshot
        changed = [
            name
            for name, fields in snapshot.functions.items()
            if previous.functions.get(name, {}).get("version") != fields["version"]
        ]
        for name in changed:
            if name in previous.functions:
                self.service.retire(name)
            print(f"function {name}: version {snapshot.functions[name]['version']} deployed", flush=True)
        for api_id, api in snapshot.apis.items():
            if api_id not in self.gateways and api.stages:
                await self._serve_api(api)
        await asyncio.to_thread(self._reconcile_pollers, snapshot)
        self.refreshed_at = read_at  # everything deployed before read_at is served from now on

    async def _serve_api(self, api: region.WebSocketApi) -> None:
        gateway = Gateway(
            DeployedFunctions(self, api_id=api.api_id),
            self.executor,
            stage=api.stages[0],
            api_id=api.api_id,
            domain=f"{api.api_id}.execute-api.{self.options.region}.amazonaws.com",
            limits=self.options.limits,
        )
        await gateway.open()
        self.gateways[api.api_id] = gateway
        for stage in api.stages:
            print(f"WebSocket API {api.name or api.api_id}: {self.websocket_url(api.api_id, stage)}", flush=True)

    def _reconcile_pollers(self, snapshot: region.Snapshot) -> None:
        for uuid in list(self.pollers):
            source = snapshot.sources.get(uuid)
            poller = self.pollers[uuid]
            if source is None or not source.enabled or poller.host.source != source:
                poller.stop()
                del self.pollers[uuid]
                print(f"event source {uuid}: stopped", flush=True)
        for uuid, source in snapshot.sources.items():
            if uuid in self.pollers or not source.enabled or source.function_name not in snapshot.functions:
                continue
            _, _, _, region_name, account, queue = source.queue_arn.split(":")
            sqs = self.client("sqs")
            url = sqs.get_queue_url(QueueName=queue, QueueOwnerAWSAccountId=account)["QueueUrl"]
            config = PollerConfig(
                function_name=source.function_name,
                queue_url=url,
                queue_arn=source.queue_arn,
                region=region_name,
                batch_size=source.batch_size,
                batching_window_seconds=source.batching_window_seconds,
                concurrency=min(source.maximum_concurrency or DEFAULT_POLLERS, self.options.concurrency),
            )
            poller = SqsPoller(DeployedFunctions(self, source=source), sqs, config)
            poller.start()
            self.pollers[uuid] = poller
            flags = "Enabled" + (f", {region.BATCH_ITEM_FAILURES}" if source.report_batch_item_failures else "")
            print(
                f"event source {uuid}: {queue} -> {source.function_name} "
                f"(batch {source.batch_size}, window {source.batching_window_seconds} s, {flags})",
                flush=True,
            )

    # --- the edge --------------------------------------------------------------

    def _gateway_for(self, request: web.Request) -> Optional[Gateway]:
        api_id = request.match_info.get("api_id") or request.headers.get(API_ID_HEADER, "")
        gateway = self.gateways.get(api_id)
        if gateway is None or gateway.stage != request.match_info.get("stage"):
            return None
        return gateway

    @web.middleware
    async def _edge_guard(self, request: web.Request, handler) -> web.StreamResponse:
        """localcloud.guard's rules on the path as the API sees it, then IAM on @connections."""
        api_id = request.match_info.get("api_id") or request.headers.get(API_ID_HEADER, "")
        stage = request.match_info.get("stage", "")
        path = request.path.removeprefix(f"{EDGE_PREFIX}/{api_id}")
        refused = guard.refusal_for(
            guard.checks_for(request.method, path, request.headers, stage), request.headers, None
        )
        if refused is None and "connection_id" in request.match_info:
            resource = connection_arn(
                self.options.region, ACCOUNT, api_id, stage, request.method, request.match_info["connection_id"]
            )
            key = access_key_of(request.headers.get("Authorization", ""))
            reason = await asyncio.to_thread(self.sessions.connections_refusal, key, resource)
            if reason is not None:
                refused = ("ForbiddenException", reason)
        if refused is not None:
            error_type, message = refused
            return web.json_response({"message": message}, status=403, headers={"x-amzn-ErrorType": error_type})
        return await handler(request)

    async def _websocket(self, request: web.Request) -> web.StreamResponse:
        gateway = self._gateway_for(request)
        if gateway is None:
            return _not_found(request)
        return await gateway.websocket(request)

    async def _connections(self, request: web.Request) -> web.StreamResponse:
        gateway = self._gateway_for(request)
        if gateway is None:
            return _not_found(request)
        handler = {"POST": gateway.post_to_connection, "GET": gateway.get_connection}.get(
            request.method, gateway.delete_connection
        )
        return await handler(request)

    async def _health(self, request: web.Request) -> web.Response:
        body = {
            "status": "ok" if self.failure is None else "failed",
            "aws_endpoint": self.aws_endpoint,
            "functions": sorted(self.snapshot.functions),
            "websocket_apis": {
                api_id: [self.websocket_url(api_id, stage) for stage in api.stages]
                for api_id, api in self.snapshot.apis.items()
            },
            "event_sources": sorted(self.pollers),
            "refreshed_at": self.refreshed_at,
        }
        if self.failure is not None:
            body["reason"] = self.failure
        return web.json_response(body, status=200 if self.failure is None else 503)


def _not_found(request: web.Request) -> web.Response:
    return web.json_response(
        {"message": f"no deployed WebSocket API serves {request.path}"},
        status=404,
        headers={"x-amzn-ErrorType": "NotFoundException"},
    )


async def _security_headers(request: web.Request, response: web.StreamResponse) -> None:
    response.headers.popall("Server", None)
    for name, value in guard.SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
