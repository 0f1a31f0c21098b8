"""CloudWatch metrics in the embedded metric format (EMF): log lines, no API calls.

Each metric is added to the set of the current invocation (per thread, so the local
runtime's concurrent functions keep theirs apart) and written as one EMF JSON line
on stdout by ``flush``: at the end of every invocation (``observed``) and of every
SQS record, with the correlation ids (``message_id``, ``connection_id``, ``session_id``,
``attempt``, where known) as properties of the line. CloudWatch
Logs turns the line into metrics in namespace ``ShoppingAssistant`` with the
dimensions ``stage`` (the Chalice stage) and ``backend`` (ASSISTANT_BACKEND), and
nothing else, so the number of metric series stays small.

Metric names (all snake_case, like the log events):

- websocket_message: ``queued``, ``rate_limited``, ``invalid_json``,
  ``unknown_action``, ``invalid_message``, ``enqueue_failed`` (Count);
- chat_processor, per message: ``queue_wait`` (ack to pickup), ``time_to_first_chunk``
  and ``time_to_response`` (from the ack), ``processing_time`` (pickup to response)
  in Milliseconds; ``chunk_deltas`` (from the assistant), ``chunk_posts``, ``posts``
  (every post_to_connection of the reply: status, heartbeats, chunks, response),
  ``apigw_messages`` (the same in billed 32 KB units) in Count, ``bytes_posted`` in
  Bytes; ``answered``, ``drop_<reason>`` (``drop_connection_gone``, ``drop_expired``,
  ``drop_bad_envelope``), ``processing_failed``, ``retries`` (a record received again),
  ``dlq_arrivals`` (a record failing on its last attempt, which SQS then moves to
  the DLQ) in Count.
"""

import functools
import json
import logging
import math
import re
import threading
from typing import Any, Callable, Optional

from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit

from chalicelib import logs
from chalicelib.config import settings
from chalicelib.management import ManagementApi

__all__ = [
    "NAMESPACE",
    "EMF_LOGGER",
    "APIGW_MESSAGE_BYTES",
    "MetricUnit",
    "billed_messages",
    "stage_of",
    "metric_name",
    "count",
    "add",
    "flush",
    "reset",
    "observed",
    "CountingApi",
]

NAMESPACE = "ShoppingAssistant"
EMF_LOGGER = "chalicelib.emf"
APIGW_MESSAGE_BYTES = 32 * 1024

# The EMF lines go to stdout as they are (CloudWatch only reads a line that is the JSON
# object itself), through a logger of their own so the local runtime can route them.
_emf_log = logging.getLogger(EMF_LOGGER)
_emf_log.setLevel(logging.INFO)
_emf_log.propagate = False
_emf_log.addHandler(logs.StdoutHandler())

_local = threading.local()


def billed_messages(size_bytes: int) -> int:
    """API Gateway WebSocket APIs meter messages in 32 KB increments, at least one per message."""
    return max(1, math.ceil(size_bytes / APIGW_MESSAGE_BYTES))


def stage_of(function_name: Optional[str], app_name: str = logs.SERVICE) -> str:
    """The Chalice stage in a deployed function's name: ``{app_name}-{stage}-{function}``.

    Chalice names functions that way; the function part never contains ``-``
    (websocket_message, chat_processor), a stage may (chalice-test).
    """
    prefix = app_name + "-"
    if not function_name or not function_name.startswith(prefix) or "-" not in function_name[len(prefix) :]:
        return "local"
    return function_name[len(prefix) : function_name.rindex("-")]


def metric_name(text: str) -> str:
    """``connection gone`` -> ``connection_gone``: a reason as part of a metric name."""
    return re.sub(r"[^a-z0-9]+", "_", text.lower().split(":")[0]).strip("_")


def _current() -> EphemeralMetrics:
    current = getattr(_local, "metrics", None)
    if current is None:
        # service="": no "service" dimension (POWERTOOLS_SERVICE_NAME would add one).
        current = EphemeralMetrics(namespace=NAMESPACE, service="")
        _local.metrics = current
    return current


def add(name: str, unit: MetricUnit, value: float) -> None:
    _current().add_metric(name=name, unit=unit, value=value)


def count(name: str, value: int = 1) -> None:
    add(name, MetricUnit.Count, value)


def reset() -> None:
    """Forget the metrics added on this thread and not yet flushed."""
    _local.metrics = None


def flush(**properties: Any) -> None:
    """Write the metrics added so far as one EMF line (nothing if there are none)."""
    current = getattr(_local, "metrics", None)
    _local.metrics = None
    if current is None or not current.metric_set:
        return
    current.add_dimension(name="stage", value=getattr(_local, "stage", None) or "local")
    current.add_dimension(name="backend", value=settings().assistant_backend)
    for key, value in properties.items():
        if value is not None:
            current.add_metadata(key=key, value=value)
    _emf_log.info(json.dumps(current.serialize_metric_set(), separators=(",", ":")))


def observed(handler: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """Decorates a Chalice handler: Lambda context and cold start on its log lines, metrics flushed at the end."""

    @functools.wraps(handler)
    def wrapper(event: Any) -> Any:
        context = getattr(event, "context", None)
        logs.start_invocation(context)
        reset()
        _local.stage = stage_of(getattr(context, "function_name", None))
        try:
            return handler(event)
        finally:
            flush(**logs.correlation())

    return wrapper


class CountingApi(ManagementApi):
    """The same @connections API, counting what one reply posts (the heartbeat thread posts too)."""

    def __init__(self, api: ManagementApi):
        # Wraps the given API (whatever its class) rather than building another: try_post is
        # ManagementApi's own, over the counted post below.
        self.endpoint = api.endpoint
        self._api = api
        self._lock = threading.Lock()
        self.posts = 0
        self.bytes = 0
        self.messages = 0

    def post(self, connection_id: str, text: str) -> None:
        self._api.post(connection_id, text)
        size = len(text.encode("utf-8"))
        with self._lock:
            self.posts += 1
            self.bytes += size
            self.messages += billed_messages(size)

    def is_connected(self, connection_id: str) -> bool:
        return self._api.is_connected(connection_id)

    def record(self) -> None:
        """Add this reply's counts to the current metrics."""
        with self._lock:
            count("posts", self.posts)
            count("apigw_messages", self.messages)
            add("bytes_posted", MetricUnit.Bytes, self.bytes)
