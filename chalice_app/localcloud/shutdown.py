"""A clean stop of the local stack (Ctrl-C, SIGTERM): tell everyone, lose nothing.

In this order (``LocalStack.shutdown``):

1. take no new work: the gateway refuses new connections (503) and answers every frame it
   has not handled yet with a ``service_unavailable`` error (``Gateway.drain``); handlers
   already running finish, so every ack that went out is in a session's head;
2. read what is unfinished: every acked message a session's head still holds as queued,
   being answered or being stopped (``framelog``: the head's ``msgs``, which the write of
   a message's terminal frame removes; the head is the truth, whether or not a connection
   is attached);
3. give those a bounded grace (``--stop-grace``, default ``DEFAULT_GRACE_SECONDS``) to end
   on their own while the pollers still run;
4. stop the pollers and the execution environments (an answer cut here never posts), then
   end each message still unfinished with a ``service_unavailable`` terminal frame
   through its frame log (``Outbox.error``): attached clients get it, a resume replays it;
5. read the heads again: a message still there is lost, and counted as such.

``StopReport.line()`` is what the console prints. ``make cloud`` (``CloudRegion.shutdown``) does
the same for every deployed WebSocket API, reading the tables its chat_processor is configured
with, and posts the terminal frames straight to the gateways' sockets (``DirectPost``).
"""

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import Any, Callable, Dict, Iterable, Set, Tuple

from chalicelib import protocol
from chalicelib.framelog import QUEUED, RUNNING, STOPPING, FrameLog
from chalicelib.management import GONE, SENT, ManagementApi
from chalicelib.outbox import Outbox

__all__ = ["StopReport", "unfinished", "wait_settled", "tell_unavailable", "DEFAULT_GRACE_SECONDS", "STOP_MESSAGE"]

log = logging.getLogger("localcloud")

DEFAULT_GRACE_SECONDS = 5.0
POLL_SECONDS = 0.2
STOP_MESSAGE = "the local stack stopped before this message was answered; please send it again"
_UNFINISHED = {QUEUED, RUNNING, STOPPING}

Pending = Set[Tuple[str, str]]  # (session_id, message_id)


@dataclass(frozen=True)
class StopReport:
    unfinished: int  # acked messages without a terminal frame when the stop began
    answered: int  # ... that ended on their own within the grace
    told: int  # ... that got service_unavailable
    lost: int  # ... still without a terminal frame at the end

    def line(self) -> str:
        return (
            f"Stopped: {self.unfinished} acked message(s) unfinished at the stop: {self.answered} answered"
            f" in the grace, {self.told} told service_unavailable, {self.lost} lost."
        )


def unfinished(dynamodb: Any, sessions_table: str) -> Pending:
    """Every acked message a session head holds as not ended (a consistent scan of the heads)."""
    pending: Pending = set()
    kwargs = {"TableName": sessions_table, "ConsistentRead": True}
    while True:
        page = dynamodb.scan(**kwargs)
        for item in page.get("Items", []):
            key = item["session_id"]["S"]
            if not key.endswith("#log"):
                continue
            for message_id, state in item.get("msgs", {}).get("M", {}).items():
                if state.get("S") in _UNFINISHED:
                    pending.add((key[: -len("#log")], message_id))
        if "LastEvaluatedKey" not in page:
            return pending
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def wait_settled(read: Callable[[], Pending], pending: Pending, grace_seconds: float) -> Pending:
    """Those of ``pending`` still unfinished once they all ended or ``grace_seconds`` passed."""
    deadline = time.monotonic() + grace_seconds
    while True:
        left = pending & read()
        if not left or time.monotonic() >= deadline:
            return left
        time.sleep(POLL_SECONDS)


def tell_unavailable(api: ManagementApi, frames: FrameLog, pending: Pending) -> None:
    """End each message with a ``service_unavailable`` terminal frame, kept for a resume."""
    for session_id, message_id in sorted(pending):
        try:
            Outbox(api, frames, session_id, message_id).error(protocol.SERVICE_UNAVAILABLE, STOP_MESSAGE)
        except Exception as exc:  # counted as lost by the next read of the heads
            log.warning("could not tell %s service_unavailable: %s: %s", message_id, type(exc).__name__, exc)


class DirectPost:
    """What ``Outbox`` needs of a ManagementApi, posting straight to the gateways' sockets (run
    from a worker thread; the sockets belong to ``loop``)."""

    def __init__(self, gateways: Iterable[Any], loop: asyncio.AbstractEventLoop):
        self.gateways, self.loop = list(gateways), loop

    def deliver(self, connection_id: str, text: str) -> str:
        """``ManagementApi.deliver``'s answers: ``SENT``, or ``GONE`` (no open socket here)."""
        for gateway in self.gateways:
            live = gateway.connections.get(connection_id)
            if live is not None and not live.ws.closed:
                try:
                    asyncio.run_coroutine_threadsafe(live.ws.send_str(text), self.loop).result(5)
                except (ConnectionError, RuntimeError):
                    return GONE
                return SENT
        return GONE

    def try_post(self, connection_id: str, text: str) -> bool:
        return self.deliver(connection_id, text) == SENT


def read_all(readers: Dict[str, Callable[[], Pending]]) -> Pending:
    return set().union(*(read() for read in readers.values())) if readers else set()
