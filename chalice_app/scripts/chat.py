#!/usr/bin/env python
"""Chat with the shopping assistant from a terminal.

    python chalice_app/scripts/chat.py [ws://127.0.0.1:8000/api]
    echo "running shoes under 100" | python chalice_app/scripts/chat.py

Type a message and press Enter. ``/ping`` measures the round trip, ``/quit`` leaves at
once; at the end of input (Ctrl-D, or piped lines) it first waits for the replies still
on their way (``--reply-timeout``; exit 1 if one does not come). The session id is kept
for the whole conversation.
"""

import argparse
import asyncio
import json
import os
import sys
import time

import websockets

DEFAULT_URI = os.environ.get("WEBSOCKET_TEST_URI", "ws://127.0.0.1:8000/api")
TERMINAL = ("response", "error")  # the frames that end one message (docs/protocol.md)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("uri", nargs="?", default=DEFAULT_URI, help=f"WebSocket URL (default {DEFAULT_URI})")
    parser.add_argument(
        "--reply-timeout", type=float, default=120, help="seconds to wait for pending replies at end of input"
    )
    return parser.parse_args(argv)


def render(frame: dict, state: dict) -> None:
    kind = frame.get("type")
    if kind == "ack":
        state["session_id"] = frame.get("session_id")
        print("  (queued)", flush=True)
    elif kind == "status":
        print(f"  (working... {frame.get('elapsed_ms', 0) / 1000:.0f} s)", flush=True)
    elif kind == "chunk":
        if not state.get("streaming"):
            print("assistant> ", end="")
            state["streaming"] = True
        print(frame.get("delta", ""), end="", flush=True)
    elif kind == "response":
        if state.pop("streaming", False):
            print()
        else:
            print(f"assistant> {frame.get('content', '')}")
        for index, product in enumerate(frame.get("products") or [], 1):
            price = product.get("price")
            print(f"  {index}. {product.get('name')} ({product.get('brand')}) {price} {product.get('currency', '')}")
    elif kind == "pong":
        sent = state.pop("ping_sent", None)
        rtt = f" in {(time.perf_counter() - sent) * 1000:.1f} ms" if sent else ""
        print(f"  pong{rtt}")
    elif kind == "error":
        state.pop("streaming", None)
        print(f"\n  error [{frame.get('code')}]: {frame.get('message')}")
    else:
        print(f"  {frame}")


async def receive(ws, state: dict, settled: asyncio.Event) -> None:
    async for raw in ws:
        try:
            frame = json.loads(raw)
        except ValueError:
            print(f"  (not JSON) {raw!r}")
            continue
        render(frame, state)
        if isinstance(frame, dict) and frame.get("type") in TERMINAL:
            state["pending"] = max(0, state.get("pending", 0) - 1)
            if not state["pending"]:
                settled.set()


async def chat(uri: str, reply_timeout: float = 120) -> int:
    try:
        ws = await websockets.connect(uri, open_timeout=10)
    except (OSError, websockets.WebSocketException) as exc:
        print(f"cannot connect to {uri}: {exc}\nIs the local stack running? Start it with: make run", file=sys.stderr)
        return 1
    print(f"connected to {uri}. Type a message; /ping, /quit.")
    state: dict = {"pending": 0}
    settled = asyncio.Event()
    receiver = asyncio.create_task(receive(ws, state, settled))
    try:
        while not receiver.done():
            line = await asyncio.to_thread(sys.stdin.readline)
            if line.strip() == "/quit":
                break
            if not line:  # end of input: let the replies on their way arrive first
                if state["pending"] and not await replies_arrived(settled, receiver, reply_timeout):
                    return 1
                break
            text = line.strip()
            if not text:
                continue
            if text == "/ping":
                state["ping_sent"] = time.perf_counter()
                await ws.send(json.dumps({"action": "ping"}))
                continue
            frame = {"action": "sendMessage", "message": text}
            if state.get("session_id"):
                frame["session_id"] = state["session_id"]
            state["pending"] += 1
            settled.clear()
            await ws.send(json.dumps(frame))
    finally:
        await ws.close()
        receiver.cancel()
    return 0


async def replies_arrived(settled: asyncio.Event, receiver: asyncio.Task, timeout: float) -> bool:
    """Wait until every message sent has its response or error, the server closes, or timeout."""
    waiter = asyncio.create_task(settled.wait())
    await asyncio.wait({waiter, receiver}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    waiter.cancel()
    if settled.is_set():
        return True
    why = "the connection closed" if receiver.done() else f"none within {timeout:g} s"
    print(f"  (leaving without the reply to every message: {why})", file=sys.stderr)
    return False


def main(argv=None) -> int:
    args = parse_args(argv)
    return asyncio.run(chat(args.uri, args.reply_timeout))


if __name__ == "__main__":
    sys.exit(main())
