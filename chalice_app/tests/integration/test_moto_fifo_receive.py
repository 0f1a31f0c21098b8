"""The local moto server's long poll on a FIFO queue (localcloud.motomain.serialize_receives).

SQS hands out a message group's next message as soon as the one in flight is deleted. moto's
own long poll read the groups in flight once, at its start, and spun until it ended: every
follow-up message of a session waited for the next poll.
"""

import threading
import time

import boto3
import pytest

from localcloud.motoserver import MotoServer


@pytest.fixture(scope="module")
def sqs():
    server = MotoServer().start()
    try:
        yield boto3.client(
            "sqs",
            endpoint_url=server.url,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
    finally:
        server.stop()


def fifo_queue(sqs, name):
    attributes = {"FifoQueue": "true", "ContentBasedDeduplication": "false", "VisibilityTimeout": "60"}
    return sqs.create_queue(QueueName=f"{name}.fifo", Attributes=attributes)["QueueUrl"]


def send(sqs, url, body, group="session-1"):
    sqs.send_message(QueueUrl=url, MessageBody=body, MessageGroupId=group, MessageDeduplicationId=body)


def test_a_waiting_receive_gets_the_groups_next_message_as_soon_as_the_first_is_deleted(sqs):
    url = fifo_queue(sqs, "follow-up")
    send(sqs, url, "first")
    [first] = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1)["Messages"]
    got = {}

    def long_poll():
        started = time.monotonic()
        got["messages"] = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=10).get("Messages", [])
        got["at"] = time.monotonic() - started

    poller = threading.Thread(target=long_poll)
    poller.start()
    send(sqs, url, "second")  # the group has "first" in flight: not deliverable yet
    time.sleep(0.5)
    assert "messages" not in got
    deleted = time.monotonic()
    sqs.delete_message(QueueUrl=url, ReceiptHandle=first["ReceiptHandle"])
    poller.join(15)

    assert [m["Body"] for m in got["messages"]] == ["second"]
    assert got["at"] - 0.5 < 0.5, f"the group's next message came {time.monotonic() - deleted:.2f} s after the delete"


def test_a_long_poll_on_an_empty_queue_waits_its_time_and_returns_nothing(sqs):
    url = fifo_queue(sqs, "empty")
    started = time.monotonic()
    assert sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1).get("Messages", []) == []
    assert time.monotonic() - started >= 0.9


def test_another_groups_message_is_not_held_back_by_one_in_flight(sqs):
    url = fifo_queue(sqs, "two-groups")
    send(sqs, url, "a1", group="a")
    send(sqs, url, "a2", group="a")
    send(sqs, url, "b1", group="b")
    first = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=1, WaitTimeSeconds=1)["Messages"]
    second = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1)["Messages"]
    assert [m["Body"] for m in first] == ["a1"] and [m["Body"] for m in second] == ["b1"]
