#!/usr/bin/env python
"""Chat with the shopping assistant from a terminal.

    python chalice_app/scripts/chat.py [ws://127.0.0.1:8000/api]
    echo "running shoes under 100" | python chalice_app/scripts/chat.py

Type a message and press Enter. ``/stop`` stops the reply in progress (what was written of it
stays, marked ``[stopped]``), ``/new`` starts a new conversation, ``/ping`` measures the round trip, ``/quit`` leaves at
once; at the end of input (Ctrl-D, or piped lines) it first waits for the replies still
on their way (``--reply-timeout``; exit 1 if one does not come). The session id is kept
for the whole conversation. When the connection drops it reconnects and resumes the session
after the last cursor seen, so an interrupted reply is finished and nothing is printed twice
(the notes about it go to stderr, each on a line of its own: a reply's text on stdout stays whole);
if the server no longer knows the session, it says so and starts a new one.
"""

import argparse
import asyncio
import itertools
import json
import os
import random
import sys
import time
import uuid
from typing import Any, Dict, List, Optional, Tuple

import websockets

__all__ = ["EXPIRED_NOTE", "STOP_UNSUPPORTED_NOTE", "Session", "Client", "parse_args", "render", "note", "chat", "main"]

DEFAULT_URI = os.environ.get("WEBSOCKET_TEST_URI", "ws://127.0.0.1:8000/api")
TERMINAL = ("response", "error")  # the frames that end one message (docs/protocol.md)
EXPIRED_NOTE = "Your earlier conversation has expired; starting a new one"
STOP_UNSUPPORTED_NOTE = "This server cannot stop a reply"
HISTORY_NOTE = "Earlier messages are no longer shown. Your cart is kept."
RETRY_CODES = ("rate_limited", "busy")  # refused for now: the same frame goes again later
MAX_SEND_TRIES = 5  # a message refused this many times is given back (not sent)
RETRY_CAP_MS = 10_000  # the longest wait before trying again (the rate-limit window)
NOTHING_TO_STOP = "nothing to stop: no reply in progress"
RESUME_WAIT_SECONDS = 10  # a resume with no answer by then stops holding messages back
GAP_WAIT_SECONDS = 1.5  # outside a replay, how long a frame after a gap waits for the gap
MAX_BACKOFF_SECONDS = 10


def _cursor(frame: Dict[str, Any]) -> Optional[int]:
    cursor = frame.get("cursor")
    return cursor if isinstance(cursor, int) and not isinstance(cursor, bool) and cursor > 0 else None


class Session:
    """The session id, the last cursor seen and the messages in flight: the same rules as the chat
    page's ``web/session.js`` (the wire protocol: docs/protocol.md).

    ``opened``/``flush``/``stop`` say what to send, ``receive`` what to print: frames with a cursor at
    or below the last seen are repeats and are dropped; a frame that skips ahead waits for the gap:
    during a replay, until ``resumed`` (the replay brought every frame up to its cursor); otherwise,
    and above ``resumed.cursor`` (those come live), for GAP_WAIT_SECONDS (the gateway acking a
    message while chat_processor streams the previous one can post out of cursor order), then
    ``gap_timed_out`` prints what is held, in order. ``skipped`` moves the cursor and prints nothing.
    ``stop`` is for the oldest acked message not ended (the server runs a session's turns in acked
    order); ``not_running`` prints nothing and forgets it. ``invalid_session`` forgets the session and
    sends its unanswered messages again on a new one. Frames without a cursor (an older server) pass
    as they come. ``rate_limited``/``busy`` naming no message refuse a frame for now: after ``receive``,
    ``retry`` says after how long it goes again (``retry_due``): a resume always, a message up to
    MAX_SEND_TRIES times, then it is in ``failed`` (as is a message refused for good). ``reset``
    starts a new conversation and ignores the old session's frames.
    """

    def __init__(self) -> None:
        self.session_id: Optional[str] = None
        self.cursor = 0
        self.resuming = False
        self.can_resume = True
        self.held: List[Dict[str, Any]] = []
        self.outbox: List[Dict[str, Any]] = []  # sendMessage frames without session_id, not sent yet
        self.unacked: List[Tuple[Dict[str, Any], Optional[str]]] = []  # (frame, session it went with)
        self.awaiting_session = False  # a message went out without a session: the rest wait for its ack
        self.answering: List[str] = []  # message ids acked in this session, not ended, in acked order
        self.stopping: List[str] = []  # message ids a stop was sent for, not ended yet
        self.limited: List[Tuple[str, Any]] = []  # ("message", frame) | ("stop", message_id) to go again
        self.tries: Dict[str, int] = {}  # client_message_id -> times refused for now
        self.resume_tries = 0
        self.resume_limited = False
        self.replay_from: Optional[int] = None
        self.forgotten: List[str] = []  # sessions left by reset: their frames are ignored
        self.retry: Optional[Dict[str, Any]] = None  # set by receive: a refused frame goes again later
        self.failed: List[Dict[str, Any]] = []  # set by receive: messages given back (not sent)

    # --- the connection ---

    def opened(self) -> List[Dict[str, Any]]:
        self.held, self.resuming, self.awaiting_session = [], False, False
        self.outbox = [frame for kind, frame in self.limited if kind == "message"] + self.outbox
        self.limited, self.resume_limited, self.resume_tries = [], False, 0
        if self.session_id and self.can_resume:
            self.resuming = True
            self.replay_from = self.cursor
            return [{"action": "resume", "session_id": self.session_id, "after": self.cursor}]
        if not self.session_id:
            self._requeue(lambda sent_with: True)  # nothing to resume from: send again
        return []

    def resume_timed_out(self) -> List[Dict[str, Any]]:
        return self._end_replay(self.cursor) if self.resuming else []

    def gap_timed_out(self) -> List[Dict[str, Any]]:
        """A frame waited GAP_WAIT_SECONDS for a gap (outside a replay): what is held, in order."""
        return [] if self.resuming else self._drain(upto=sys.maxsize)

    # --- messages going out ---

    def queue(self, frame: Dict[str, Any]) -> None:
        self.outbox.append(frame)

    def flush(self) -> List[Dict[str, Any]]:
        """The message that may go out now: one at a time, the next once the previous is acked
        (the server may ack two frames of a connection in either order and runs a session's
        turns in acked order, so this keeps them in the order they were typed)."""
        waiting = any(kind == "message" for kind, _ in self.limited)  # a refused one goes first
        if self.resuming or not self.outbox or self.unacked or waiting:
            return []
        first = self.outbox.pop(0)
        self.unacked.append((first, self.session_id))
        self.awaiting_session = not self.session_id
        return [{**first, "session_id": self.session_id} if self.session_id else first]

    def _requeue(self, which) -> None:
        again = [frame for frame, sent_with in self.unacked if which(sent_with)]
        self.unacked = [(frame, sent_with) for frame, sent_with in self.unacked if not which(sent_with)]
        self.outbox = again + self.outbox

    def stop(self, message_id: Optional[str] = None) -> List[Dict[str, Any]]:
        """The ``stop`` frame for ``message_id``, else for the reply in progress (the oldest acked
        message not ended: the one being answered, or next); none without a session or a message."""
        target = message_id or (self.answering[0] if self.answering else None)
        if not self.session_id or not target:
            return []
        self.stopping.append(target)
        return [{"action": "stop", "session_id": self.session_id, "message_id": target}]

    def retry_due(self) -> List[Dict[str, Any]]:
        """A refused frame's wait is over: messages back to the front of the outbox, stops and the
        resume sent again."""
        messages = [frame for kind, frame in self.limited if kind == "message"]
        send = [
            {"action": "stop", "session_id": self.session_id, "message_id": mid}
            for kind, mid in self.limited
            if kind == "stop" and self.session_id
        ]
        self.limited, self.outbox = [], messages + self.outbox
        if self.resume_limited and self.resuming and self.session_id:
            send.insert(0, {"action": "resume", "session_id": self.session_id, "after": self.cursor})
            self.resume_limited = False
        return send

    def reset(self) -> List[Dict[str, Any]]:
        """A new conversation: stop the old one's replies in progress, ignore its frames from now on."""
        old, answering, can_resume = self.session_id, self.answering, self.can_resume
        forgotten = self.forgotten + ([old] if old else [])
        self.__init__()
        self.can_resume, self.forgotten = can_resume, forgotten
        return [{"action": "stop", "session_id": old, "message_id": mid} for mid in answering] if old else []

    @staticmethod
    def _retry_delay(frame: Dict[str, Any], tries: int) -> int:
        after_ms, after_s = frame.get("retry_after_ms"), frame.get("retry_after_seconds")
        if isinstance(after_ms, int) and not isinstance(after_ms, bool) and after_ms > 0:
            return after_ms
        if isinstance(after_s, (int, float)) and not isinstance(after_s, bool) and after_s > 0:
            return round(after_s * 1000)
        return min(RETRY_CAP_MS, 1000 * 2 ** (tries - 1))

    def _refused_for_now(self, frame: Dict[str, Any]) -> List[Dict[str, Any]]:
        """The frame a ``rate_limited``/``busy`` refused goes again later (``retry``); what to print."""
        if self.resuming:
            self.resume_tries += 1
            self.resume_limited = True
            self.retry = {"kind": "resume", "after_ms": self._retry_delay(frame, self.resume_tries)}
            return []
        if self.unacked:
            sent, _ = self.unacked.pop(0)
            self.awaiting_session = False
            cmid = sent.get("client_message_id")
            tries = self.tries.get(cmid, 0) + 1
            if tries >= MAX_SEND_TRIES:
                self.tries.pop(cmid, None)
                self.failed.append(sent)
                return [frame]
            self.tries[cmid] = tries
            self.limited.append(("message", sent))
            self.retry = {"kind": "message", "after_ms": self._retry_delay(frame, tries), "client_message_id": cmid}
            return []
        if self.stopping:
            self.limited.append(("stop", self.stopping[0]))
            self.retry = {"kind": "stop", "after_ms": self._retry_delay(frame, 1)}
            return []
        return [frame]

    # --- frames coming in ---

    def receive(self, frame: Dict[str, Any]) -> Tuple[List[Dict[str, Any]], Optional[str]]:
        """The frames to print now (in order) and a note, for one frame received (and ``retry`` and
        ``failed`` set for it)."""
        self.retry, self.failed = None, []
        kind = frame.get("type")
        if frame.get("session_id") and frame.get("session_id") in self.forgotten:
            return [], None
        if kind == "resumed":
            if not self.resuming or frame.get("session_id") != self.session_id:
                return [], None
            last = _cursor(frame) or self.cursor
            trimmed = self.replay_from == 0 and self.cursor == 0 and last > 0
            return self._end_replay(last), HISTORY_NOTE if trimmed else None
        if kind == "error" and not frame.get("message_id"):
            answer = self._control_error(frame)
            if answer is not None:
                return answer
        cursor = _cursor(frame)
        session_id = frame.get("session_id")
        if kind == "skipped" and (cursor is None or session_id != self.session_id):
            return [], None  # it fills a gap of a session, never names one
        if cursor is None:
            self._account(frame)
            return [frame], None
        if session_id and session_id != self.session_id:
            cmid = frame.get("client_message_id")
            ours = kind == "ack" and any(sent.get("client_message_id") == cmid for sent, _ in self.unacked)
            if not ours and self.session_id:
                return [frame], None  # another session's frame
            self.session_id, self.cursor, self.held = session_id, cursor - 1, []
            self.answering, self.stopping = [], []
        if cursor <= self.cursor:
            return [], None  # a repeat
        if cursor > self.cursor + 1:
            self.held.append(frame)
            return [], None
        return [*self._take(frame), *self._drain()], None

    def _control_error(self, frame: Dict[str, Any]) -> Optional[Tuple[List[Dict[str, Any]], Optional[str]]]:
        """An error naming no message that is about the session, a resume, a stop or a refusal for
        now; None for any other (printed, and it refuses the message sent)."""
        code = frame.get("code")
        if code == "invalid_session":
            return [], self._expired()
        if code == "unknown_action" and self.resuming:
            self.resuming, self.can_resume = False, False  # a server without resume
            shown, self.held = self.held, []
            return shown, None
        if code == "unknown_action" and self.stopping:
            self.stopping.pop(0)  # a server without stop (a sendMessage never gets unknown_action)
            return [], STOP_UNSUPPORTED_NOTE
        if code == "not_running":
            # A stop found its message ended (its terminal frame never came here): forget it, quietly.
            gone = self.stopping.pop(0) if self.stopping else None
            self.answering = [mid for mid in self.answering if mid != gone]
            return [], None
        if code in RETRY_CODES:
            return self._refused_for_now(frame), None
        return None

    def _take(self, frame: Dict[str, Any]) -> List[Dict[str, Any]]:
        """The frame at the next cursor: the cursor moves on; it is printed unless it is a ``skipped``."""
        self.cursor = frame["cursor"]
        self._account(frame)
        return [] if frame.get("type") == "skipped" else [frame]

    def _drain(self, upto: int = 0) -> List[Dict[str, Any]]:
        """The held frames that now follow on, and those up to ``upto`` across their gaps (given up
        on), in cursor order."""
        shown, rest = [], []
        for frame in sorted(self.held, key=lambda f: f["cursor"]):
            if frame["cursor"] <= self.cursor:
                continue
            if frame["cursor"] == self.cursor + 1 or frame["cursor"] <= upto:
                shown += self._take(frame)
            else:
                rest.append(frame)
        self.held = rest
        return shown

    def _end_replay(self, last: int) -> List[Dict[str, Any]]:
        """What is held up to ``last`` follows (the frames in its gaps are no longer kept); a frame
        above it came live, so one after a gap waits for it (GAP_WAIT_SECONDS)."""
        self.resuming, self.resume_limited, self.resume_tries, self.replay_from = False, False, 0, None
        shown = self._drain(upto=last)
        self.cursor = max(self.cursor, last)
        shown += self._drain()
        current = self.session_id
        self._requeue(lambda sent_with: sent_with == current)  # never acknowledged: send again
        return shown

    def _expired(self) -> Optional[str]:
        if not self.session_id and not self.resuming:
            return None  # already started again
        self.session_id, self.cursor, self.resuming, self.held, self.awaiting_session = None, 0, False, [], False
        self.answering, self.stopping = [], []  # the forgotten session's messages
        self._requeue(lambda sent_with: sent_with is not None)
        return EXPIRED_NOTE

    def _account(self, frame: Dict[str, Any]) -> None:
        """An ack settles a message, names the session and starts its answer; a terminal frame ends
        it; an error naming no message refused one, and so did an ``internal_error`` outside the
        session (no cursor: the handler failed before the ack)."""
        message_id = frame.get("message_id")
        if frame.get("type") == "ack":
            cmid = frame.get("client_message_id")
            self.unacked = [(sent, with_) for sent, with_ in self.unacked if sent.get("client_message_id") != cmid]
            self.tries.pop(cmid, None)
            self.session_id = frame.get("session_id") or self.session_id
            self.awaiting_session = False
            if isinstance(message_id, str) and message_id and message_id not in self.answering:
                self.answering.append(message_id)
            return
        if frame.get("type") in TERMINAL and message_id:
            self.answering = [mid for mid in self.answering if mid != message_id]
            self.stopping = [mid for mid in self.stopping if mid != message_id]
        if (
            frame.get("type") == "error"
            and self.unacked
            and (not frame.get("message_id") or (frame.get("code") == "internal_error" and _cursor(frame) is None))
        ):
            sent, _ = self.unacked.pop(0)  # refused for good (the frame is printed): given back
            self.tries.pop(sent.get("client_message_id"), None)
            self.failed.append(sent)
            self.awaiting_session = False


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("uri", nargs="?", default=DEFAULT_URI, help=f"WebSocket URL (default {DEFAULT_URI})")
    parser.add_argument(
        "--reply-timeout", type=float, default=120, help="seconds to wait for pending replies at end of input"
    )
    return parser.parse_args(argv)


def _render_ack(frame: dict, state: dict) -> None:
    if not state.get("streaming"):  # the next message's ack while a reply's text is coming: not in it
        print("  (queued)", flush=True)


def _render_status(frame: dict, state: dict) -> None:
    if state.get("streaming"):
        return  # the text is coming: no "working" line in the middle of it
    if frame.get("status") == "retrying":
        reason = frame.get("reason") or "trying again"
        print(f"  (retrying, attempt {frame.get('attempt', '?')}: {reason})", flush=True)
        return
    print(f"  (working... {frame.get('elapsed_ms', 0) / 1000:.0f} s)", flush=True)


def _render_chunk(frame: dict, state: dict) -> None:
    if not state.get("streaming"):
        print("assistant> ", end="")
        state["streaming"] = True
    print(frame.get("delta", ""), end="", flush=True)
    state["open_line"] = True


def _render_response(frame: dict, state: dict) -> None:
    state.pop("open_line", None)
    stopped = "[stopped]" if frame.get("stopped") else ""  # after the text streamed until /stop
    content = frame.get("content") or ""
    if state.pop("streaming", False):
        print(f" {stopped}" if stopped else "", flush=True)
        flush_notes(state)
    else:
        print(f"assistant> {content}{' ' if content and stopped else ''}{stopped}")
    for product in frame.get("products") or []:
        if product.get("name") and product["name"] not in content:  # the reply lists it already
            print(f"  \u2022 {product_line(product)}")


def _render_pong(frame: dict, state: dict) -> None:
    sent = state.pop("ping_sent", None)
    rtt = f" in {(time.perf_counter() - sent) * 1000:.1f} ms" if sent else ""
    print(f"  pong{rtt}")


def _render_error(frame: dict, state: dict) -> None:
    state.pop("streaming", None)
    state.pop("open_line", None)
    print(f"\n  error [{frame.get('code')}]: {frame.get('message')}", flush=True)
    flush_notes(state)


RENDERERS = {
    "ack": _render_ack,
    "status": _render_status,
    "chunk": _render_chunk,
    "response": _render_response,
    "pong": _render_pong,
    "error": _render_error,
    "skipped": lambda frame, state: None,  # a cursor whose frame never came in time: nothing to show
}


def render(frame: dict, state: dict) -> None:
    """Print one frame. ``state``: ``streaming`` while a reply's text is coming, ``open_line`` while
    the line it is on has no end yet (a note must not land in it)."""
    RENDERERS.get(frame.get("type"), lambda frame, state: print(f"  {frame}"))(frame, state)


def product_line(product: Dict[str, Any]) -> str:
    """ "Name (Brand) — $74.99 · ★ 4.5 (1,203 reviews)", as the assistant's replies and the page write it."""
    line = f"{product.get('name')} ({product.get('brand')})"
    price, rating, reviews = product.get("price"), product.get("rating"), product.get("review_count")
    if isinstance(price, (int, float)):
        line += f" \u2014 ${price:,.2f}"
    if isinstance(rating, (int, float)):
        line += f" \u00b7 \u2605 {rating:.1f} ({reviews or 0:,} reviews)"
    return line


def note(text: str, state: dict, now: bool = False) -> None:
    """A note about the connection, on stderr and on a line of its own. While a reply's text is
    coming it waits for the reply's end (``flush_notes``), so it never lands inside the text on a
    terminal either; ``now`` prints it at once (the client gives up), ending the reply's line first."""
    if state.get("streaming") and not now:
        state.setdefault("deferred", []).append(text)
        return
    lead = "\n" if state.pop("open_line", False) else ""
    print(f"{lead}  ({text})", file=sys.stderr, flush=True)


def flush_notes(state: dict) -> None:
    """The notes held back while a reply's text was coming, now that its line has ended."""
    for text in state.pop("deferred", []):
        print(f"  ({text})", file=sys.stderr, flush=True)


class Client:
    """One conversation over a WebSocket that is reopened (and the session resumed) when it drops."""

    def __init__(self, uri: str) -> None:
        self.uri = uri
        self.ws = None
        self.session = Session()
        self.state: dict = {"pending": 0}
        self.settled = asyncio.Event()
        self.closing = False
        self.resume_timer: Optional[asyncio.TimerHandle] = None
        self.gap_timer: Optional[asyncio.TimerHandle] = None
        self.retry_timer: Optional[asyncio.TimerHandle] = None

    async def connect(self) -> None:
        self.ws = await websockets.connect(self.uri, open_timeout=10)
        await self._send_all(self.session.opened())
        if self.session.resuming:
            self.resume_timer = asyncio.get_running_loop().call_later(
                RESUME_WAIT_SECONDS, lambda: asyncio.ensure_future(self._apply(self.session.resume_timed_out(), None))
            )
        await self._send_all(self.session.flush())

    async def _send_all(self, frames: List[Dict[str, Any]]) -> None:
        for frame in frames:
            try:
                await self.ws.send(json.dumps(frame))
            except websockets.ConnectionClosed:
                return  # the receiver reconnects; unacknowledged messages go out again then

    async def send_message(self, text: str) -> None:
        self.state["pending"] += 1
        self.settled.clear()
        self.session.queue({"action": "sendMessage", "message": text, "client_message_id": uuid.uuid4().hex})
        await self._send_all(self.session.flush())

    async def stop(self) -> None:
        """``/stop``: stop the reply in progress; what was written of it stays, marked ``[stopped]``."""
        frames = self.session.stop()
        if not frames:
            print(f"  ({NOTHING_TO_STOP})", flush=True)
        await self._send_all(frames)

    async def ping(self) -> None:
        self.state["ping_sent"] = time.perf_counter()
        await self._send_all([{"action": "ping"}])

    async def _apply(self, shown: List[Dict[str, Any]], note: Optional[str]) -> None:
        if not self.session.resuming and self.resume_timer:
            self.resume_timer.cancel()
        self._watch_gap()
        if note:
            self.state.pop("open_line", None)
            if self.state.pop("streaming", False):
                print()
            print(f"  ({note})", flush=True)
        for frame in shown:
            render(frame, self.state)
            if frame.get("type") in TERMINAL:
                self.state["pending"] = max(0, self.state["pending"] - 1)
                if not self.state["pending"]:
                    self.settled.set()
        await self._send_all(self.session.flush())

    def _refused(self) -> None:
        """After a frame: a refused frame goes again after its wait (jittered); a message given back
        says so."""
        retry = self.session.retry
        if retry:
            if retry["kind"] == "resume" and self.resume_timer:
                self.resume_timer.cancel()  # the resume goes again: no giving up on it meanwhile
            delay = retry["after_ms"] / 1000 * (1 + random.random() / 4)
            what = {"message": "message", "resume": "resume", "stop": "stop"}[retry["kind"]]
            note(f"the server is busy: the {what} goes again in {delay:.0f} s", self.state)
            if self.retry_timer:
                self.retry_timer.cancel()
            self.retry_timer = asyncio.get_running_loop().call_later(
                delay, lambda: asyncio.ensure_future(self._retry_due())
            )
        for sent in self.session.failed:
            note(f"not sent: \u201c{sent.get('message')}\u201d; type it again to resend", self.state)

    async def _retry_due(self) -> None:
        self.retry_timer = None
        await self._send_all(self.session.retry_due())
        await self._send_all(self.session.flush())

    async def new_conversation(self) -> None:
        """``/new``: a new conversation (the server issues the session with the next message)."""
        await self._send_all(self.session.reset())
        print("  (new conversation: the next message starts it)", flush=True)

    def _watch_gap(self) -> None:
        """Outside a replay, frames held after a gap are printed GAP_WAIT_SECONDS later at most."""
        if self.session.resuming or not self.session.held:
            if self.gap_timer:
                self.gap_timer.cancel()
            self.gap_timer = None
        elif self.gap_timer is None:
            self.gap_timer = asyncio.get_running_loop().call_later(GAP_WAIT_SECONDS, self._gap_timed_out)

    def _gap_timed_out(self) -> None:
        self.gap_timer = None
        asyncio.ensure_future(self._apply(self.session.gap_timed_out(), None))

    async def run(self) -> None:
        """Receive until closed by us; reconnect with backoff whenever the connection drops."""
        while True:
            try:
                async for raw in self.ws:
                    try:
                        frame = json.loads(raw)
                    except ValueError:
                        note(f"not JSON: {raw!r}", self.state)
                        continue
                    if isinstance(frame, dict):
                        await self._apply(*self.session.receive(frame))
                        self._refused()
            except websockets.ConnectionClosed:
                pass
            if self.closing or not await self._reconnect():
                return

    async def _reconnect(self) -> bool:
        note("connection lost; reconnecting...", self.state)
        for attempt in itertools.count():
            await asyncio.sleep(min(MAX_BACKOFF_SECONDS, 0.5 * 2**attempt))
            if self.closing:
                return False
            try:
                await self.connect()
            except websockets.InvalidStatus as exc:  # refused (e.g. 403): trying again will not help
                note(f"cannot reconnect: {exc}", self.state, now=True)
                return False
            except (OSError, websockets.WebSocketException):
                continue
            resumed = f", resuming after cursor {self.session.cursor}" if self.session.resuming else ""
            note(f"reconnected{resumed}", self.state)
            return True
        return False  # itertools.count() never ends: for the type checker

    async def close(self) -> None:
        self.closing = True
        for timer in (self.resume_timer, self.gap_timer, self.retry_timer):
            if timer:
                timer.cancel()
        if self.ws is not None:
            await self.ws.close()


async def chat(uri: str, reply_timeout: float = 120) -> int:
    client = Client(uri)
    try:
        await client.connect()
    except (OSError, websockets.WebSocketException) as exc:
        print(f"cannot connect to {uri}: {exc}\nIs the local stack running? Start it with: make run", file=sys.stderr)
        return 1
    print(f"connected to {uri}. Type a message; /stop, /new, /ping, /quit.")
    receiver = asyncio.create_task(client.run())
    try:
        while not receiver.done():
            line = await asyncio.to_thread(sys.stdin.readline)
            if line.strip() == "/quit":
                break
            if not line:  # end of input: let the replies on their way arrive first
                pending = client.state["pending"]
                if pending and not await replies_arrived(client.settled, receiver, reply_timeout, client.state):
                    return 1
                break
            text = line.strip()
            if not text:
                continue
            if text == "/ping":
                await client.ping()
                continue
            if text == "/new":
                await client.new_conversation()
                continue
            if text == "/stop":
                await client.stop()
                continue
            await client.send_message(text)
    finally:
        await client.close()
        receiver.cancel()
    return 0


async def replies_arrived(
    settled: asyncio.Event, receiver: asyncio.Task, timeout: float, state: Optional[dict] = None
) -> bool:
    """Wait until every message sent has its response or error, the client gives up, or timeout."""
    waiter = asyncio.create_task(settled.wait())
    await asyncio.wait({waiter, receiver}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    waiter.cancel()
    if settled.is_set():
        return True
    why = "the connection closed" if receiver.done() else f"none within {timeout:g} s"
    note(f"leaving without the reply to every message: {why}", state if state is not None else {}, now=True)
    return False


def main(argv=None) -> int:
    args = parse_args(argv)
    return asyncio.run(chat(args.uri, args.reply_timeout))


if __name__ == "__main__":
    sys.exit(main())
