"""Enqueueing acknowledged chat messages to the chat queue (an SQS FIFO queue).

The queue is FIFO so that the turns of one session run one at a time, in the order
they were acked, across every poller and Lambda instance: the message group is the
session. SQS FIFO delivers the messages of one group in order and none while an
earlier one of the group is in flight (SQS Developer Guide, "FIFO queue message
grouping"); a Lambda FIFO event source processes a group in order the same way.
"""

import functools
from typing import Dict

from chalicelib import aws
from chalicelib.config import settings
from chalicelib.envelope import ChatEnvelope

__all__ = ["enqueue", "queue_url", "fifo_parameters"]


@functools.lru_cache(maxsize=4)
def _resolve_url(queue_name: str) -> str:
    return aws.client("sqs").get_queue_url(QueueName=queue_name)["QueueUrl"]


def queue_url() -> str:
    config = settings()
    return config.queue_url or _resolve_url(config.queue_name)


def fifo_parameters(url: str, envelope: ChatEnvelope) -> Dict[str, str]:
    """SendMessage's group and deduplication ids for a FIFO queue (its name ends in ``.fifo``).

    AWS: a FIFO queue requires ``MessageGroupId``; ``MessageDeduplicationId`` makes a
    resend of the same message within 5 minutes a no-op. A standard queue takes neither.
    """
    if not url.endswith(".fifo"):
        return {}
    return {"MessageGroupId": envelope.session_id, "MessageDeduplicationId": envelope.message_id}


def enqueue(envelope: ChatEnvelope) -> str:
    """Send the envelope; returns the SQS MessageId."""
    url = queue_url()
    sent = aws.client("sqs").send_message(
        QueueUrl=url, MessageBody=envelope.to_json(), **fifo_parameters(url, envelope)
    )
    return sent["MessageId"]
