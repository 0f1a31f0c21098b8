"""The Lambda SQS event source mapping, emulated.

Like Lambda's poller: long-poll the queue, gather up to ``batch_size`` messages
within ``maximum_batching_window_in_seconds``, invoke the function with a real
SQS event, delete the messages that succeeded, and leave failures (the whole
batch if the invocation raised, or the ``batchItemFailures`` it reported) to the
visibility timeout, so the redrive policy moves poison messages to the DLQ.
Several pollers run at once (``concurrency``). When SQS cannot be reached the
poller logs one line (no traceback) and retries; the stack halts it (``halt()``)
when its emulator has died, rather than let it retry forever.

On a FIFO queue moto already does what SQS does for message groups (no message of
a group is handed out while an earlier one of it is in flight); the poller adds
Lambda's batch rule on top (``fifo_failures``).

As Lambda's poller, it never touches a record's visibility itself: a function that changes
it (chat_processor's in-flight heartbeat and retry backoff, ``chalicelib/retry.py``) does so
on moto's SQS, which honours ``ChangeMessageVisibility`` and counts every receive toward the
redrive policy's ``maxReceiveCount`` as SQS does (tests/reliability/test_told_in_seconds.py).
"""

import logging
import threading
import time
from dataclasses import dataclass
from typing import Any, Dict, List, Set

from botocore.exceptions import ConnectionClosedError, EndpointConnectionError

from localcloud.events import sqs_event
from localcloud.lambdaservice import InvocationError, Invoker

__all__ = ["PollerConfig", "SqsPoller", "failed_message_ids", "fifo_failures"]

log = logging.getLogger("localcloud")


@dataclass(frozen=True)
class PollerConfig:
    function_name: str
    queue_url: str
    queue_arn: str
    region: str
    batch_size: int = 1
    batching_window_seconds: float = 0
    concurrency: int = 4
    wait_seconds: int = 1  # long-poll length; also how quickly stop() is noticed


def failed_message_ids(result: Any, batch: List[Dict[str, Any]]) -> Set[str]:
    """Which messages to leave on the queue, read from a partial batch response.

    As Lambda does: a malformed response, or an unknown identifier, fails the whole batch.
    """
    all_ids = {message["MessageId"] for message in batch}
    if not isinstance(result, dict) or "batchItemFailures" not in result:
        return set()
    failures = result["batchItemFailures"]
    if not isinstance(failures, list):
        return all_ids
    failed = set()
    for failure in failures:
        identifier = failure.get("itemIdentifier") if isinstance(failure, dict) else None
        if identifier not in all_ids:
            return all_ids
        failed.add(identifier)
    return failed


def fifo_failures(failed: Set[str], batch: List[Dict[str, Any]]) -> Set[str]:
    """``failed`` plus every later message of a failed message's group in the batch.

    AWS (Lambda, "Using Lambda with Amazon SQS", FIFO queues): Lambda keeps the order
    within a message group, so a later message of a group must not be deleted (done)
    while an earlier one goes back to the queue; it is retried with it, in order.
    """
    blocked: Set[str] = set()
    result = set(failed)
    for message in batch:
        group = message.get("Attributes", {}).get("MessageGroupId")
        if group is None:
            continue
        if group in blocked:
            result.add(message["MessageId"])
        elif message["MessageId"] in failed:
            blocked.add(group)
    return result


class SqsPoller:
    def __init__(self, host: Invoker, sqs_client: Any, config: PollerConfig):
        self.host = host
        self.sqs = sqs_client
        self.config = config
        self._stop = threading.Event()
        self._threads: List[threading.Thread] = []
        self.invocations = 0
        self.deleted = 0

    @property
    def running(self) -> bool:
        return any(thread.is_alive() for thread in self._threads)

    def start(self) -> None:
        if self.running:
            return
        self._stop.clear()
        self._threads = [
            threading.Thread(target=self._run, name=f"sqs-poller-{index}", daemon=True)
            for index in range(self.config.concurrency)
        ]
        for thread in self._threads:
            thread.start()

    def halt(self) -> None:
        """Stop polling without waiting: invocations under way end on their own."""
        self._stop.set()

    def stop(self, timeout: float = 30) -> None:
        """Stop polling; invocations under way finish first (as a disabled mapping lets them)."""
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout)
        self._threads = []

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                batch = self._receive_batch()
                if batch:
                    self._deliver(batch)
            except (EndpointConnectionError, ConnectionClosedError) as exc:
                if self._stop.is_set():
                    return
                log.warning("SQS poller: cannot reach SQS (%s); retrying in 1 s", exc)
                self._stop.wait(1)
            except Exception:
                if self._stop.is_set():
                    return
                log.exception("SQS poller error; retrying in 1 s")
                self._stop.wait(1)

    def _receive_batch(self) -> List[Dict[str, Any]]:
        config = self.config
        batch = self._receive(config.batch_size, config.wait_seconds)
        if not batch or config.batching_window_seconds <= 0:
            return batch
        deadline = time.monotonic() + config.batching_window_seconds
        while len(batch) < config.batch_size and not self._stop.is_set():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            batch += self._receive(config.batch_size - len(batch), min(int(remaining) or 1, 20))
        return batch

    def _receive(self, count: int, wait_seconds: int) -> List[Dict[str, Any]]:
        received = self.sqs.receive_message(
            QueueUrl=self.config.queue_url,
            MaxNumberOfMessages=min(count, 10),
            WaitTimeSeconds=wait_seconds,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
        return received.get("Messages", [])

    def _deliver(self, batch: List[Dict[str, Any]]) -> None:
        event = sqs_event(batch, self.config.queue_arn, self.config.region)
        self.invocations += 1
        try:
            result = self.host.invoke(self.config.function_name, event)
        except InvocationError:
            return  # the whole batch becomes visible again after the visibility timeout
        failed = fifo_failures(failed_message_ids(result, batch), batch)
        done = [message for message in batch if message["MessageId"] not in failed]
        for start in range(0, len(done), 10):
            entries = [
                {"Id": str(index), "ReceiptHandle": message["ReceiptHandle"]}
                for index, message in enumerate(done[start : start + 10])
            ]
            self.sqs.delete_message_batch(QueueUrl=self.config.queue_url, Entries=entries)
        self.deleted += len(done)
