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


Handlers run in a thread pool (a slow Lambda never stalls other connections),
fairly: each connection's frames wait in its own backlog, drained by at most
``connection_workers`` invocations at a time, so a flood on one connection waits
behind itself only (and a full backlog stops reading that socket). ``$disconnect``
runs at most ``disconnect_workers`` at a time, so a storm of closes waits in its own
line and a new client's ``$connect`` never queues behind it.

A post to ``@connections`` never waits for the client to read: it puts the frame on the
socket and answers, and when the bytes the client has not taken reach
``Limits.outgoing_buffer_bytes`` it answers 429 ``LimitExceededException`` at once, as
API Gateway does; a connection whose buffer stays that full for
``Limits.unreadable_seconds`` is closed (its ``$disconnect`` runs). A TCP connection that
has not completed its upgrade request within ``Limits.upgrade_seconds`` is closed.
API Gateway's limits are enforced: frame and message size (close 1009, see
``localcloud.wsframes``), idle timeout and maximum connection duration (close 1001).

When the service behind it dies (``fail()``: the stack lost its moto server), the
gateway says so instead of going silent: ``/health`` answers 503 with the reason,
upgrades are refused with 503, every acknowledged message without a terminal frame
gets a ``service_unavailable`` error, so does every frame received from then on,
@connections answers 410 (nothing may follow those errors), no handler runs any
more, and the shutdown closes the sockets with 1011.
"""

import asyncio
import base64
import contextlib
import json
import time
from collections import deque
from concurrent.futures import Executor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Deque, Dict, Optional, Set, Tuple

from aiohttp import WSCloseCode, WSMsgType, web

from chalicelib import protocol
from localcloud import guard
from localcloud.events import ConnectionInfo, new_connection_id, websocket_event
from localcloud.lambdaservice import InvocationError, Invoker
from localcloud.wsframes import FrameLimitedResponse

__all__ = ["Limits", "Gateway", "in_flight_change", "route_failure_frame"]

WATCHDOG = web.AppKey("watchdog", asyncio.Task)


@dataclass(frozen=True)
class Limits:
    """API Gateway WebSocket quotas (AWS defaults; tests shrink them)."""

    frame_bytes: int = 32 * 1024
    message_bytes: int = 128 * 1024
    idle_seconds: float = 10 * 60
    max_connection_seconds: float = 2 * 3600
    # A TCP connection that has not completed its upgrade request by then is closed.
    upgrade_seconds: float = 10.0
    # Bytes waiting to reach a client past which @connections answers 429 LimitExceededException.
    outgoing_buffer_bytes: int = 256 * 1024
    # A connection whose outgoing buffer stays that full this long is closed (it does not read).
    unreadable_seconds: float = 30.0


# Frames of one connection read ahead of its handlers; past this the socket is not read.
BACKLOG_LIMIT = 256
# How long a post waits for its frame to drain before answering (it is on the socket by then).
POST_SETTLE_SECONDS = 0.05
# WebSocket close reasons are at most 123 bytes (RFC 6455 section 5.5: 125 minus the code).
MAX_CLOSE_REASON_BYTES = 123


@dataclass
class LiveConnection:
    info: ConnectionInfo
    ws: web.WebSocketResponse
    backlog: Deque[Tuple[str, bool]] = field(default_factory=deque)  # (body, is_base64)
    workers: int = 0
    room: asyncio.Event = field(default_factory=asyncio.Event)  # set when the backlog shrinks
    in_flight: Dict[str, None] = field(default_factory=dict)  # acked message ids without a terminal frame
    transport: Optional[asyncio.Transport] = None
    full_since: Optional[float] = None  # monotonic time the outgoing buffer was first seen full

    def buffered(self) -> int:
        """Bytes written to the client's socket that it has not taken yet (the outgoing buffer)."""
        transport = self.transport
        return 0 if transport is None or transport.is_closing() else transport.get_write_buffer_size()


def route_failure_frame(event: Dict[str, Any]) -> Dict[str, Any]:
    """What API Gateway sends a client when the Lambda behind a route failed or timed out."""
    context = event["requestContext"]
    return {"message": "Internal server error", "connectionId": context["connectionId"],
            "requestId": context["requestId"]}  # fmt: skip


def in_flight_change(text: str) -> Tuple[Optional[str], Optional[str]]:
    """``(acknowledged, ended)``: the message id a frame posted to @connections starts or ends.

    The chat protocol: an ``ack`` starts a message, a ``response`` or ``error`` with its
    ``message_id`` ends it (``protocol.TERMINAL_TYPES``); other frames change nothing.
    """
    if '"message_id"' not in text:
        return None, None
    try:
        frame = json.loads(text)
    except ValueError:
        return None, None
    message_id = frame.get("message_id") if isinstance(frame, dict) else None
    if not isinstance(message_id, str):
        return None, None
    if frame.get("type") == "ack":
        return message_id, None
    if frame.get("type") in protocol.TERMINAL_TYPES:
        return None, message_id
    return None, None


class Gateway:
    def __init__(
        self,
        host: Invoker,
        executor: Executor,
        stage: str,
        api_id: str,
        domain: str,
        limits: Limits = Limits(),
        static_dir: Optional[str] = None,
        health_info: Optional[Dict[str, Any]] = None,
        connection_workers: int = 4,
        disconnect_workers: int = 4,
    ):
        self.host = host
        self.executor = executor
        self.stage = stage
        self.api_id = api_id
        self.domain = domain
        self.limits = limits
        self.static_dir = static_dir
        self.health_info = dict(health_info or {})
        self.connection_workers = connection_workers
        # $disconnect runs at most this many at a time: a storm of closes waits here, in its own
        # line, not in the executor's queue where every $connect and message would wait behind it.
        self._disconnect_lane = asyncio.Semaphore(disconnect_workers)
        self.connections: Dict[str, LiveConnection] = {}
        self.failure: Optional[str] = None  # why the service is unavailable, once it is
        self.draining: Optional[str] = None  # why no new work is taken (the stack is stopping: drain())
        self._tasks: Set[asyncio.Task] = set()

    def make_app(self, local_token: Optional[str] = None) -> web.Application:
        """The aiohttp app; ``local_token`` opens the ``/_local/*`` routes the stack adds."""
        # aiohttp's keep-alive timer also runs from the moment a connection opens: a client that
        # never completes its (upgrade) request is closed after upgrade_seconds.
        app = web.Application(
            client_max_size=self.limits.message_bytes + 1024,
            handler_args={"keepalive_timeout": self.limits.upgrade_seconds},
        )
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
        if self._refusing:
            return self._unavailable()
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
        if self._refusing:
            return self._unavailable()
        if refused is not None:
            return refused
        ws = FrameLimitedResponse(
            frame_bytes=self.limits.frame_bytes,
            # aiohttp refuses a message of max_msg_size bytes or more; API Gateway takes 128 KB exactly.
            max_msg_size=self.limits.message_bytes + 1,
            autoping=True,
            # Frame sizes are the bytes on the wire: no permessage-deflate (API Gateway does not negotiate it).
            compress=False,
        )
        await ws.prepare(request)
        info.touch()
        live = LiveConnection(info, ws, transport=request.transport)
        self.connections[info.connection_id] = live
        try:
            await self._receive_loop(live)
        finally:
            self.connections.pop(info.connection_id, None)
            await self._run_disconnect(info, ws)
        return ws

    async def _run_connect(self, info: ConnectionInfo) -> Optional[web.Response]:
        try:
            result = await self._invoke("websocket_connect", websocket_event("$connect", info))
        except InvocationError:
            # The integration failed or timed out: API Gateway refuses the upgrade, as a bad gateway.
            return web.json_response({"message": "Internal server error"}, status=502)
        status = int(result.get("statusCode", 200)) if isinstance(result, dict) else 200
        if 200 <= status < 300:
            return None
        body = result.get("body") if isinstance(result, dict) else None
        return web.Response(status=status, text=body if isinstance(body, str) else "Forbidden")

    async def _receive_loop(self, live: LiveConnection) -> None:
        async for message in live.ws:
            if message.type == WSMsgType.TEXT:
                self._dispatch(live, message.data, False)
            elif message.type == WSMsgType.BINARY:
                self._dispatch(live, base64.b64encode(message.data).decode("ascii"), True)
            elif message.type == WSMsgType.ERROR:
                break
            while len(live.backlog) >= BACKLOG_LIMIT and not live.ws.closed:
                live.room.clear()
                await live.room.wait()

    def _dispatch(self, live: LiveConnection, body: str, is_base64: bool) -> None:
        live.info.touch()
        if self._refusing:
            self._spawn(self._send_quietly(live, self._unavailable_frame()))
            return
        live.backlog.append((body, is_base64))
        if live.workers < self.connection_workers:
            live.workers += 1
            self._spawn(self._drain(live))

    def _spawn(self, work) -> None:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _drain(self, live: LiveConnection) -> None:
        """One of the connection's workers: takes its frames in arrival order, one invocation at a time."""
        try:
            while live.backlog:
                body, is_base64 = live.backlog.popleft()
                live.room.set()
                if self._refusing:
                    await self._send_quietly(live, self._unavailable_frame())
                    continue
                event = websocket_event("$default", live.info, body=body, is_base64=is_base64)
                try:
                    await self._invoke("websocket_message", event)
                except InvocationError:
                    # API Gateway tells the client when a route's integration failed (or timed out).
                    await self._send_quietly(live, route_failure_frame(event))
        finally:
            live.workers -= 1

    async def _run_disconnect(self, info: ConnectionInfo, ws: web.WebSocketResponse) -> None:
        if self.failure is not None:
            return  # the handler could only fail against the dead service
        code = ws.close_code if ws.close_code is not None else 1006
        reason = _close_reason(ws)
        event = websocket_event("$disconnect", info, disconnect_code=code, disconnect_reason=reason)
        async with self._disconnect_lane:
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
        try:
            data = await request.read()
        except web.HTTPRequestEntityTooLarge:
            data = None
        if data is None or len(data) > self.limits.message_bytes:
            return _aws_error(413, "PayloadTooLargeException", "Message payload exceeds the 128 KB limit")
        if self.failure is not None:
            return _gone()  # every message in flight has had its error frame: nothing may follow
        try:
            text: Optional[str] = data.decode("utf-8")
        except UnicodeDecodeError:
            text = None
        if live.buffered() >= self.limits.outgoing_buffer_bytes:
            # As API Gateway: the client is not taking what it was sent; the sender is told at once.
            live.full_since = live.full_since or time.monotonic()
            return _aws_error(429, "LimitExceededException", "The connection's outgoing buffer is full")
        if text is not None:
            # Counted before the send, so that a failure meanwhile sees it.
            started, ended = in_flight_change(text)
            if started:
                live.in_flight[started] = None
            if ended:
                live.in_flight.pop(ended, None)
        if not await self._write(live, data if text is None else text):
            return _gone()
        live.info.touch()
        return web.Response(status=200)

    async def _write(self, live: LiveConnection, payload: Any) -> bool:
        """Put one frame on the socket without waiting for the client to read it (False: it closed).

        The send's write happens in its first step, which runs before this returns (the
        loop runs ready callbacks in order), so posts reach the socket in the order they
        were answered; only its wait for the socket to drain is left running."""
        send = live.ws.send_bytes(payload) if isinstance(payload, bytes) else live.ws.send_str(payload)
        task = asyncio.ensure_future(_quiet(send))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        await asyncio.wait({task}, timeout=POST_SETTLE_SECONDS)
        return not task.done() or task.result()

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

    # --- failure ---------------------------------------------------------

    async def fail(self, reason: str) -> None:
        """The service behind the gateway is gone (``reason`` says what died): from now on
        nothing runs, and every message in flight gets a ``service_unavailable`` error."""
        if self.failure is not None:
            return
        self.failure = reason
        for live in list(self.connections.values()):
            pending, live.in_flight = list(live.in_flight), {}
            waiting = len(live.backlog)  # frames no handler has taken yet are answered too
            live.backlog.clear()
            live.room.set()
            for message_id in pending:
                await self._send_quietly(live, self._unavailable_frame(message_id))
            for _ in range(waiting):
                await self._send_quietly(live, self._unavailable_frame())

    @property
    def _refusing(self) -> bool:
        return self.failure is not None or self.draining is not None

    async def drain(self, reason: str, timeout: float) -> None:
        """Take no new work (the stack is stopping): upgrades get 503 and every frame not yet
        handled a ``service_unavailable`` error; handlers already running finish, for at most
        ``timeout`` seconds. Posts to @connections go on (replies in flight still arrive)."""
        self.draining = reason
        running = set(self._tasks)
        if running:
            await asyncio.wait(running, timeout=timeout)

    def _failure_text(self) -> str:
        return f"service unavailable: {self.failure or self.draining}; the local stack is shutting down"

    def _unavailable_frame(self, message_id: Optional[str] = None) -> Dict[str, Any]:
        return protocol.error(protocol.SERVICE_UNAVAILABLE, self._failure_text(), message_id)

    def _unavailable(self) -> web.Response:
        return web.json_response({"message": self._failure_text()}, status=503)

    async def _send_quietly(self, live: LiveConnection, frame: Dict[str, Any]) -> None:
        with contextlib.suppress(ConnectionError, RuntimeError):
            await live.ws.send_str(protocol.encode(frame))

    # --- housekeeping ----------------------------------------------------

    async def health(self, request: web.Request) -> web.Response:
        body = {
            "status": "ok" if self.failure is None else "failed",
            "connections": len(self.connections),
            "websocket_path": f"/{self.stage}",
            **self.health_info,
        }
        if self.failure is not None:
            body["reason"] = self.failure
        return web.json_response(body, status=200 if self.failure is None else 503)

    async def index(self, request: web.Request) -> web.StreamResponse:
        return web.FileResponse(f"{self.static_dir}/index.html")

    async def _start_watchdog(self, app: web.Application) -> None:
        task = asyncio.ensure_future(self._watchdog())
        app[WATCHDOG] = task

    async def _watchdog(self) -> None:
        limits = self.limits
        interval = max(
            0.05, min(1.0, limits.idle_seconds / 4, limits.max_connection_seconds / 4, limits.unreadable_seconds / 4)
        )
        while True:
            await asyncio.sleep(interval)
            now_ms = time.time() * 1000
            for live in list(self.connections.values()):
                idle = (now_ms - live.info.last_active_ms) / 1000
                age = (now_ms - live.info.connected_at_ms) / 1000
                if self._unreadable(live):
                    # It does not read: a close frame would wait behind the full buffer too.
                    live.transport.abort()
                elif idle > self.limits.idle_seconds or age > self.limits.max_connection_seconds:
                    reason = b"Idle timeout" if idle > self.limits.idle_seconds else b"Maximum connection duration"
                    await live.ws.close(code=WSCloseCode.GOING_AWAY, message=reason)

    def _unreadable(self, live: LiveConnection) -> bool:
        """Whether the connection's outgoing buffer has stayed full for ``unreadable_seconds``."""
        if live.buffered() < self.limits.outgoing_buffer_bytes:
            live.full_since = None
            return False
        live.full_since = live.full_since or time.monotonic()
        return time.monotonic() - live.full_since > self.limits.unreadable_seconds

    # --- served by another app (the deployed mode's edge, localcloud.cloud) --

    async def open(self) -> None:
        """Start the idle/duration watchdog, as ``make_app``'s startup does."""
        self._watchdog_task = asyncio.ensure_future(self._watchdog())

    async def close(self) -> None:
        """Close every connection and wait for the handlers, as ``make_app``'s shutdown does."""
        task = getattr(self, "_watchdog_task", None)
        if task is not None:
            task.cancel()
        await self._close_connections()

    async def _close_all(self, app: web.Application) -> None:
        app[WATCHDOG].cancel()
        await self._close_connections()

    async def _close_connections(self) -> None:
        if self.failure is None:
            code, reason = WSCloseCode.GOING_AWAY, b"Server shutting down"
        else:
            code = WSCloseCode.INTERNAL_ERROR
            reason = f"Service unavailable: {self.failure}".encode()[:MAX_CLOSE_REASON_BYTES]
            reason = reason.decode(errors="ignore").encode()  # never a cut UTF-8 character
        for live in list(self.connections.values()):
            await live.ws.close(code=code, message=reason)
            live.room.set()  # a receive loop held by a full backlog sees the close
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)


async def _quiet(send) -> bool:
    """Await a send; False if the connection closed meanwhile."""
    try:
        await send
    except (ConnectionError, RuntimeError):
        return False
    return True


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
