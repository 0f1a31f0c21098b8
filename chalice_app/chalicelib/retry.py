"""chat_processor's retries: told within seconds, settled within minutes, on AWS as locally.

SQS and Lambda's event source mapping decide when a record comes back; this module sets
that time per record with ``ChangeMessageVisibility`` (``Lease``), so the queue's own
visibility timeout can stay what AWS requires for a mapping (at least the function
timeout; ``infra.stage`` keeps 6x, the AWS recommendation, so the poller's own retries of
a throttled invoke never see the record come back):

- at pickup the record's visibility is cut to ``IN_FLIGHT_VISIBILITY_SECONDS`` and every
  heartbeat (``HEARTBEAT_SECONDS``) extends it again. If the execution environment dies
  (no code runs any more: killed, out of memory), the record returns after at most that
  long, and its redelivery tells the shopper ``retrying``;
- a failed attempt ``n`` sets the record's visibility to the ``n``-th of
  ``RETRY_BACKOFF_SECONDS`` (the last one repeated), reports it in ``batchItemFailures``
  (the mapping leaves it on the queue; the visibility set here decides when it returns),
  and tells the shopper ``retrying`` with the attempt and the cause in shopper words;
  the last attempt (``MAX_RECEIVE_COUNT``) tells ``processing_failed`` instead;
- the processor stops itself ``DEADLINE_MARGIN_SECONDS`` before the Lambda deadline
  (``context.get_remaining_time_in_millis()``), so a timeout is a failed attempt like any
  other, told, and its idempotency claim released, not a killed environment.

Safe with the mapping: it only ever deletes what the invocation did not report; a
visibility changed by the function is SQS state the mapping does not reset; and a record
that returns while its first holder still lives (a heartbeat lost) meets that holder's
idempotency claim and is reported again, never answered twice. A dead holder's claim
lapses at its Lambda deadline, so the backoffs after the in-flight visibility must add up
to more than the processor's timeout (``covers``), or the last attempt could still meet it.
"""

import logging
from dataclasses import dataclass
from typing import Any, Optional, Sequence

from chalicelib import logs
from chalicelib.causes import cause, shopper_reason

__all__ = ["Lease", "backoff", "covers", "cause", "shopper_reason", "IN_PROGRESS_REASON"]

log = logging.getLogger(__name__)

IN_PROGRESS_REASON = "the previous attempt stopped responding"


def backoff(schedule: Sequence[int], attempt: int) -> int:
    """The visibility a failed attempt ``attempt`` (1-based) sets: the schedule's ``attempt``-th."""
    return schedule[min(max(attempt, 1), len(schedule)) - 1]


def covers(schedule: Sequence[int], in_flight: int, max_receive_count: int, function_timeout: int) -> bool:
    """Whether a record whose holder died (its claim held until its deadline) still gets an
    attempt after that deadline: the in-flight visibility plus the backoffs of the attempts
    in between outlast the function timeout."""
    between = sum(backoff(schedule, attempt) for attempt in range(2, max_receive_count))
    return in_flight + between > function_timeout


@dataclass
class Lease:
    """One received record's visibility: ``hold`` it ``seconds`` from now (never raises)."""

    sqs: Any
    queue_url: Optional[str]
    receipt_handle: Optional[str]
    message_id: str = ""

    def hold(self, seconds: int) -> bool:
        if not (self.queue_url and self.receipt_handle):
            return False
        try:
            self.sqs.change_message_visibility(
                QueueUrl=self.queue_url, ReceiptHandle=self.receipt_handle, VisibilityTimeout=int(seconds)
            )
        except Exception as exc:
            # The queue's own visibility timeout still brings the record back; slower, not lost.
            logs.emit(
                log,
                "visibility_unchanged",
                logging.WARNING,
                message_id=self.message_id,
                error=cause(exc),
                seconds=seconds,
            )
            return False
        return True
