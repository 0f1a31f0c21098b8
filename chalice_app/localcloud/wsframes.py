"""API Gateway's WebSocket frame-size limit and RFC 6455 masking, enforced on the frames themselves.

API Gateway (WebSocket API quotas): a frame is at most 32 KB and a message at most
128 KB, so a larger message must arrive as several frames (fragments). aiohttp joins
the fragments of a message before anyone sees them and only knows a message limit,
so ``FrameLimitedResponse`` puts a ``FrameSizeGuard`` in front of aiohttp's own
reader: it reads each frame's header as the bytes arrive, passes the bytes on
unchanged, and fails the connection with 1009 when a data frame declares more than
the limit, and with 1002 at an unmasked frame (RFC 6455 section 5.1: a client masks
every frame; aiohttp's reader would take it). The message limit stays with aiohttp's
reader (``max_msg_size``).
"""

from typing import Any, Optional, Tuple

from aiohttp import WSCloseCode, web
from aiohttp.http_websocket import WebSocketError

__all__ = ["FrameLimitedResponse", "FrameSizeGuard", "parse_frame_header", "frame_too_big"]

# RFC 6455 section 5.2: opcodes of data frames (continuation, text, binary).
DATA_OPCODES = (0x0, 0x1, 0x2)
MAX_HEADER_BYTES = 14  # 2 + 8 (64-bit length) + 4 (mask)


def parse_frame_header(data: bytes) -> Optional[Tuple[int, int, int]]:
    """RFC 6455 section 5.2: ``(header_length, opcode, payload_length)``, or None while incomplete."""
    if len(data) < 2:
        return None
    opcode = data[0] & 0x0F
    masked = data[1] >> 7
    length = data[1] & 0x7F
    extended = 2 if length == 126 else 8 if length == 127 else 0
    header_length = 2 + extended + 4 * masked
    if len(data) < header_length:
        return None
    if extended:
        length = int.from_bytes(data[2 : 2 + extended], "big")
    return header_length, opcode, length


def frame_too_big(opcode: int, payload_length: int, frame_bytes: int) -> bool:
    """API Gateway: each data frame at most ``frame_bytes`` (32 KB); control frames are 125 bytes at most anyway."""
    return opcode in DATA_OPCODES and payload_length > frame_bytes


class FrameSizeGuard:
    """Stands where aiohttp's WebSocket reader stood: scans frame headers, then hands the
    same bytes to that reader. Fails the connection at the first frame over the limit."""

    def __init__(self, reader: Any, queue: Any, frame_bytes: int):
        self.reader = reader  # aiohttp's WebSocketReader (parses and joins the frames)
        self.queue = queue  # its message queue, where a failure is reported
        self.frame_bytes = frame_bytes
        self._header = b""  # the start of a header split across reads
        self._skip = 0  # payload bytes of the current frame still to come
        self._failed = False

    def feed_eof(self) -> None:
        self.reader.feed_eof()

    def feed_data(self, data: bytes) -> Tuple[bool, bytes]:
        if self._failed:
            return True, b""
        data = bytes(data)
        position = 0
        while position < len(data):
            if self._skip:
                step = min(self._skip, len(data) - position)
                position += step
                self._skip -= step
                continue
            pending = self._header + data[position : position + MAX_HEADER_BYTES]
            header = parse_frame_header(pending)
            if header is None:
                self._header += data[position:]
                break
            header_length, opcode, payload_length = header
            failure = _refusal(pending[1] & 0x80, opcode, payload_length, self.frame_bytes)
            if failure is not None:
                self.reader.feed_data(data[:position])  # the frames before it are fine
                return self._fail(*failure)
            position += header_length - len(self._header)
            self._header = b""
            self._skip = payload_length
        return self.reader.feed_data(data)

    def _fail(self, code: int, message: str) -> Tuple[bool, bytes]:
        self._failed = True
        # What aiohttp's reader does with a bad frame: the receiving side closes with this code.
        self.queue.set_exception(WebSocketError(code, message))
        return True, b""


def _refusal(masked: int, opcode: int, payload_length: int, frame_bytes: int) -> Optional[Tuple[int, str]]:
    """``(close code, reason)`` for a frame the connection must fail at, else None.

    RFC 6455 section 5.1: a client masks every frame it sends, and a server that gets an
    unmasked one closes the connection (1002, protocol error)."""
    if not masked:
        return WSCloseCode.PROTOCOL_ERROR, "Client frames must be masked (RFC 6455 section 5.1)"
    if frame_too_big(opcode, payload_length, frame_bytes):
        return WSCloseCode.MESSAGE_TOO_BIG, (
            f"Frame size limit exceeded: a {payload_length}-byte frame, the limit is {frame_bytes}"
        )
    return None


class FrameLimitedResponse(web.WebSocketResponse):
    """A WebSocketResponse whose incoming frames pass a ``FrameSizeGuard`` first."""

    def __init__(self, *, frame_bytes: int, **kwargs: Any):
        super().__init__(**kwargs)
        self._frame_bytes = frame_bytes

    def _post_start(self, request: web.BaseRequest, protocol: Optional[str], writer: Any) -> None:
        # aiohttp 3.14 installs its reader here; bytes that came with the upgrade request
        # (its "tail") are held back so that they pass the guard too.
        handler = request.protocol
        tail, handler._message_tail = handler._message_tail, b""
        super()._post_start(request, protocol, writer)
        handler._payload_parser = guard = FrameSizeGuard(self._parser, self._reader, self._frame_bytes)
        if tail:
            guard.feed_data(tail)
