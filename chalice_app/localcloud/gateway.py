"""API Gateway for WebSockets, emulated: the ``wss://…/{stage}`` endpoint and ``@connections``.

One aiohttp server on loopback serves, for stage ``api``:

- ``GET /api`` (WebSocket upgrade): runs ``$connect`` and refuses the upgrade
  with the handler's status when it is not 2xx; every text frame runs
  ``$default``; the close runs ``$disconnect`` with the close code and reason.
- ``POST|GET|DELETE /api/@connections/{id}``: the Management API, answering as
  AWS does (410 + ``x-amzn-ErrorType: GoneException`` for unknown ids), so the
  real boto3 client and the AWS CLI work against it unchanged.
- ``GET /health``: readiness, for scripts and tests.

``localcloud.guard`` decides who may call each of these (loopback Host, no cross-site
Origin, SigV4 on ``@connections``) and sets every response's security headers.

Handlers run in a thread pool (a slow Lambda never stalls other connections).
API Gateway's limits are enforced: frame and message size (close 1009), idle
timeout and maximum connection duration (close 1001).
"""

import asyncio
import base64
import contextlib
import time
from concurrent.futures import Executor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Dict, Optional, Set

from aiohttp import WSCloseCode, WSMsgType, web

from localcloud import guard
from localcloud.events import ConnectionInfo, new_connection_id, websocket_event
from localcloud.host import FunctionHost, InvocationError

__all__ = ["Limits", "Gateway"]

WATCHDOG = web.AppKey("watchdog", asyncio.Task)


@dataclass(frozen=True)
class Limits:
    """API Gateway WebSocket quotas (AWS defaults; tests shrink them)."""

    frame_bytes: int = 32 * 1024
    message_bytes: int = 128 * 1024
    idle_seconds: float = 10 * 60
    max_connection_seconds: float = 2 * 3600


@dataclass
class LiveConnection:
    info: ConnectionInfo
    ws: web.WebSocketResponse


class Gateway:
    def __init__(
        self,
        host: FunctionHost,
        executor: Executor,
        stage: str,
        api_id: str,
        domain: str,
        limits: Limits = Limits(),
        static_dir: Optional[str] = None,
        health_info: Optional[Dict[str, Any]] = None,
    ):
        self.host = host
        self.executor = executor
        self.stage = stage
        self.api_id = api_id
        self.domain = domain
        self.limits = limits
        self.static_dir = static_dir
        self.health_info = dict(health_info or {})
        self.connections: Dict[str, LiveConnection] = {}
        self._tasks: Set[asyncio.Task] = set()

    def make_app(self, local_token: Optional[str] = None) -> web.Application:
        """The aiohttp app; ``local_token`` opens the ``/_local/*`` routes the stack adds."""
        app = web.Application(client_max_size=self.limits.message_bytes + 1024)
        guard.install(app, self.stage, local_token)
        base = f"/{self.stage}"
        app.router.add_get(base, self.websocket)
        app.router.add_get(base + "/", self.websocket)
        app.router.add_post(base + "/@connections/{connection_id}", self.post_to_connection)
        app.router.add_get(base + "/@connections/{connection_id}", self.get_connection)
        app.router.add_delete(base + "/@connections/{connection_id}", self.delete_connection)
        app.router.add_get("/health", self.health)
        if self.static_dir:
            app.router.add_get("/", self.index)
            app.router.add_static("/static", self.static_dir)
        app.on_startup.append(self._start_watchdog)
        app.on_shutdown.append(self._close_all)
        return app

    # --- the WebSocket endpoint ------------------------------------------

    async def websocket(self, request: web.Request) -> web.StreamResponse:
        probe = web.WebSocketResponse()
        if not probe.can_prepare(request).ok:
            return web.json_response({"message": "Upgrade Required: connect with a WebSocket client"}, status=426)
        info = ConnectionInfo(
            connection_id=new_connection_id(),
            api_id=self.api_id,
            domain=self.domain,
            stage=self.stage,
            source_ip=request.remote or "127.0.0.1",
            user_agent=request.headers.get("User-Agent", ""),
            headers=dict(request.headers),
            query=dict(request.query),
        )
        refused = await self._run_connect(info)
        if refused is not None:
            return refused
        ws = web.WebSocketResponse(max_msg_size=self.limits.message_bytes, autoping=True)
        await ws.prepare(request)
        info.touch()
        self.connections[info.connection_id] = LiveConnection(info, ws)
        try:
            await self._receive_loop(info, ws)
        finally:
            self.connections.pop(info.connection_id, None)
            await self._run_disconnect(info, ws)
        return ws

    async def _run_connect(self, info: ConnectionInfo) -> Optional[web.Response]:
        try:
            result = await self._invoke("websocket_connect", websocket_event("$connect", info))
        except InvocationError:
            return web.json_response({"message": "Internal server error"}, status=500)
        status = int(result.get("statusCode", 200)) if isinstance(result, dict) else 200
        if 200 <= status < 300:
            return None
        body = result.get("body") if isinstance(result, dict) else None
        return web.Response(status=status, text=body if isinstance(body, str) else "Forbidden")

    async def _receive_loop(self, info: ConnectionInfo, ws: web.WebSocketResponse) -> None:
        async for message in ws:
            if message.type == WSMsgType.TEXT:
                if len(message.data.encode("utf-8")) > self.limits.frame_bytes:
                    await ws.close(code=WSCloseCode.MESSAGE_TOO_BIG, message=b"Frame size limit exceeded")
                    break
                self._dispatch(info, message.data, False)
            elif message.type == WSMsgType.BINARY:
                if len(message.data) > self.limits.frame_bytes:
                    await ws.close(code=WSCloseCode.MESSAGE_TOO_BIG, message=b"Frame size limit exceeded")
                    break
                self._dispatch(info, base64.b64encode(message.data).decode("ascii"), True)
            elif message.type == WSMsgType.ERROR:
                break

    def _dispatch(self, info: ConnectionInfo, body: str, is_base64: bool) -> None:
        info.touch()
        event = websocket_event("$default", info, body=body, is_base64=is_base64)
        task = asyncio.ensure_future(self._invoke_quietly("websocket_message", event))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run_disconnect(self, info: ConnectionInfo, ws: web.WebSocketResponse) -> None:
        code = ws.close_code if ws.close_code is not None else 1006
        reason = _close_reason(ws)
        event = websocket_event("$disconnect", info, disconnect_code=code, disconnect_reason=reason)
        await self._invoke_quietly("websocket_disconnect", event)

    async def _invoke(self, name: str, event: Dict[str, Any]) -> Any:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.executor, self.host.invoke, name, event)

    async def _invoke_quietly(self, name: str, event: Dict[str, Any]) -> None:
        # A failure is already in the function's log, as Lambda would have it.
        with contextlib.suppress(InvocationError):
            await self._invoke(name, event)

    # --- the Management API ----------------------------------------------

    def _live(self, request: web.Request) -> Optional[LiveConnection]:
        live = self.connections.get(request.match_info["connection_id"])
        if live is None or live.ws.closed:
            return None
        return live

    async def post_to_connection(self, request: web.Request) -> web.Response:
        live = self._live(request)
        if live is None:
            return _gone()
        data = await request.read()
        if len(data) > self.limits.message_bytes:
            return _aws_error(413, "PayloadTooLargeException", "Message payload exceeds the 128 KB limit")
        try:
            try:
                await live.ws.send_str(data.decode("utf-8"))
            except UnicodeDecodeError:
                await live.ws.send_bytes(data)
        except (ConnectionError, RuntimeError):
            return _gone()
        live.info.touch()
        return web.Response(status=200)

    async def get_connection(self, request: web.Request) -> web.Response:
        live = self._live(request)
        if live is None:
            return _gone()
        info = live.info
        return web.json_response(
            {
                "connectedAt": _iso(info.connected_at_ms),
                "identity": {"sourceIp": info.source_ip, "userAgent": info.user_agent},
                "lastActiveAt": _iso(info.last_active_ms),
            }
        )

    async def delete_connection(self, request: web.Request) -> web.Response:
        live = self._live(request)
        if live is None:
            return _gone()
        await live.ws.close(code=WSCloseCode.OK, message=b"Connection closed by the server")
        return web.Response(status=204)

    # --- housekeeping ----------------------------------------------------

    async def health(self, request: web.Request) -> web.Response:
        return web.json_response(
            {
                "status": "ok",
                "connections": len(self.connections),
                "websocket_path": f"/{self.stage}",
                **self.health_info,
            }
        )

    async def index(self, request: web.Request) -> web.StreamResponse:
        return web.FileResponse(f"{self.static_dir}/index.html")

    async def _start_watchdog(self, app: web.Application) -> None:
        task = asyncio.ensure_future(self._watchdog())
        app[WATCHDOG] = task

    async def _watchdog(self) -> None:
        interval = max(0.05, min(1.0, self.limits.idle_seconds / 4, self.limits.max_connection_seconds / 4))
        while True:
            await asyncio.sleep(interval)
            now_ms = time.time() * 1000
            for live in list(self.connections.values()):
                idle = (now_ms - live.info.last_active_ms) / 1000
                age = (now_ms - live.info.connected_at_ms) / 1000
                if idle > self.limits.idle_seconds or age > self.limits.max_connection_seconds:
                    reason = b"Idle timeout" if idle > self.limits.idle_seconds else b"Maximum connection duration"
                    await live.ws.close(code=WSCloseCode.GOING_AWAY, message=reason)

    async def _close_all(self, app: web.Application) -> None:
        app[WATCHDOG].cancel()
        for live in list(self.connections.values()):
            await live.ws.close(code=WSCloseCode.GOING_AWAY, message=b"Server shutting down")
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)


def _close_reason(ws: web.WebSocketResponse) -> str:
    return {1000: "Client closed the connection", 1001: "Going away", 1009: "Message too big"}.get(
        ws.close_code or 1006, "Connection closed abnormally"
    )


def _iso(epoch_ms: int) -> str:
    stamp = datetime.fromtimestamp(epoch_ms / 1000, UTC)
    return stamp.strftime("%Y-%m-%dT%H:%M:%S.") + f"{epoch_ms % 1000:03d}Z"


def _aws_error(status: int, error_type: str, message: str) -> web.Response:
    return web.json_response({"message": message}, status=status, headers={"x-amzn-ErrorType": error_type})


def _gone() -> web.Response:
    return _aws_error(410, "GoneException", "The connection is gone (it closed or never existed)")
