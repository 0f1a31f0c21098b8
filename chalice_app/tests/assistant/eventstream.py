"""Bedrock ConverseStream responses for botocore's Stubber, byte for byte as the API sends them.

The API answers with the binary AWS event-stream encoding (``application/
vnd.amazon.eventstream``): one message per event, with ``:event-type`` (or, for an
error inside the stream, ``:exception-type``) headers and a JSON payload. Here those
bytes are built and decoded by botocore's own ``EventStream``, so the assistant
iterates exactly what boto3 gives it in production: event dicts, and an
``EventStreamError`` for an exception event.

The Stubber validates ``stream`` as the output shape's structure (a dict), so a
response carries a placeholder dict and an ``after-call`` hook on the client swaps
in botocore's EventStream over the encoded bytes.
"""

import json
import struct
import zlib
from typing import Any, Dict, Iterable, Iterator, List, Optional

from botocore.eventstream import EventStream
from botocore.parsers import EventStreamJSONParser

__all__ = [
    "PendingStream",
    "decode_streams",
    "encode_event",
    "encode_exception",
    "stream_response",
    "text_events",
    "tool_use_events",
]

_STRING = 7  # header value type: string


def _header(name: str, value: str) -> bytes:
    name_bytes, value_bytes = name.encode(), value.encode()
    return struct.pack("!B", len(name_bytes)) + name_bytes + struct.pack("!BH", _STRING, len(value_bytes)) + value_bytes


def _message(headers: Dict[str, str], payload: bytes) -> bytes:
    header_bytes = b"".join(_header(name, value) for name, value in headers.items())
    total = 12 + len(header_bytes) + len(payload) + 4
    prelude = struct.pack("!II", total, len(header_bytes))
    prelude += struct.pack("!I", zlib.crc32(prelude) & 0xFFFFFFFF)
    body = prelude + header_bytes + payload
    return body + struct.pack("!I", zlib.crc32(body) & 0xFFFFFFFF)


def encode_event(event: Dict[str, Any]) -> bytes:
    """One ``{"eventName": {...}}`` dict, as its event-stream message."""
    ((event_type, payload),) = event.items()
    headers = {":event-type": event_type, ":content-type": "application/json", ":message-type": "event"}
    return _message(headers, json.dumps(payload).encode())


def encode_exception(exception_type: str, message: str) -> bytes:
    """An error inside the stream, e.g. ``throttlingException`` or ``modelStreamErrorException``."""
    headers = {":exception-type": exception_type, ":content-type": "application/json", ":message-type": "exception"}
    return _message(headers, json.dumps({"message": message}).encode())


class _RawBody:
    def __init__(self, chunks: List[bytes]):
        self.chunks = chunks

    def stream(self) -> Iterator[bytes]:
        yield from self.chunks

    def close(self) -> None:
        pass


class PendingStream(dict):
    """The stubbed ``stream``: an empty dict (it passes the Stubber's validation of the
    stream structure) carrying the encoded messages until ``decode_streams`` swaps in
    botocore's EventStream over them."""

    def __init__(self, messages: Iterable[bytes], chunk_size: int = 7):
        super().__init__()
        data = b"".join(messages)
        # Split mid-message, as a network would, so the decoder's buffering is exercised too.
        self.chunks = [data[start : start + chunk_size] for start in range(0, len(data), chunk_size)]


def decode_streams(client: Any) -> None:
    """Make ``client.converse_stream`` return a real botocore EventStream for a PendingStream."""

    def swap(parsed: Dict[str, Any], model: Any, **_: Any) -> None:
        pending = parsed.get("stream")
        if isinstance(pending, PendingStream):
            shape = model.output_shape.members["stream"]
            parsed["stream"] = EventStream(_RawBody(pending.chunks), shape, EventStreamJSONParser(), model.name)

    client.meta.events.register("after-call.bedrock-runtime.ConverseStream", swap)


def stream_response(*events: Dict[str, Any], error: Optional[tuple] = None) -> Dict[str, Any]:
    """A converse_stream response; ``error=(exception_type, message)`` ends the stream with that error."""
    messages = [encode_event(event) for event in events]
    if error is not None:
        messages.append(encode_exception(*error))
    return {"stream": PendingStream(messages)}


def text_events(*pieces: str, stop_reason: str = "end_turn", index: int = 0) -> List[Dict[str, Any]]:
    """A text answer as ConverseStream streams it (no contentBlockStart for text)."""
    events: List[Dict[str, Any]] = [{"messageStart": {"role": "assistant"}}]
    events += [{"contentBlockDelta": {"delta": {"text": piece}, "contentBlockIndex": index}} for piece in pieces]
    events += [
        {"contentBlockStop": {"contentBlockIndex": index}},
        {"messageStop": {"stopReason": stop_reason}},
        {
            "metadata": {
                "usage": {"inputTokens": 812, "outputTokens": 64, "totalTokens": 876},
                "metrics": {"latencyMs": 431},
            }
        },
    ]
    return events


def tool_use_events(
    tool_use_id: str, name: str, arguments: Dict[str, Any], preface: str = "", split_at: int = 9
) -> List[Dict[str, Any]]:
    """Optional text, then one tool call whose JSON input arrives in pieces, ending with stopReason tool_use."""
    events: List[Dict[str, Any]] = [{"messageStart": {"role": "assistant"}}]
    index = 0
    if preface:
        events += [
            {"contentBlockDelta": {"delta": {"text": preface}, "contentBlockIndex": 0}},
            {"contentBlockStop": {"contentBlockIndex": 0}},
        ]
        index = 1
    raw = json.dumps(arguments)
    events.append(
        {
            "contentBlockStart": {
                "start": {"toolUse": {"toolUseId": tool_use_id, "name": name}},
                "contentBlockIndex": index,
            }
        }
    )
    events += [
        {
            "contentBlockDelta": {
                "delta": {"toolUse": {"input": raw[start : start + split_at]}},
                "contentBlockIndex": index,
            }
        }
        for start in range(0, len(raw), split_at)
    ]
    events += [
        {"contentBlockStop": {"contentBlockIndex": index}},
        {"messageStop": {"stopReason": "tool_use"}},
        {
            "metadata": {
                "usage": {"inputTokens": 790, "outputTokens": 41, "totalTokens": 831},
                "metrics": {"latencyMs": 388},
            }
        },
    ]
    return events
