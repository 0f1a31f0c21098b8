"""Coalescer: when streamed deltas become chunk posts (a fake clock, no I/O)."""

import pytest

from chalicelib.coalesce import Chunk, Coalescer


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now

    def advance(self, ms):
        self.now += ms / 1000


@pytest.fixture
def clock():
    return Clock()


def test_the_first_delta_is_posted_at_once(clock):
    chunks = Coalescer(100, clock=clock)
    assert chunks.add("Hel") == Chunk(0, "Hel")


def test_at_most_one_post_per_flush_interval(clock):
    chunks = Coalescer(100, clock=clock)
    posted = [chunks.add("a")]
    for _ in range(9):  # a token every 30 ms
        clock.advance(30)
        posted.append(chunks.add("b"))
    assert posted == [Chunk(0, "a"), None, None, None, Chunk(1, "bbbb"), None, None, None, Chunk(2, "bbbb"), None]
    assert chunks.finish() == Chunk(3, "b")
    assert chunks.finish() is None
    assert (chunks.deltas, chunks.posts) == (10, 4)


def test_a_kilobyte_pending_is_posted_without_waiting(clock):
    chunks = Coalescer(100, clock=clock)
    chunks.add("x")
    assert chunks.add("y" * 1023) is None  # 1023 bytes pending
    assert chunks.add("é") == Chunk(1, "y" * 1023 + "é")  # 2 more UTF-8 bytes: over 1 KB


def test_a_delta_after_a_pause_is_posted_at_once(clock):
    chunks = Coalescer(100, clock=clock)
    chunks.add("a")
    clock.advance(5000)
    assert chunks.add("b") == Chunk(1, "b")


def test_zero_interval_posts_every_delta_and_ignores_empty_ones(clock):
    chunks = Coalescer(0, clock=clock)
    assert [chunks.add(text) for text in ("a", "", "b", "c")] == [Chunk(0, "a"), None, Chunk(1, "b"), Chunk(2, "c")]
    assert chunks.finish() is None


def test_the_text_and_seq_survive_coalescing(clock):
    chunks = Coalescer(100, max_bytes=16, clock=clock)
    words = [f"word{i} " for i in range(200)]
    posted = []
    for index, word in enumerate(words):
        clock.advance(7 * (index % 5))
        chunk = chunks.add(word)
        posted += [chunk] if chunk else []
    rest = chunks.finish()
    posted += [rest] if rest else []
    assert len(posted) > 1
    assert "".join(chunk.text for chunk in posted) == "".join(words)
    assert [chunk.seq for chunk in posted] == list(range(len(posted)))
