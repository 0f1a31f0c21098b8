"""The deployed mode: an offline AWS endpoint that serves what ``scripts/deploy.py`` deployed into any region of it.

``make cloud`` (``scripts/local.py --cloud``) starts ``CloudRegion``::

    moto server (own process, localcloud.motomain --region)   AWS APIs of every region, IAM enforced
                                                              for role sessions
    this process
      watcher        every POLL_SECONDS: the regions holding something (the moto server's
                     /moto-api/localcloud/regions), each read by localcloud.region.read_region
                     (functions, code zips, WebSocket APIs, routes, integrations, mappings)
      per region     a localcloud.served.ServedRegion: its Lambda service (one python -I
                     subprocess per concurrent invocation, with the role's STS credentials,
                     AWS_REGION of the region), its SQS pollers, its logs (files and the
                     region's CloudWatch Logs)
      edge           one aiohttp server: a localcloud.gateway.Gateway per deployed WebSocket
                     API (whatever its region), and the @connections API checked for
                     execute-api:ManageConnections on the API's own region

Nothing is read from the source tree: a redeploy shows up at the next poll (new code or
configuration gets fresh environments; a changed mapping gets its pollers restarted).

The edge's URLs, for API ``{apiId}`` and stage ``{stage}`` (one form, also what
``EndpointRoutes.execute_api`` points the functions' @connections calls at):

- ``ws://127.0.0.1:{G}/_api/{apiId}/{stage}``: the WebSocket endpoint (deploy.py prints it);
- ``http://127.0.0.1:{G}/{stage}/@connections/{connectionId}`` with the headers
  ``x-localcloud-api-id: {apiId}`` and ``x-localcloud-region: {region}``: the Management API
  (the form of ``localcloud.lambdaservice.routing``, which rewrites the functions' calls to it);
- ``GET /health``: readiness and what is served.

A request for an API, stage or region the endpoint does not serve gets a 404 whose message
says so and lists what it serves. The moto server's ``/moto-api/localcloud/info`` names the
edge, so tools given only the AWS endpoint (deploy.py's Validate) find the WebSocket URL of what
they deployed.
"""

import asyncio
import contextlib
import json
import logging
import shutil
import tempfile
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

from aiohttp import web

from localcloud import guard, region, shutdown
from localcloud.gateway import Gateway, Limits
from localcloud.iam import RoleSessions, connection_arn
from localcloud.lambdaservice import API_ID_HEADER, REGION_HEADER
from localcloud.motomain import access_key_of
from localcloud.motoserver import MotoServer
from localcloud.served import DeployedFunctions, RegionSettings, ServedRegion, client_factory

__all__ = ["CloudOptions", "CloudRegion", "DeployedFunctions", "EDGE_PREFIX", "POLL_SECONDS"]

log = logging.getLogger("localcloud")

EDGE_PREFIX = "/_api"
POLL_SECONDS = 1.0
ACCOUNT = "123456789012"  # moto's default account


@dataclass
class CloudOptions:
    host: str = "127.0.0.1"
    port: int = 4566  # the AWS endpoint (the moto server)
    gateway_port: int = 0  # the edge; 0: the AWS endpoint's port + 1
    region: str = "us-east-1"
    log_dir: str = ""  # "": a temporary folder, removed on exit
    remove_log_dir: bool = False  # set when log_dir was made here
    concurrency: int = 10  # per function, as Lambda's reserved concurrency
    idle_seconds: float = 300.0  # a warm environment unused this long is reaped
    max_environments: Optional[int] = 12  # all functions together (None: no cap)
    poll_seconds: float = POLL_SECONDS
    limits: Limits = field(default_factory=Limits)
    verbose: bool = True

    def __post_init__(self) -> None:
        if not self.log_dir:
            self.log_dir = tempfile.mkdtemp(prefix="localcloud-logs-")
            self.remove_log_dir = True


class CloudRegion:
    def __init__(self, options: CloudOptions):
        self.options = options
        self.moto: Optional[MotoServer] = None
        self.gateway_port = options.gateway_port or options.port + 1
        self.regions: Dict[str, ServedRegion] = {}  # region name -> what is served there
        self.gateways: Dict[str, Gateway] = {}  # API id -> its gateway
        self.api_regions: Dict[str, str] = {}  # API id -> the region it was created in
        self.executor = ThreadPoolExecutor(max_workers=64, thread_name_prefix="lambda")
        self.code_cache = tempfile.mkdtemp(prefix="localcloud-code-")
        self._home = client_factory(options.region, self.aws_endpoint)
        self.sessions = RoleSessions(self._home)
        self.settings = RegionSettings(options, self.aws_endpoint, self.edge_url, self.code_cache, None)
        self.failure: Optional[str] = None
        self.refreshed_at = 0.0  # when the regions were last read (epoch seconds, before the read)
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
        """A client of the home region (``CloudOptions.region``) with the tooling's own keys."""
        return self._home(service)

    @property
    def snapshot(self) -> region.Snapshot:
        """The home region's snapshot (empty before it was read)."""
        served = self.regions.get(self.options.region)
        return served.snapshot if served is not None else region.Snapshot()

    # --- lifecycle -------------------------------------------------------------

    async def start(self) -> None:
        info = json.dumps({"gateway": self.edge_url, "websocket_prefix": EDGE_PREFIX})
        moto = MotoServer(self.options.host, self.options.port, args=["--region", "--info", info])
        self.moto = await asyncio.to_thread(moto.start)
        self.settings.credentials_for = self.sessions.credentials_for
        self._served(self.options.region)
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
        for served in self.regions.values():
            served.halt()
            if left:  # no answer is cut after its terminal is told
                await asyncio.to_thread(served.service.close)
        api = shutdown.DirectPost(self.gateways.values(), asyncio.get_running_loop())
        for frames, reader in logs.values():
            mine = left & await asyncio.to_thread(reader)
            await asyncio.to_thread(shutdown.tell_unavailable, api, frames, mine)
        lost = len(left & await asyncio.to_thread(read))
        return shutdown.StopReport(len(before), len(before) - len(left), len(left) - lost, lost)

    def _frame_logs(self) -> Dict[str, Any]:
        """(region, sessions table) -> (FrameLog, unfinished reader), for each deployed SQS-fed function."""
        from chalicelib.config import load
        from chalicelib.framelog import FrameLog

        found = {}
        for served in self.regions.values():
            dynamodb = served.client("dynamodb")
            for source in served.snapshot.sources.values():
                fields = served.snapshot.functions.get(source.function_name)
                if fields is None:
                    continue
                config = load(fields["environment"])
                ttl = max(config.session_ttl_seconds, config.resume_window_seconds)
                frames = FrameLog(
                    config.sessions_table, config.frames_table, ttl, config.resume_window_seconds, dynamodb
                )
                table = config.sessions_table
                found[(served.name, table)] = (frames, lambda db=dynamodb, t=table: shutdown.unfinished(db, t))
        return found

    async def stop(self) -> None:
        if self._watch is not None:
            self._watch.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watch
        for served in self.regions.values():
            await asyncio.to_thread(served.stop_pollers)
        for gateway in self.gateways.values():
            await gateway.close()
        if self._runner is not None:
            await self._runner.cleanup()
        self.executor.shutdown(wait=True, cancel_futures=True)
        for served in self.regions.values():
            await asyncio.to_thread(served.close)
        if self.moto is not None:
            await asyncio.to_thread(self.moto.stop)
        shutil.rmtree(self.code_cache, ignore_errors=True)
        if self.options.remove_log_dir:
            shutil.rmtree(self.options.log_dir, ignore_errors=True)

    def describe(self):
        logs = f"Logs: {self.options.log_dir}/ (other regions in a subfolder named after the region)"
        if self.options.remove_log_dir:
            logs += ", removed on exit (keep them with --log-dir DIR)"
        return [
            f"AWS endpoint: {self.aws_endpoint} (every region: deploy with --region or AWS_DEFAULT_REGION)",
            f"Gateway (WebSocket APIs, @connections): {self.edge_url}{EDGE_PREFIX}/{{apiId}}/{{stage}}",
            f"Health: {self.edge_url}/health",
            logs,
        ]

    # --- following what is deployed ------------------------------------------

    async def _watch_loop(self) -> None:
        while True:
            await asyncio.sleep(self.options.poll_seconds)
            reason = self.moto.exit_reason() if self.moto is not None else ""
            if reason:
                self.failure = reason
                for served in self.regions.values():
                    served.halt()
                for gateway in self.gateways.values():
                    await gateway.fail(reason)
                self.failed.set()
                return
            try:
                await self.refresh()
            except Exception as exc:  # a half-made deployment (function without code yet, ...): next poll
                log.warning("reading the deployed regions failed (%s); retrying", exc)

    def _served(self, name: str) -> ServedRegion:
        if name not in self.regions:
            self.regions[name] = ServedRegion(name, self.settings)
        return self.regions[name]

    async def refresh(self) -> None:
        """Read every region with something deployed, and serve what each says now."""
        read_at = time.time()
        names = await asyncio.to_thread(_deployed_regions, self.aws_endpoint)
        for name in sorted({self.options.region, *names}):
            served = self._served(name)
            for api in await served.refresh():
                if api.api_id not in self.gateways:
                    await self._serve_api(served, api)
        self.refreshed_at = read_at  # everything deployed before read_at is served from now on

    async def _serve_api(self, served: ServedRegion, api: region.WebSocketApi) -> None:
        gateway = Gateway(
            DeployedFunctions(served, api_id=api.api_id),
            self.executor,
            stage=api.stages[0],
            api_id=api.api_id,
            domain=f"{api.api_id}.execute-api.{served.name}.amazonaws.com",
            limits=self.options.limits,
        )
        await gateway.open()
        self.gateways[api.api_id] = gateway
        self.api_regions[api.api_id] = served.name
        for stage in api.stages:
            url = self.websocket_url(api.api_id, stage)
            print(f"WebSocket API {api.name or api.api_id} in {served.name}: {url}", flush=True)

    # --- the edge --------------------------------------------------------------

    def _refusal(self, request: web.Request) -> Optional[str]:
        """Why this endpoint serves no API for the request (in words), or None when one does."""
        api_id = request.match_info.get("api_id") or request.headers.get(API_ID_HEADER, "")
        stage, asked = request.match_info.get("stage", ""), request.headers.get(REGION_HEADER, "")
        gateway, home = self.gateways.get(api_id), self.api_regions.get(api_id)
        if gateway is None:
            return (
                f"no WebSocket API {api_id!r} is deployed in any region of {self.aws_endpoint}"
                + (f" (asked for region {asked})" if asked else "")
                + f"; it serves {self._served_list()}"
            )
        if asked and asked != home:
            return f"WebSocket API {api_id} is in region {home}, not {asked}: use {api_id}.execute-api.{home}..."
        if gateway.stage != stage:
            return f"WebSocket API {api_id} ({home}) has stage {gateway.stage!r}, not {stage!r}"
        return None

    def _served_list(self) -> str:
        apis = [f"{self.websocket_url(api_id, self.gateways[api_id].stage)} ({name})" for api_id, name in
                sorted(self.api_regions.items(), key=lambda item: (item[1], item[0]))]  # fmt: skip
        return ", ".join(apis) if apis else "no WebSocket API yet (deploy one with scripts/deploy.py)"

    @web.middleware
    async def _edge_guard(self, request: web.Request, handler) -> web.StreamResponse:
        """localcloud.guard's rules on the path as the API sees it, then IAM on @connections."""
        api_id = request.match_info.get("api_id") or request.headers.get(API_ID_HEADER, "")
        stage = request.match_info.get("stage", "")
        path = request.path.removeprefix(f"{EDGE_PREFIX}/{api_id}")
        refused = guard.refusal_for(
            guard.checks_for(request.method, path, request.headers, stage), request.headers, None
        )
        if refused is None and "connection_id" in request.match_info and api_id in self.api_regions:
            resource = connection_arn(
                self.api_regions[api_id], ACCOUNT, api_id, stage, request.method, request.match_info["connection_id"]
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
        reason = self._refusal(request)
        if reason is not None:
            return _not_found(reason)
        return await self.gateways[request.match_info["api_id"]].websocket(request)

    async def _connections(self, request: web.Request) -> web.StreamResponse:
        reason = self._refusal(request)
        if reason is not None:
            return _not_found(reason)
        gateway = self.gateways[request.headers.get(API_ID_HEADER, "")]
        handler = {"POST": gateway.post_to_connection, "GET": gateway.get_connection}.get(
            request.method, gateway.delete_connection
        )
        return await handler(request)

    async def _health(self, request: web.Request) -> web.Response:
        body = {
            "status": "ok" if self.failure is None else "failed",
            "aws_endpoint": self.aws_endpoint,
            "regions": {
                name: {"functions": sorted(served.snapshot.functions), "event_sources": sorted(served.pollers)}
                for name, served in sorted(self.regions.items())
            },
            "functions": sorted(self.snapshot.functions),
            "websocket_apis": {
                api_id: [self.websocket_url(api_id, stage) for stage in served.snapshot.apis[api_id].stages]
                for served in self.regions.values()
                for api_id in served.snapshot.apis
            },
            "websocket_api_regions": dict(self.api_regions),
            "event_sources": sorted(uuid for served in self.regions.values() for uuid in served.pollers),
            "refreshed_at": self.refreshed_at,
        }
        if self.failure is not None:
            body["reason"] = self.failure
        return web.json_response(body, status=200 if self.failure is None else 503)


def _deployed_regions(endpoint: str) -> List[str]:
    """The regions the endpoint holds something deployed in (``/moto-api/localcloud/regions``)."""
    with urllib.request.urlopen(f"{endpoint}/moto-api/localcloud/regions", timeout=10) as response:
        return list(json.loads(response.read())["regions"])


def _not_found(reason: str) -> web.Response:
    return web.json_response(
        {"message": reason},
        status=404,
        headers={"x-amzn-ErrorType": "NotFoundException"},
    )


async def _security_headers(request: web.Request, response: web.StreamResponse) -> None:
    response.headers.popall("Server", None)
    for name, value in guard.SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
