"""Look at and clean the chat queue and its DLQ: depth, purge by age, redrive.

SQS cannot delete by age, so ``purge_older_than`` receives the messages, deletes
the old ones and keeps the young ones invisible until the scan ends (so it sees
each once), then makes them visible again. While it scans, the young messages
wait up to ``hold_seconds`` longer than they would have.
"""

import time
from dataclasses import asdict, dataclass
from typing import Any, Callable, Dict, List, Optional

from infra.bootstrap import dlq_name

__all__ = ["Depth", "PurgeResult", "depth", "purge_all", "purge_older_than", "queue_urls", "redrive"]

BATCH = 10


@dataclass(frozen=True)
class Depth:
    name: str
    url: str
    visible: int
    in_flight: int
    delayed: int

    def to_dict(self) -> Dict[str, Any]:
        return asdict(self)


@dataclass
class PurgeResult:
    scanned: int = 0
    deleted: int = 0
    kept: int = 0


def queue_urls(sqs, queue_name: str) -> Dict[str, str]:
    """``{"queue": url, "dlq": url}``; raises the client's QueueDoesNotExist."""
    return {
        "queue": sqs.get_queue_url(QueueName=queue_name)["QueueUrl"],
        "dlq": sqs.get_queue_url(QueueName=dlq_name(queue_name))["QueueUrl"],
    }


def depth(sqs, url: str) -> Depth:
    attributes = sqs.get_queue_attributes(
        QueueUrl=url,
        AttributeNames=[
            "ApproximateNumberOfMessages",
            "ApproximateNumberOfMessagesNotVisible",
            "ApproximateNumberOfMessagesDelayed",
        ],
    )["Attributes"]
    return Depth(
        name=url.rstrip("/").rsplit("/", 1)[-1],
        url=url,
        visible=int(attributes.get("ApproximateNumberOfMessages", 0)),
        in_flight=int(attributes.get("ApproximateNumberOfMessagesNotVisible", 0)),
        delayed=int(attributes.get("ApproximateNumberOfMessagesDelayed", 0)),
    )


def purge_all(sqs, url: str) -> None:
    """PurgeQueue: everything, at once (SQS allows one purge per queue per 60 s)."""
    sqs.purge_queue(QueueUrl=url)


def _receive(sqs, url: str, hold_seconds: int) -> List[Dict[str, Any]]:
    return sqs.receive_message(
        QueueUrl=url,
        MaxNumberOfMessages=BATCH,
        WaitTimeSeconds=1,
        VisibilityTimeout=hold_seconds,
        MessageSystemAttributeNames=["SentTimestamp"],
    ).get("Messages", [])


def _delete(sqs, url: str, messages: List[Dict[str, Any]]) -> None:
    for start in range(0, len(messages), BATCH):
        chunk = messages[start : start + BATCH]
        sqs.delete_message_batch(
            QueueUrl=url,
            Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(chunk)],
        )


def _release(sqs, url: str, messages: List[Dict[str, Any]]) -> None:
    for start in range(0, len(messages), BATCH):
        chunk = messages[start : start + BATCH]
        sqs.change_message_visibility_batch(
            QueueUrl=url,
            Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"], "VisibilityTimeout": 0} for i, m in enumerate(chunk)
            ],
        )


def purge_older_than(
    sqs,
    url: str,
    minutes: float,
    dry_run: bool = False,
    hold_seconds: int = 60,
    max_messages: int = 100_000,
    now: Callable[[], float] = time.time,
) -> PurgeResult:
    """Delete the messages sent more than ``minutes`` ago; leave the others in the queue."""
    cutoff_ms = (now() - minutes * 60) * 1000
    result = PurgeResult()
    held: List[Dict[str, Any]] = []
    seen = set()
    try:
        while result.scanned < max_messages:
            # A long poll (WaitTimeSeconds=1) that finds nothing new means the scan is done.
            batch = [m for m in _receive(sqs, url, hold_seconds) if m["MessageId"] not in seen]
            if not batch:
                break
            old = []
            for message in batch:
                seen.add(message["MessageId"])
                sent_ms = int(message.get("Attributes", {}).get("SentTimestamp", 0))
                (old if sent_ms <= cutoff_ms else held).append(message)
            result.scanned += len(batch)
            result.deleted += len(old)
            if dry_run:
                held.extend(old)
            else:
                _delete(sqs, url, old)
    finally:
        _release(sqs, url, held)
    result.kept = result.scanned - result.deleted
    return result


def _fifo_entry(queue_url: str, message: Dict[str, Any]) -> Dict[str, str]:
    """A FIFO queue needs the message group back (the session) and a deduplication id:
    the DLQ copy's MessageId, new for each copy, so a redrive is never taken for a resend."""
    if not queue_url.endswith(".fifo"):
        return {}
    group = message.get("Attributes", {}).get("MessageGroupId") or message["MessageId"]
    return {"MessageGroupId": group, "MessageDeduplicationId": message["MessageId"]}


def redrive(sqs, dlq_url: str, queue_url: str, max_messages: Optional[int] = None, dry_run: bool = False) -> int:
    """Move DLQ messages back to the queue (send, then delete); returns how many moved."""
    moved = 0
    held: List[Dict[str, Any]] = []
    try:
        while max_messages is None or moved < max_messages:
            wanted = BATCH if max_messages is None else min(BATCH, max_messages - moved)
            messages = sqs.receive_message(
                QueueUrl=dlq_url,
                MaxNumberOfMessages=wanted,
                WaitTimeSeconds=1,
                MessageAttributeNames=["All"],
                AttributeNames=["MessageGroupId"],
            ).get("Messages", [])
            if not messages:
                break
            if dry_run:
                held.extend(messages)
                moved += len(messages)
                continue
            sent = sqs.send_message_batch(
                QueueUrl=queue_url,
                Entries=[
                    {
                        "Id": str(i),
                        "MessageBody": m["Body"],
                        "MessageAttributes": m.get("MessageAttributes", {}),
                        **_fifo_entry(queue_url, m),
                    }
                    for i, m in enumerate(messages)
                ],
            )
            ok = {int(entry["Id"]) for entry in sent.get("Successful", [])}
            _delete(sqs, dlq_url, [m for i, m in enumerate(messages) if i in ok])
            held.extend(m for i, m in enumerate(messages) if i not in ok)
            moved += len(ok)
            if len(ok) < len(messages):
                break  # the queue refuses some; stop rather than spin
    finally:
        _release(sqs, dlq_url, held)
    return moved
