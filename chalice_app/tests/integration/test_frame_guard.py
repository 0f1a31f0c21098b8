"""The frame-size guard in front of aiohttp's WebSocket reader, fed raw frames in every
split a socket can produce (a stand-in reader records what reaches it)."""

import os
import struct

import pytest

from localcloud.wsframes import FrameSizeGuard, frame_too_big, parse_frame_header

LIMIT = 32 * 1024


def frame(opcode: int, payload: bytes, fin: bool = True, masked: bool = True) -> bytes:
    """An RFC 6455 frame (section 5.2), masked as a client sends it."""
    first = (0x80 if fin else 0) | opcode
    mask_bit = 0x80 if masked else 0
    if len(payload) < 126:
        header = bytes([first, mask_bit | len(payload)])
    elif len(payload) < 1 << 16:
        header = bytes([first, mask_bit | 126]) + struct.pack("!H", len(payload))
    else:
        header = bytes([first, mask_bit | 127]) + struct.pack("!Q", len(payload))
    if not masked:
        return header + payload
    mask = os.urandom(4)
    return header + mask + bytes(byte ^ mask[index % 4] for index, byte in enumerate(payload))


class RecordingReader:
    def __init__(self):
        self.received = b""

    def feed_data(self, data):
        self.received += data
        return False, b""

    def feed_eof(self):
        pass


class RecordingQueue:
    def __init__(self):
        self.exception = None

    def set_exception(self, exc):
        self.exception = exc


def feed(stream: bytes, chunk: int):
    reader, queue = RecordingReader(), RecordingQueue()
    guard = FrameSizeGuard(reader, queue, LIMIT)
    results = [guard.feed_data(stream[start : start + chunk]) for start in range(0, len(stream), chunk)]
    return reader, queue, results


@pytest.mark.parametrize("chunk", [1, 3, 7, 1000, 1 << 20])
def test_frames_within_the_limit_pass_unchanged_however_the_bytes_are_split(chunk):
    stream = (
        frame(0x1, b"x" * 20_000, fin=False)
        + frame(0x9, b"ping")  # a control frame between fragments
        + frame(0x0, b"y" * LIMIT, fin=False)
        + frame(0x0, b"z" * 100)
        + frame(0x2, b"\x01" * 125)
    )
    reader, queue, results = feed(stream, chunk)
    assert reader.received == stream
    assert queue.exception is None
    assert all(result == (False, b"") for result in results)


@pytest.mark.parametrize("chunk", [1, 5, 1000, 1 << 20])
@pytest.mark.parametrize("opcode", [0x1, 0x2])
def test_the_first_frame_over_the_limit_fails_the_connection_with_1009(chunk, opcode):
    good = frame(0x1, b"ok" * 10)
    bad = frame(opcode, b"a" * (LIMIT + 1))
    reader, queue, results = feed(good + bad + frame(0x1, b"never seen"), chunk)
    # The good frame, then at most the bad frame's header: never its payload.
    assert reader.received == (good + bad)[: len(reader.received)]
    assert len(good) <= len(reader.received) < len(good) + 14
    assert queue.exception.code == 1009
    assert (True, b"") in results


def test_a_64_bit_length_continuation_over_the_limit_is_refused_before_its_payload():
    header_only = frame(0x0, b"b" * 70_000)[:14]
    reader, queue, results = feed(frame(0x1, b"a", fin=False) + header_only, 1 << 20)
    assert queue.exception.code == 1009
    assert not reader.received.endswith(header_only)


@pytest.mark.parametrize("chunk", [1, 2, 1000, 1 << 20])
@pytest.mark.parametrize("opcode", [0x1, 0x2, 0x8, 0x9])
def test_an_unmasked_frame_fails_the_connection_with_1002(chunk, opcode):
    """RFC 6455 section 5.1: the server closes on an unmasked client frame (it used to be answered)."""
    good, bad = frame(0x1, b"ok"), frame(opcode, b"unmasked", masked=False)
    reader, queue, results = feed(good + bad + frame(0x1, b"x"), chunk)
    assert queue.exception.code == 1002
    assert "masked" in str(queue.exception)
    # The good frame, then at most the first byte of the bad frame's header: never the frame.
    assert reader.received == (good + bad)[: len(reader.received)]
    assert len(good) <= len(reader.received) <= len(good) + 1
    assert (True, b"") in results


def test_header_parsing_and_the_rule():
    assert parse_frame_header(b"\x81") is None
    assert parse_frame_header(bytes([0x81, 0x80 | 126, 0x01])) is None
    assert parse_frame_header(bytes([0x81, 0x80 | 126, 0x01, 0x00, 1, 2, 3, 4])) == (8, 0x1, 256)
    assert parse_frame_header(bytes([0x82, 5])) == (2, 0x2, 5)
    assert frame_too_big(0x1, LIMIT + 1, LIMIT) and frame_too_big(0x0, LIMIT + 1, LIMIT)
    assert not frame_too_big(0x1, LIMIT, LIMIT) and not frame_too_big(0x9, LIMIT + 1, LIMIT)
