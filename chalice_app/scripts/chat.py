#!/usr/bin/env python
"""Chat with the shopping assistant from a terminal.

    python chalice_app/scripts/chat.py [ws://127.0.0.1:8000/api]

Type a message and press Enter. ``/ping`` measures the round trip, ``/quit`` (or
Ctrl-D) leaves. The session id is kept for the whole conversation.
"""

import asyncio
import json
import os
import sys
import time

import websockets

DEFAULT_URI = os.environ.get("WEBSOCKET_TEST_URI", "ws://127.0.0.1:8000/api")


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


async def receive(ws, state: dict) -> None:
    async for raw in ws:
        try:
            render(json.loads(raw), state)
        except ValueError:
            print(f"  (not JSON) {raw!r}")


async def chat(uri: str) -> int:
    try:
        ws = await websockets.connect(uri, open_timeout=10)
    except (OSError, websockets.WebSocketException) as exc:
        print(f"cannot connect to {uri}: {exc}\nIs the local stack running? Start it with: make run", file=sys.stderr)
        return 1
    print(f"connected to {uri}. Type a message; /ping, /quit.")
    state: dict = {}
    receiver = asyncio.create_task(receive(ws, state))
    try:
        while not receiver.done():
            line = await asyncio.to_thread(sys.stdin.readline)
            if not line or line.strip() == "/quit":
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
            await ws.send(json.dumps(frame))
    finally:
        await ws.close()
        receiver.cancel()
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(chat(sys.argv[1] if len(sys.argv) > 1 else DEFAULT_URI)))
