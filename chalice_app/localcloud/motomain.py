"""The local runtime's moto server process: moto's own ``main`` with two changes.

- No werkzeug line per request on stderr (nobody reads them; a full pipe blocks).
- A fast clock for SQS: moto computes "now" through datetime conversions several
  times per message on every ReceiveMessage, which made one receive take ~0.4 s
  with 500 messages queued (measured). ``time.time()`` gives the same value.
- Request routing without a directory listing: moto finds each request's backend by
  listing its own package folder, under a process-wide lock (about 40% of the
  server's time under load, measured with py-spy). The folder does not change while
  it runs, so the list is read once.
- One ReceiveMessage at a time per queue: moto's receive is not atomic, so two
  concurrent pollers could both take the same message (seen under load).
- One DynamoDB write at a time per table: DynamoDB applies the writes to an item
  one at a time (a condition is checked against the item as the write finds it);
  moto checks and writes in two steps, so two conditional updates racing on a
  session's cursor could both pass (seen in a threaded test).

    python -m localcloud.motomain -H 127.0.0.1 -p 5000
"""

import logging
import sys
import threading
import time
from collections import defaultdict
from typing import Dict

import moto.backends as moto_backends
import moto.dynamodb.models as dynamodb_models
import moto.sqs.models as sqs_models
from moto.server import main

__all__ = ["apply_fast_sqs_clock", "cache_module_list", "serialize_receives", "serialize_item_writes", "run"]


def apply_fast_sqs_clock() -> None:
    slow_unix_time = sqs_models.unix_time

    def unix_time(dt=None):
        return time.time() if dt is None else slow_unix_time(dt)

    def unix_time_millis(dt=None):
        return time.time() * 1000.0 if dt is None else slow_unix_time(dt) * 1000.0

    sqs_models.unix_time = unix_time
    sqs_models.unix_time_millis = unix_time_millis


def serialize_receives() -> None:
    original = sqs_models.SQSBackend.receive_message
    locks: Dict[str, threading.Lock] = defaultdict(threading.Lock)

    def receive_message(self, queue_name, *args, **kwargs):
        with locks[f"{self.account_id}/{self.region_name}/{queue_name}"]:
            return original(self, queue_name, *args, **kwargs)

    sqs_models.SQSBackend.receive_message = receive_message


def serialize_item_writes() -> None:
    """Make moto's item writes atomic per table, as DynamoDB's are per item (idempotent)."""
    backend = dynamodb_models.DynamoDBBackend
    if getattr(backend, "_writes_serialized", False):
        return
    locks: Dict[str, threading.Lock] = defaultdict(threading.Lock)

    def serialized(original):
        def write(self, table_name, *args, **kwargs):
            with locks[f"{self.account_id}/{self.region_name}/{table_name}"]:
                return original(self, table_name, *args, **kwargs)

        return write

    for name in ("put_item", "update_item", "delete_item"):
        setattr(backend, name, serialized(getattr(backend, name)))
    backend._writes_serialized = True


def cache_module_list() -> None:
    modules = tuple(moto_backends.list_of_moto_modules())
    moto_backends.list_of_moto_modules = lambda: modules


def run(argv=None) -> None:
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    apply_fast_sqs_clock()
    cache_module_list()
    serialize_receives()
    serialize_item_writes()
    main(argv)


if __name__ == "__main__":
    run(sys.argv[1:])
