"""A durable SQS-like queue (SQLite), the local on-failure / dead-letter destination.

Mirrors the boto3 SQS client calls the project uses (create_queue, get_queue_url, send_message,
send_message_batch, receive_message with visibility timeout, delete_message,
get_queue_attributes, purge_queue), so a handler given this object or a boto3 SQS client behaves
the same. All queues under one root share `<root>/queues.db` (WAL; several processes may use it).
Queue URLs look like `local-sqs://<root>/<name>`; `LocalSQS.from_url(url)` opens the right root.
"""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from local_aws.stream import ServiceExceptions, ThreadConnections

SCHEME = "local-sqs://"
SQS_ERRORS = ServiceExceptions(
    [
        "QueueDoesNotExist",
        "ReceiptHandleIsInvalid",
        "InvalidParameterValue",
        "AWS.SimpleQueueService.NonExistentQueue",
    ]
)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS queues (name TEXT PRIMARY KEY, created REAL NOT NULL);
CREATE TABLE IF NOT EXISTS messages (id INTEGER PRIMARY KEY AUTOINCREMENT, queue TEXT NOT NULL,
    message_id TEXT NOT NULL, body TEXT NOT NULL, attributes TEXT NOT NULL, sent REAL NOT NULL,
    visible_at REAL NOT NULL, receive_count INTEGER NOT NULL DEFAULT 0, receipt TEXT);
CREATE INDEX IF NOT EXISTS messages_visible ON messages (queue, visible_at, id);
"""


def _md5(text: str) -> str:
    return hashlib.md5(text.encode("utf-8")).hexdigest()


class LocalSQS:
    exceptions = SQS_ERRORS

    def __init__(self, root: str | Path, clock: Callable[[], float] = time.time) -> None:
        self.root = Path(root).resolve()
        self.root.mkdir(parents=True, exist_ok=True)
        self.path = self.root / "queues.db"
        self.clock = clock
        self._conn = ThreadConnections(self.path)
        self._conn().executescript(_SCHEMA)

    @classmethod
    def from_url(cls, url: str, clock: Callable[[], float] = time.time) -> LocalSQS:
        if not url.startswith(SCHEME):
            raise ValueError(f"not a local queue URL: {url!r}")
        return cls(url[len(SCHEME) :].rsplit("/", 1)[0], clock)

    def url(self, name: str) -> str:
        return f"{SCHEME}{self.root}/{name}"

    def _name(self, url: str, operation: str) -> str:
        name = url.rsplit("/", 1)[-1]
        if (
            not url.startswith(SCHEME)
            or not self._conn().execute("SELECT 1 FROM queues WHERE name=?", (name,)).fetchone()
        ):
            raise self.exceptions.error(
                "QueueDoesNotExist", f"The specified queue does not exist: {url}", operation
            )
        return name

    # ---------------------------------------------------------------------------------- queues
    def create_queue(self, QueueName: str, Attributes: dict | None = None, **_: Any) -> dict:
        self._conn().execute("INSERT OR IGNORE INTO queues VALUES (?, ?)", (QueueName, self.clock()))
        return {"QueueUrl": self.url(QueueName)}

    def get_queue_url(self, QueueName: str, **_: Any) -> dict:
        return {"QueueUrl": self.url(self._name(self.url(QueueName), "GetQueueUrl"))}

    def get_queue_attributes(self, QueueUrl: str, AttributeNames: list[str] | None = None, **_: Any) -> dict:
        name = self._name(QueueUrl, "GetQueueAttributes")
        now = self.clock()
        visible, hidden = (
            self._conn()
            .execute(
                "SELECT COALESCE(SUM(visible_at <= ?), 0), COALESCE(SUM(visible_at > ?), 0) FROM messages WHERE queue=?",
                (now, now, name),
            )
            .fetchone()
        )
        return {
            "Attributes": {
                "ApproximateNumberOfMessages": str(visible),
                "ApproximateNumberOfMessagesNotVisible": str(hidden),
                "QueueArn": f"arn:aws:sqs:us-east-1:000000000000:{name}",
            }
        }

    def purge_queue(self, QueueUrl: str, **_: Any) -> dict:
        self._conn().execute("DELETE FROM messages WHERE queue=?", (self._name(QueueUrl, "PurgeQueue"),))
        return {}

    # -------------------------------------------------------------------------------- messages
    def send_message(
        self, QueueUrl: str, MessageBody: str, MessageAttributes: dict | None = None, **_: Any
    ) -> dict:
        result = self._send(QueueUrl, [("0", MessageBody, MessageAttributes or {})], "SendMessage")[0]
        return {"MessageId": result["MessageId"], "MD5OfMessageBody": result["MD5OfMessageBody"]}

    def send_message_batch(self, QueueUrl: str, Entries: list[dict], **_: Any) -> dict:
        if not 1 <= len(Entries) <= 10:
            raise self.exceptions.error(
                "InvalidParameterValue", "Entries must hold 1..10 messages", "SendMessageBatch"
            )
        entries = [(e["Id"], e["MessageBody"], e.get("MessageAttributes") or {}) for e in Entries]
        return {"Successful": self._send(QueueUrl, entries, "SendMessageBatch"), "Failed": []}

    def _send(self, url: str, entries: list[tuple[str, str, dict]], operation: str) -> list[dict]:
        name = self._name(url, operation)
        now = self.clock()
        rows, results = [], []
        for entry_id, body, attrs in entries:
            if not isinstance(body, str) or not body:
                raise self.exceptions.error(
                    "InvalidParameterValue", "MessageBody must be a non-empty string", operation
                )
            message_id = str(uuid.uuid4())
            rows.append((name, message_id, body, json.dumps(attrs), now, now))
            results.append({"Id": entry_id, "MessageId": message_id, "MD5OfMessageBody": _md5(body)})
        self._conn().executemany(
            "INSERT INTO messages (queue, message_id, body, attributes, sent, visible_at) VALUES (?, ?, ?, ?, ?, ?)",
            rows,
        )
        return results

    def receive_message(
        self,
        QueueUrl: str,
        MaxNumberOfMessages: int = 1,
        VisibilityTimeout: int = 30,
        WaitTimeSeconds: int = 0,
        **_: Any,
    ) -> dict:
        name = self._name(QueueUrl, "ReceiveMessage")
        if not 1 <= MaxNumberOfMessages <= 10:
            raise self.exceptions.error(
                "InvalidParameterValue", "MaxNumberOfMessages must be 1..10", "ReceiveMessage"
            )
        deadline = time.monotonic() + WaitTimeSeconds
        conn = self._conn()
        while True:
            now = self.clock()
            conn.execute("BEGIN IMMEDIATE")
            rows = conn.execute(
                "SELECT id, message_id, body, attributes FROM messages WHERE queue=? AND visible_at<=? ORDER BY id LIMIT ?",
                (name, now, MaxNumberOfMessages),
            ).fetchall()
            messages = []
            for row_id, message_id, body, attrs in rows:
                receipt = f"{row_id}:{uuid.uuid4().hex}"
                conn.execute(
                    "UPDATE messages SET visible_at=?, receipt=?, receive_count=receive_count+1 WHERE id=?",
                    (now + VisibilityTimeout, receipt, row_id),
                )
                message = {
                    "MessageId": message_id,
                    "ReceiptHandle": receipt,
                    "MD5OfBody": _md5(body),
                    "Body": body,
                }
                if attrs != "{}":
                    message["MessageAttributes"] = json.loads(attrs)
                messages.append(message)
            conn.execute("COMMIT")
            if messages or time.monotonic() >= deadline:
                return {"Messages": messages} if messages else {}
            time.sleep(0.05)

    def delete_message(self, QueueUrl: str, ReceiptHandle: str, **_: Any) -> dict:
        name = self._name(QueueUrl, "DeleteMessage")
        cur = self._conn().execute("DELETE FROM messages WHERE queue=? AND receipt=?", (name, ReceiptHandle))
        if cur.rowcount == 0:
            raise self.exceptions.error(
                "ReceiptHandleIsInvalid", f"invalid receipt handle {ReceiptHandle}", "DeleteMessage"
            )
        return {}

    # ------------------------------------------------------------------------------ non-boto
    def peek_all(self, QueueUrl: str) -> list[str]:
        """Every message body still in the queue, oldest first, without receiving them."""
        name = self._name(QueueUrl, "Peek")
        return [
            r[0] for r in self._conn().execute("SELECT body FROM messages WHERE queue=? ORDER BY id", (name,))
        ]
