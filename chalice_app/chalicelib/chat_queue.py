"""Enqueueing acknowledged chat messages to ChatProcessingQueue."""

import functools

from chalicelib import aws
from chalicelib.config import settings
from chalicelib.envelope import ChatEnvelope

__all__ = ["enqueue", "queue_url"]


@functools.lru_cache(maxsize=4)
def _resolve_url(queue_name: str) -> str:
    return aws.client("sqs").get_queue_url(QueueName=queue_name)["QueueUrl"]


def queue_url() -> str:
    config = settings()
    return config.queue_url or _resolve_url(config.queue_name)


def enqueue(envelope: ChatEnvelope) -> str:
    """Send the envelope; returns the SQS MessageId."""
    sent = aws.client("sqs").send_message(QueueUrl=queue_url(), MessageBody=envelope.to_json())
    return sent["MessageId"]
