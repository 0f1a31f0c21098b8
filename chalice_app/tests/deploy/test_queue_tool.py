"""scripts/queue_tool.py (and infra/queues.py) against a moto server: status, purge by age, redrive."""

import json
import time
import uuid

import boto3
import pytest

from chalicelib.config import load
from infra import bootstrap, queues
from infra.stage import load_stage
from tests.deploy.conftest import REGION, TEST_STAGE, free_port, run_script


def fifo():
    """What SendMessage needs on the (FIFO) chat queue: a group of its own per message, as a
    session, and a deduplication id."""
    unique = uuid.uuid4().hex
    return {"MessageGroupId": unique, "MessageDeduplicationId": unique}


@pytest.fixture(scope="module")
def sqs(moto_endpoint):
    return boto3.client(
        "sqs", region_name=REGION, endpoint_url=moto_endpoint, aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )  # fmt: skip


@pytest.fixture(scope="module")
def urls(moto_endpoint, sqs):
    stage = load_stage(TEST_STAGE)
    settings = stage.settings(REGION)

    def client(service):
        return boto3.client(
            service, region_name=REGION, endpoint_url=moto_endpoint, aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )  # fmt: skip

    bootstrap.ensure_all(client, settings, stage.visibility_timeout)
    return queues.queue_urls(sqs, settings.queue_name)


@pytest.fixture(autouse=True)
def empty_queues(request, sqs):
    yield
    if "urls" in request.fixturenames:  # drained, not purged: SQS allows one PurgeQueue a minute
        for url in request.getfixturevalue("urls").values():
            while messages := receive(sqs, url):
                for message in messages:
                    sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])


def receive(sqs, url, **extra):
    return sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0, **extra).get("Messages", [])


def queue_tool(moto_endpoint, *args):
    done = run_script("queue_tool.py", *args, "--region", REGION, "--endpoint-url", moto_endpoint, timeout=60)
    return done.returncode, done.stdout, done.stderr


def test_status_reports_queue_and_dlq_depth(moto_endpoint, sqs, urls):
    for index in range(3):
        sqs.send_message(QueueUrl=urls["queue"], MessageBody=str(index), **fifo())
    sqs.send_message(QueueUrl=urls["dlq"], MessageBody="dead", **fifo())
    code, out, err = queue_tool(moto_endpoint, "status", "--stage", TEST_STAGE, "--json")
    assert code == 0, err
    depth = json.loads(out)
    assert depth["queue"]["name"] == "shopping-assistant-chalice-test-chat.fifo"
    assert (depth["queue"]["visible"], depth["dlq"]["visible"]) == (3, 1)

    code, out, err = queue_tool(moto_endpoint, "status", "--stage", TEST_STAGE)
    assert code == 0, err
    assert "waiting      3" in out and "shopping-assistant-chalice-test-chat-dlq.fifo" in out


def test_purge_older_than_deletes_only_the_old_messages(sqs, urls):
    for index in range(3):
        sqs.send_message(QueueUrl=urls["queue"], MessageBody=f"old {index}", **fifo())
    time.sleep(0.3)
    split = time.time()
    time.sleep(0.3)
    for index in range(2):
        sqs.send_message(QueueUrl=urls["queue"], MessageBody=f"young {index}", **fifo())

    dry = queues.purge_older_than(sqs, urls["queue"], 0, dry_run=True, now=lambda: split)
    assert (dry.scanned, dry.deleted, dry.kept) == (5, 3, 2)
    assert queues.depth(sqs, urls["queue"]).visible == 5  # a dry run leaves every message visible

    done = queues.purge_older_than(sqs, urls["queue"], 0, now=lambda: split)
    assert (done.scanned, done.deleted, done.kept) == (5, 3, 2)
    left = receive(sqs, urls["queue"])
    assert sorted(m["Body"] for m in left) == ["young 0", "young 1"]


def test_purge_cli_by_age_and_all(moto_endpoint, sqs, urls):
    for index in range(4):
        sqs.send_message(QueueUrl=urls["queue"], MessageBody=str(index), **fifo())
    code, out, err = queue_tool(moto_endpoint, "purge", "--stage", TEST_STAGE, "--older-than", "60")
    assert code == 0, err
    assert "scanned 4, deleted 0 older than 60 min, kept 4" in out
    code, out, err = queue_tool(moto_endpoint, "purge", "--stage", TEST_STAGE, "--older-than", "0", "--json")
    assert code == 0, err
    assert json.loads(out)["deleted"] == 4
    assert queues.depth(sqs, urls["queue"]).visible == 0

    sqs.send_message(QueueUrl=urls["dlq"], MessageBody="dead", **fifo())
    code, out, err = queue_tool(moto_endpoint, "purge", "--stage", TEST_STAGE, "--dlq", "--all")
    assert code == 0, err
    assert "purged every message" in out and queues.depth(sqs, urls["dlq"]).visible == 0


def test_redrive_moves_dlq_messages_back(moto_endpoint, sqs, urls):
    for index in range(12):
        sqs.send_message(
            QueueUrl=urls["dlq"],
            MessageBody=f"dead {index}",
            MessageAttributes={"origin": {"DataType": "String", "StringValue": "test"}},
            **fifo(),
        )
    code, out, err = queue_tool(moto_endpoint, "redrive", "--stage", TEST_STAGE, "--max", "5")
    assert code == 0, err
    assert "moved 5 messages" in out
    code, out, err = queue_tool(moto_endpoint, "redrive", "--stage", TEST_STAGE, "--json")
    assert code == 0, err
    assert json.loads(out)["moved"] == 7
    assert (queues.depth(sqs, urls["queue"]).visible, queues.depth(sqs, urls["dlq"]).visible) == (12, 0)
    moved = receive(sqs, urls["queue"], MessageAttributeNames=["All"])[0]
    assert moved["MessageAttributes"]["origin"]["StringValue"] == "test"


def test_local_runtime_queue_through_its_endpoint(moto_endpoint, sqs):
    def client(service):
        return boto3.client(
            service, region_name=REGION, endpoint_url=moto_endpoint, aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )  # fmt: skip

    local = bootstrap.ensure_all(client, load({}), 120)  # what the local runtime creates: the defaults
    sqs.send_message(QueueUrl=local.queue_url, MessageBody="local", **fifo())
    code, out, err = queue_tool(moto_endpoint, "status", "--local", "--json")
    assert code == 0, err
    assert json.loads(out)["queue"] == {**json.loads(out)["queue"], "name": "ChatProcessingQueue.fifo", "visible": 1}


def test_local_without_a_runtime_says_how_to_start_one():
    done = run_script(
        "queue_tool.py", "status", "--local", "--local-url", f"http://127.0.0.1:{free_port()}", timeout=60
    )
    assert done.returncode == 1
    assert "make run" in done.stderr


def test_a_missing_queue_is_named(moto_endpoint):
    code, _, err = queue_tool(moto_endpoint, "status", "--stage", "dev")
    assert code == 1
    assert "stage dev does not exist here; deploy it first" in err
