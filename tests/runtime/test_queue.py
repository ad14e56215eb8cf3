"""The SQS-like local queue: boto3 call shapes, visibility timeout, deletion, several processes."""

from __future__ import annotations

import pytest

from local_aws.queue import LocalSQS


def test_send_receive_hide_and_delete(sqs, clock):
    url = sqs.create_queue(QueueName="dlq")["QueueUrl"]
    sent = sqs.send_message(QueueUrl=url, MessageBody='{"reason": "x"}')
    assert set(sent) == {"MessageId", "MD5OfMessageBody"}
    sqs.send_message_batch(
        QueueUrl=url, Entries=[{"Id": "a", "MessageBody": "2"}, {"Id": "b", "MessageBody": "3"}]
    )
    got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=2, VisibilityTimeout=30)["Messages"]
    assert [m["Body"] for m in got] == ['{"reason": "x"}', "2"]
    assert [m["Body"] for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]] == ["3"]
    assert sqs.receive_message(QueueUrl=url) == {}  # all in flight
    sqs.delete_message(QueueUrl=url, ReceiptHandle=got[0]["ReceiptHandle"])
    clock.advance(31)
    assert [m["Body"] for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]] == [
        "2",
        "3",
    ]
    attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert attrs["ApproximateNumberOfMessagesNotVisible"] == "2"
    with pytest.raises(sqs.exceptions.ReceiptHandleIsInvalid):
        sqs.delete_message(QueueUrl=url, ReceiptHandle=got[0]["ReceiptHandle"])


def test_urls_reopen_the_same_queue_and_unknown_queues_fail(sqs):
    url = sqs.create_queue(QueueName="dlq")["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="kept")
    assert LocalSQS.from_url(url).peek_all(url) == ["kept"]
    assert sqs.get_queue_url(QueueName="dlq")["QueueUrl"] == url
    with pytest.raises(sqs.exceptions.QueueDoesNotExist):
        sqs.send_message(QueueUrl=url + "-missing", MessageBody="x")
