"""The local console page: what the running stack is doing, read from its logs and metrics.

``GET /console`` serves ``web/console/index.html`` (its script and style come from
``/static/console/``); the page polls ``GET /console/api/state``, which answers:

- ``connections``: the gateway's live WebSocket connections;
- ``queues``: the chat queue's and its DLQ's depth (``infra.queues.depth``);
- ``messages``: the last 50 messages' timelines (``infra.timeline``), newest first;
- ``invocations``: the last 100 invocations (the REPORT lines), newest first, and per function
  the count, errors and durations;
- ``metrics``: the embedded-metric-format values the functions printed, per metric name.

Everything comes from the same log files ``trace.py`` reads (``infra.logsource.LocalLogs``,
read incrementally) and from the stack itself; nothing is estimated. The guard
(``localcloud.guard``) gives both routes its default rules: a loopback Host and no
cross-site Origin.
"""

import asyncio
import os
import threading
import time
from collections import OrderedDict, deque
from typing import Any, Callable, Deque, Dict, List, Optional

from aiohttp import web

from infra import queues
from infra.logsource import LocalLogs
from infra.timeline import Entry, Invocation, Metric, build, invocations, metrics

__all__ = ["Console", "install", "PAGE_PATH", "STATE_PATH"]

PAGE_PATH = "/console"
STATE_PATH = "/console/api/state"
MESSAGES_SHOWN = 50
MESSAGES_KEPT = 500  # lines of older messages are forgotten
INVOCATIONS_SHOWN = 100


class Console:
    def __init__(
        self,
        log_dir: str,
        connections: Callable[[], Dict[str, Any]],
        queue_depths: Callable[[], List[queues.Depth]],
    ):
        self.logs = LocalLogs(log_dir)
        self.connections = connections
        self.queue_depths = queue_depths
        self._lock = threading.Lock()
        self._lines: OrderedDict[str, List[Entry]] = OrderedDict()  # by message id, oldest first
        self._invocations: Deque[Invocation] = deque(maxlen=INVOCATIONS_SHOWN)
        self._totals: Dict[str, Dict[str, float]] = {}
        self._metrics: Dict[str, Dict[str, Any]] = {}

    # --- reading the logs ----------------------------------------------------

    def refresh(self) -> None:
        """Reads the lines written since the last call."""
        with self._lock:
            entries = self.logs.read()
            for entry in entries:
                if entry.message_id:
                    self._lines.setdefault(entry.message_id, []).append(entry)
                    self._lines.move_to_end(entry.message_id)
            while len(self._lines) > MESSAGES_KEPT:
                self._lines.popitem(last=False)
            for invocation in invocations(entries):
                self._invocations.append(invocation)
                totals = self._totals.setdefault(
                    invocation.function, {"invocations": 0, "errors": 0, "total_ms": 0.0, "max_ms": 0.0}
                )
                totals["invocations"] += 1
                totals["errors"] += int(invocation.error)
                totals["total_ms"] += invocation.duration_ms
                totals["max_ms"] = max(totals["max_ms"], invocation.duration_ms)
            for metric in metrics(entries):
                self._add_metric(metric)

    def _add_metric(self, metric: Metric) -> None:
        summary = self._metrics.setdefault(
            metric.name, {"name": metric.name, "unit": metric.unit, "count": 0, "sum": 0.0, "last": None}
        )
        summary["count"] += 1
        summary["sum"] += metric.value
        summary["last"] = metric.value
        summary["function"] = metric.function

    # --- the state -----------------------------------------------------------

    def messages(self) -> List[Dict[str, Any]]:
        with self._lock:
            lines = [entry for entries in self._lines.values() for entry in entries]
        timelines = sorted(build(lines).values(), key=lambda timeline: timeline.start_ms, reverse=True)
        return [timeline.to_dict() for timeline in timelines[:MESSAGES_SHOWN]]

    def function_totals(self) -> Dict[str, Dict[str, Any]]:
        with self._lock:
            return {
                name: {
                    "invocations": int(t["invocations"]),
                    "errors": int(t["errors"]),
                    "average_ms": round(t["total_ms"] / t["invocations"], 2) if t["invocations"] else None,
                    "max_ms": t["max_ms"],
                }
                for name, t in sorted(self._totals.items())
            }

    def connection_rows(self) -> List[Dict[str, Any]]:
        rows = []
        for live in list(self.connections().values()):
            info = live.info
            rows.append(
                {
                    "connection_id": info.connection_id,
                    "connected_at_ms": info.connected_at_ms,
                    "last_active_ms": info.last_active_ms,
                    "source_ip": info.source_ip,
                    "user_agent": info.user_agent,
                    "in_flight": len(live.in_flight),
                }
            )
        return sorted(rows, key=lambda row: row["connected_at_ms"])

    def queue_rows(self) -> Dict[str, Any]:
        try:
            return {"depths": [depth.to_dict() for depth in self.queue_depths()], "error": None}
        except Exception as exc:  # the emulator may be gone; the page says so
            return {"depths": [], "error": repr(exc)}

    def state(self) -> Dict[str, Any]:
        self.refresh()
        with self._lock:
            recent = [invocation.to_dict() for invocation in reversed(self._invocations)]
            metric_rows = [dict(summary) for summary in self._metrics.values()]
        return {
            "now_ms": int(time.time() * 1000),
            "connections": self.connection_rows(),
            "queues": self.queue_rows(),
            "messages": self.messages(),
            "invocations": recent,
            "functions": self.function_totals(),
            "metrics": metric_rows,
        }


def install(app: web.Application, gateway: Any, log_dir: str, make_sqs: Callable[[], Any]) -> Optional[Console]:
    """Adds ``/console`` and ``/console/api/state`` to the stack's app (when it serves the web
    pages: the page's files are ``web/console/``)."""
    if not gateway.static_dir:
        return None
    sqs_client: Dict[str, Any] = {}

    def queue_depths() -> List[queues.Depth]:
        from chalicelib.config import settings

        sqs = sqs_client.setdefault("sqs", make_sqs())
        return [queues.depth(sqs, url) for url in queues.queue_urls(sqs, settings().queue_name).values()]

    console = Console(log_dir, lambda: gateway.connections, queue_depths)
    page = os.path.join(gateway.static_dir, "console", "index.html")

    async def serve_page(request: web.Request) -> web.StreamResponse:
        return web.FileResponse(page, headers={"Cache-Control": "no-store"})

    async def serve_state(request: web.Request) -> web.Response:
        state = await asyncio.to_thread(console.state)
        return web.json_response(state, headers={"Cache-Control": "no-store"})

    app.router.add_get(PAGE_PATH, serve_page)
    app.router.add_get(STATE_PATH, serve_state)
    return console
