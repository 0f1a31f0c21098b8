"""The FIFO rules the local runtime follows, as Lambda and SQS do: a failed message holds
back the later messages of its group, and chat messages are grouped by session."""

from chalicelib.chat_queue import fifo_parameters
from localcloud.poller import fifo_failures
from tests.unit.support import make_envelope


def message(message_id, group=None):
    attributes = {"MessageGroupId": group} if group else {}
    return {"MessageId": message_id, "Attributes": attributes}


def test_a_failed_message_fails_the_later_ones_of_its_group_only():
    batch = [message("a1", "A"), message("b1", "B"), message("a2", "A"), message("b2", "B"), message("a3", "A")]
    assert fifo_failures({"a1"}, batch) == {"a1", "a2", "a3"}
    assert fifo_failures({"a2"}, batch) == {"a2", "a3"}  # a1 came before: it is done
    assert fifo_failures(set(), batch) == set()


def test_a_standard_queue_batch_is_left_as_reported():
    batch = [message("m1"), message("m2")]
    assert fifo_failures({"m1"}, batch) == {"m1"}


def test_chat_messages_are_grouped_by_session_and_deduplicated_by_message_id():
    envelope = make_envelope("C1=", session_id="s-1")
    assert fifo_parameters("https://sqs.example/1/chat.fifo", envelope) == {
        "MessageGroupId": "s-1",
        "MessageDeduplicationId": envelope.message_id,
    }
    assert fifo_parameters("https://sqs.example/1/chat", envelope) == {}
