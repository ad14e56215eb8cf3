"""Child process of the ESM crash test: delivers stream "in" to a handler recording into SQLite.

usage: python tests/runtime/esm_worker.py STREAM_ROOT RECORD_DB IDLE_EXIT_SECONDS
The handler is idempotent by sequence number, as the project's handlers are by tid: it counts
deliveries per record, so the test can see redeliveries without double counting.
"""

from __future__ import annotations

import json
import sqlite3
import sys
import time
from pathlib import Path

from local_aws.event_source_mapping import EsmRunner, EventSourceMapping
from local_aws.stream import LocalKinesis


def main() -> None:
    root, db, idle = Path(sys.argv[1]), sys.argv[2], float(sys.argv[3])
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("CREATE TABLE IF NOT EXISTS seen (seq TEXT PRIMARY KEY, deliveries INTEGER NOT NULL)")

    def handler(event: dict, context: object) -> None:
        conn.execute("BEGIN")
        for r in event["Records"]:
            conn.execute(
                "INSERT INTO seen VALUES (?, 1) ON CONFLICT(seq) DO UPDATE SET deliveries = deliveries + 1",
                (r["kinesis"]["sequenceNumber"],),
            )
        conn.execute("COMMIT")
        time.sleep(0.01)  # a little work per batch, so the kill lands mid-stream

    runner = EsmRunner(
        EventSourceMapping("fn", "in", batch_size=50), LocalKinesis(root), handler, root / "esm.json"
    )
    runner.run(idle_exit_s=idle)
    print(json.dumps(runner.stats), flush=True)


if __name__ == "__main__":
    main()
