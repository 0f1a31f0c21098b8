"""Benchmark: post_to_connection calls per reply, one post per delta (CHUNK_FLUSH_MS=0) vs coalesced.

The Bedrock backend streams a 400-token reply (Stubber, the event-stream bytes as the
API sends them) with a real 20-40 ms pause before each token; the catalog backend
answers as it does in production. The figures come from the reply's own EMF metrics
and are printed (``pytest -s``); the asserts check the coalescing rule, not a speed.
"""

import json
import math
import random
import time

import pytest
from botocore.stub import Stubber

from chalicelib import aws, metrics
from tests.assistant.eventstream import PendingStream, decode_streams, encode_event, text_events
from tests.unit.support import new_connection_id, session_envelope, sqs_event, sqs_record

TOKENS = 400
WORDS = ("trail", "running", "shoes", "waterproof", "hiking", "boots", "lightweight", "grip", "cushioning", "fit")
FIGURES = ("chunk_deltas", "chunk_posts", "posts", "apigw_messages", "bytes_posted")


class PacedStream(PendingStream):
    """The encoded events, each token's message delivered after a 20-40 ms pause."""

    def __init__(self, events, seed=7):
        super().__init__([])
        self.chunks = _Paced([encode_event(event) for event in events], random.Random(seed))


class _Paced:
    """What decode_streams reads the bytes from: a pause, then the next token's message."""

    def __init__(self, messages, rng):
        self.messages, self.rng = messages, rng

    def __iter__(self):
        for message in self.messages:
            if b"contentBlockDelta" in message:
                time.sleep(self.rng.uniform(0.020, 0.040))
            yield message


def bedrock_tokens(seed=7):
    rng = random.Random(seed)
    return [("" if index == 0 else " ") + rng.choice(WORDS) for index in range(TOKENS)]


def reply_figures(client, capsys, envelope):
    capsys.readouterr()
    started = time.monotonic()
    client.lambda_.invoke("chat_processor", sqs_event(sqs_record(envelope)))
    seconds = time.monotonic() - started
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    (emf,) = [line for line in lines if "_aws" in line and line.get("message_id") == envelope.message_id]
    return {name: emf[name][0] for name in FIGURES}, seconds


def run_bedrock(client, capsys, set_env, flush_ms):
    set_env(ASSISTANT_BACKEND="bedrock", CHUNK_FLUSH_MS=str(flush_ms))
    bedrock = aws.client("bedrock-runtime")
    decode_streams(bedrock)
    with Stubber(bedrock) as stubber:
        stubber.add_response("converse_stream", {"stream": PacedStream(text_events(*bedrock_tokens()))})
        figures, seconds = reply_figures(client, capsys, session_envelope(new_connection_id(), "trail shoes?"))
        stubber.assert_no_pending_responses()
    return figures, seconds


def run_catalog(client, capsys, set_env, flush_ms):
    set_env(ASSISTANT_BACKEND="catalog", CHUNK_FLUSH_MS=str(flush_ms))
    return reply_figures(client, capsys, session_envelope(new_connection_id(), "waterproof hiking boots under 150"))


@pytest.mark.parametrize("backend, runner", [("bedrock", run_bedrock), ("catalog", run_catalog)])
def test_posts_per_reply_before_and_after_coalescing(client, mock_aws, frames, capsys, set_env, backend, runner):
    metrics.reset()
    before, _ = runner(client, capsys, set_env, 0)
    after, seconds = runner(client, capsys, set_env, 100)

    with capsys.disabled():
        print(f"\n{backend}: {int(before['chunk_deltas'])} deltas in {seconds:.1f} s")
        for label, figures in (("one post per delta", before), ("CHUNK_FLUSH_MS=100", after)):
            print(
                f"  {label:20} chunk posts {int(figures['chunk_posts']):4}  posts per reply {int(figures['posts']):4}"
                f"  API Gateway messages {int(figures['apigw_messages']):4}  bytes {int(figures['bytes_posted'])}"
            )
    assert before["chunk_posts"] == before["chunk_deltas"] == after["chunk_deltas"]
    # The first delta, then at most one post per 100 ms or per KB, and the rest at the end.
    text_bytes = after["bytes_posted"]
    assert after["chunk_posts"] <= 2 + math.ceil(seconds * 1000 / 100) + math.ceil(text_bytes / 1024)
    assert after["chunk_posts"] < before["chunk_posts"] or before["chunk_deltas"] <= 1
