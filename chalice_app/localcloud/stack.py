"""The whole local stack: moto server, resources, the Lambda service, the gateway and the SQS poller.

``LocalStack`` is what ``make run`` (``chalice_app/scripts/local.py``) starts, and what
the integration tests and QA phase scripts start on free ports. The functions run in
execution environments of ``localcloud.lambdaservice`` (source mode: the code of the
project directory, configured by a stage of ``.chalice/config.json``, ``local`` by
default), never in this process.
Order matters: the stage's environment is applied before ``chalicelib`` reads its
settings (the resources are named by them), the resources exist before the app's shape
is read (its SQS handler names the queue at import time), and the gateway listens
before the poller posts.

The moto server holds all the stack's state, so the stack watches it (its process,
or with ``moto_endpoint`` an HTTP probe). When it dies the stack fails: the pollers
stop, the gateway tells every client (``Gateway.fail``), ``failure`` says what
died and ``failed`` is set; ``scripts/local.py`` then stops the stack and exits 3.
A silent restart would hide that every queued message and connection record is gone.
"""

import asyncio
import contextlib
import os
import secrets
import socket
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Dict, List, Optional

import boto3
from aiohttp import web

from chalicelib.errors import ShoppingAssistantError
from chalicelib.framelog import FrameLog
from chalicelib.management import ManagementApi
from infra.stage import VISIBILITY_TIMEOUT_FACTOR
from localcloud import console, shutdown
from localcloud.events import new_api_id
from localcloud.gateway import Gateway, Limits
from localcloud.lambdaservice import EndpointRoutes, LambdaService, SourceFunctions, SourceProject
from localcloud.logfiles import FunctionLogs
from localcloud.motoserver import MotoServer, answers
from localcloud.poller import PollerConfig, SqsPoller

__all__ = ["StackOptions", "LocalStack", "PortInUseError", "PROJECT_DIR", "EMULATOR_EXIT_CODE"]

PROJECT_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REPO_DIR = os.path.dirname(PROJECT_DIR)


# scripts/local.py's exit status when the stack failed because its AWS emulator died.
EMULATOR_EXIT_CODE = 3
WATCH_SECONDS = 0.25  # how often the moto process is checked
PROBE_SECONDS = 1.0  # how often a moto server given by --moto-endpoint is probed
PROBE_FAILURES = 3  # consecutive failed probes that mean it is gone
# Source mode has no IAM: every function gets the emulator's placeholder keys.
_EMULATOR_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}


class PortInUseError(ShoppingAssistantError, RuntimeError):
    pass


@dataclass
class StackOptions:
    host: str = "127.0.0.1"
    port: int = 8000
    stage: str = "api"  # the API Gateway stage: ws://host:port/<stage>
    chalice_stage: str = "local"  # the .chalice/config.json stage whose environment is used
    moto_port: int = 0  # 0: a free port
    moto_endpoint: Optional[str] = None  # use a running moto server instead of starting one
    log_dir: str = os.path.join(REPO_DIR, "logs")
    pollers: Optional[int] = None  # default: the mapping's maximum_concurrency, else 4
    visibility_timeout: Optional[int] = None  # default: 6 x the processor's lambda_timeout, as deployed
    concurrency: int = 10  # execution environments per function at most
    max_environments: Optional[int] = 12  # all functions together (each is a ~50 MB process)
    idle_environment_seconds: float = 300.0  # warm environments idle this long are stopped
    project_dir: str = ""  # the chalice project whose code runs (default: chalice_app/)
    prewarm: bool = True  # one warm environment per function before the stack is ready
    limits: Limits = field(default_factory=Limits)
    environment: Dict[str, str] = field(default_factory=dict)
    verbose: bool = True
    static_dir: Optional[str] = None
    failed_grace_seconds: float = 5.0  # after a failure, /health and clients see why before the exit
    stop_grace_seconds: float = shutdown.DEFAULT_GRACE_SECONDS  # Ctrl-C: how long messages in flight may finish


class LocalStack:
    def __init__(self, options: StackOptions):
        self.options = options
        self.moto: Optional[MotoServer] = None
        self.logs = FunctionLogs(options.log_dir, verbose=options.verbose)
        self.project = SourceProject(options.project_dir or PROJECT_DIR, options.chalice_stage)
        self.lambdas: Optional[LambdaService] = None
        self.functions: Optional[SourceFunctions] = None
        self.executor = ThreadPoolExecutor(max_workers=64, thread_name_prefix="lambda")
        self.pollers: List[SqsPoller] = []
        self.gateway: Optional[Gateway] = None
        self._runner: Optional[web.AppRunner] = None
        self._watch: Optional[asyncio.Task] = None
        self.resources = None
        # Opens /_local/* for this run only; printed on the console (describe()).
        self.local_token = secrets.token_urlsafe(24)
        self.failure: Optional[str] = None  # what died, once the stack has failed
        self.failed = asyncio.Event()

    # --- URLs --------------------------------------------------------------

    @property
    def http_url(self) -> str:
        return f"http://{self.options.host}:{self.options.port}"

    @property
    def websocket_url(self) -> str:
        return f"ws://{self.options.host}:{self.options.port}/{self.options.stage}"

    @property
    def management_url(self) -> str:
        return f"{self.http_url}/{self.options.stage}"

    @property
    def moto_url(self) -> str:
        return self.options.moto_endpoint or self.moto.url

    # --- lifecycle ---------------------------------------------------------

    async def start(self) -> None:
        _check_port_free(self.options.host, self.options.port)
        if not self.options.moto_endpoint:
            self.moto = await asyncio.to_thread(MotoServer(self.options.host, self.options.moto_port).start)
        self._configure_environment()
        await asyncio.to_thread(self._load_app_and_resources)
        self.gateway = Gateway(
            self.functions,
            self.executor,
            stage=self.options.stage,
            api_id=new_api_id(),
            domain=f"{self.options.host}:{self.options.port}",
            limits=self.options.limits,
            static_dir=self.options.static_dir,
            health_info={
                "moto_endpoint": self.moto_url,
                "moto_pid": self.moto.pid if self.moto is not None else None,
                "chalice_stage": self.options.chalice_stage,
                "lambda_concurrency": self.options.concurrency,
            },
        )
        app = self.gateway.make_app(local_token=self.local_token)
        app.router.add_post("/_local/pollers/{action}", self._control_pollers)
        console.install(
            app, self.gateway, self.options.log_dir, lambda: boto3.client("sqs", endpoint_url=self.moto_url)
        )
        self._runner = web.AppRunner(app, handle_signals=False, access_log=None)
        await self._runner.setup()
        try:
            await web.TCPSite(self._runner, self.options.host, self.options.port, reuse_address=True).start()
        except OSError as exc:
            await self.stop()
            raise PortInUseError(_port_message(self.options.port)) from exc
        for poller in self.pollers:
            poller.start()
        self.functions.start_watching()
        self._watch = asyncio.ensure_future(self._watch_moto())

    async def shutdown(self, grace: float, notify=lambda line: None) -> Optional["shutdown.StopReport"]:
        """A clean stop's first half (``localcloud.shutdown``): take no new work, give the messages
        in flight ``grace`` seconds, tell the rest ``service_unavailable``; then ``stop()``.
        None when the stack has failed (the gateway already told everyone) or never started."""
        if self.failure is not None or self.gateway is None or self.resources is None:
            return None
        await self.gateway.drain("the local stack is stopping", timeout=grace)
        frames, read = await asyncio.to_thread(self._frame_log)
        before = await asyncio.to_thread(read)
        if before:
            notify(f"Waiting up to {grace:g} s for {len(before)} acked message(s) in flight...")
        left = await asyncio.to_thread(shutdown.wait_settled, read, before, grace)
        for poller in self.pollers:
            poller.halt()
        if left and self.lambdas is not None:
            await asyncio.to_thread(self.lambdas.close)  # no answer is cut after its terminal is told
        api = ManagementApi(self.management_url)
        await asyncio.to_thread(shutdown.tell_unavailable, api, frames, left)
        lost = len(left & await asyncio.to_thread(read))
        return shutdown.StopReport(len(before), len(before) - len(left), len(left) - lost, lost)

    def _frame_log(self):
        from chalicelib.config import settings

        config = settings()
        dynamodb = boto3.client("dynamodb", region_name=config.region, endpoint_url=self.moto_url)
        ttl = max(config.session_ttl_seconds, config.resume_window_seconds)
        frames = FrameLog(config.sessions_table, config.frames_table, ttl, config.resume_window_seconds, dynamodb)
        return frames, lambda: shutdown.unfinished(dynamodb, config.sessions_table)

    async def stop(self) -> None:
        if self._watch is not None:
            self._watch.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watch
            self._watch = None
        for poller in self.pollers:
            await asyncio.to_thread(poller.stop)
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        self.executor.shutdown(wait=True, cancel_futures=True)
        if self.functions is not None:
            await asyncio.to_thread(self.functions.close)
        if self.lambdas is not None:
            await asyncio.to_thread(self.lambdas.close)
        if self.moto is not None:
            await asyncio.to_thread(self.moto.stop)
        self.logs.close()

    # --- the moto watch ----------------------------------------------------

    async def _watch_moto(self) -> None:
        misses = 0
        while True:
            if self.moto is not None:
                await asyncio.sleep(WATCH_SECONDS)
                reason = self.moto.exit_reason()
            else:
                await asyncio.sleep(PROBE_SECONDS)
                misses = 0 if await asyncio.to_thread(answers, self.moto_url) else misses + 1
                reason = f"the AWS emulator at {self.moto_url} stopped answering" if misses >= PROBE_FAILURES else ""
            if reason:
                await self.fail(reason)
                return

    async def fail(self, reason: str) -> None:
        """The emulator died: stop taking messages, tell every client, and say so."""
        if self.failure is not None:
            return
        self.failure = reason
        for poller in self.pollers:
            poller.halt()
        if self.gateway is not None:
            await self.gateway.fail(reason)
        self.failed.set()

    async def _control_pollers(self, request: web.Request) -> web.Response:
        """``POST /_local/pollers/stop|start``: pause the event source mapping, as
        disabling it in Lambda would (fault-injection tests and demos use it). The guard
        lets it through only with the run's ``X-Local-Token`` and no cross-site Origin."""
        action = request.match_info["action"]
        if action not in ("stop", "start"):
            return web.json_response({"message": "use /_local/pollers/stop or /_local/pollers/start"}, status=404)
        if self.failure is not None and action == "start":
            return web.json_response({"message": f"the stack has failed: {self.failure}"}, status=503)
        for poller in self.pollers:
            await asyncio.to_thread(poller.stop if action == "stop" else poller.start)
        states = [
            {"running": poller.running, "invocations": poller.invocations, "deleted": poller.deleted}
            for poller in self.pollers
        ]
        return web.json_response({"pollers": states})

    # --- steps -------------------------------------------------------------

    def _configure_environment(self) -> None:
        env = os.environ
        # moto accepts any credentials; real ones must never reach an emulator.
        env["AWS_ACCESS_KEY_ID"] = "testing"
        env["AWS_SECRET_ACCESS_KEY"] = "testing"
        env.pop("AWS_SESSION_TOKEN", None)
        env.pop("AWS_PROFILE", None)
        env.setdefault("AWS_DEFAULT_REGION", "us-east-1")
        env["AWS_REGION"] = env["AWS_DEFAULT_REGION"]
        env["AWS_ENDPOINT_URL"] = self.moto_url
        # This process names the resources as the processor would (its settings), then runs no app code.
        env.update(self.project.stage_environment("chat_processor"))
        env.update(self._overrides())

    def _overrides(self) -> Dict[str, str]:
        """What the stack adds to every function's configured environment."""
        # Replies reach clients through this gateway's @connections API.
        return {**self.options.environment, "WEBSOCKET_ENDPOINT_URL": self.management_url}

    def _load_app_and_resources(self) -> None:
        from chalicelib.config import settings
        from infra import bootstrap

        settings.cache_clear()
        config = settings()
        region = config.region

        def make_client(service: str):
            return boto3.client(service, region_name=region, endpoint_url=self.moto_url)

        # AWS: a queue feeding a Lambda needs a visibility timeout of at least 6x its timeout.
        processor_timeout = self.project.timeout_for("chat_processor")
        visibility = self.options.visibility_timeout or VISIBILITY_TIMEOUT_FACTOR * processor_timeout
        self.resources = bootstrap.ensure_all(make_client, config, visibility_timeout=visibility)
        self.project.load_app(os.environ)
        routes = EndpointRoutes(aws_endpoint=self.moto_url, execute_api=self.http_url, region=region)
        self.lambdas = LambdaService(
            self.logs,
            routes,
            credentials_for=lambda _config: _EMULATOR_CREDENTIALS,
            concurrency=self.options.concurrency,
            idle_seconds=self.options.idle_environment_seconds,
            max_environments=self.options.max_environments,
        )
        self.functions = SourceFunctions(self.project, self.lambdas, os.environ, self._overrides())
        if self.options.prewarm:
            self.functions.prewarm()
        sqs = make_client("sqs")
        for source in self.project.sqs_sources():
            concurrency = self.options.pollers or source.maximum_concurrency or 4
            poller_config = PollerConfig(
                function_name=source.name,
                queue_url=sqs.get_queue_url(QueueName=source.queue)["QueueUrl"],
                queue_arn=self.resources.queue_arn,
                region=region,
                batch_size=source.batch_size,
                batching_window_seconds=source.maximum_batching_window_in_seconds,
                concurrency=concurrency,
            )
            self.pollers.append(SqsPoller(self.functions, sqs, poller_config))

    def describe(self) -> List[str]:
        lines = [
            f"WebSocket:       {self.websocket_url}",
            f"Management API:  {self.management_url}/@connections/{{connectionId}}",
        ]
        if self.options.static_dir:
            lines.append(f"Chat page:       {self.http_url}/")
            lines.append(f"Console:         {self.http_url}{console.PAGE_PATH}")
        lines += [
            f"Health:          {self.http_url}/health",
            f"Local control:   {self.http_url}/_local (token: {self.local_token})",
            f"Moto (AWS APIs): {self.moto_url}",
            f"Logs:            {self.options.log_dir}/",
        ]
        return lines


def _check_port_free(host: str, port: int) -> None:
    """Fail fast, before moto starts, when another socket listens on the port.

    With SO_REUSEADDR, as the listener itself binds (and as most servers do): on Linux
    that still refuses a port some socket listens on, but not one whose earlier
    connections sit in TCP TIME_WAIT (2 MSL, RFC 9293 section 3.6) for a minute after a stop,
    so a stack stopped and started again at once comes straight back up.
    """
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            raise PortInUseError(_port_message(port)) from exc


def _port_message(port: int) -> str:
    return (
        f"port {port} is already in use on 127.0.0.1: stop whatever is using it, "
        f"or pick another port (make run PORT=8001, or --port 8001)"
    )
