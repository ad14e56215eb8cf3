"""python -m jobs.local_engine: the local streaming aggregation engine as a process.

Its Kinesis client comes from clients.factory, as the environment configures it (the local profile:
AWS_CLIENT_FACTORY=local_aws.clients:client with LOCAL_DATA_DIR; LocalStack: AWS_ENDPOINT_URL_KINESIS);
`--stream-dir DIR` and `--endpoint-url URL` stand for that configuration.
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import signal
import sqlite3
import sys
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from clients.factory import CLIENT_FACTORY_ENV, client, kinesis_settings
from jobs.local_engine.gc_tuning import settle_after_init
from jobs.local_engine.runner import ENDPOINT_POLL_MS, LOCAL_POLL_MS, EngineRunner, Streams
from jobs.local_engine.windows import DEFAULT_OOO_MS
from tools.cli import OneLineErrors


def kinesis_client(stream_dir: Path | None, endpoint_url: str | None, region: str) -> Any:
    """The configured Kinesis client (clients.factory); --stream-dir and --endpoint-url stand for
    configuration. On an endpoint: the environment's keys, or LocalStack's dummies."""
    settings = kinesis_settings(stream_dir, endpoint_url, region if endpoint_url else None)
    if endpoint_url:
        import boto3

        if not boto3.session.Session().get_credentials():
            settings |= {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test"}
    return client("kinesis", settings)


def ensure_streams(kinesis: Any, names: Iterable[str]) -> None:
    """Create the missing output streams (one shard) and wait until they are active."""
    for name in names:
        try:
            kinesis.describe_stream_summary(StreamName=name)
        except kinesis.exceptions.ResourceNotFoundException:
            kinesis.create_stream(StreamName=name, ShardCount=1)
            if hasattr(kinesis, "get_waiter"):
                kinesis.get_waiter("stream_exists").wait(
                    StreamName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 60}
                )


def main(argv: list[str] | None = None) -> int:
    parser = OneLineErrors(
        prog="python -m jobs.local_engine",
        description="Run the local streaming aggregation engine.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    # Without either flag the clients are the environment's (AWS_CLIENT_FACTORY, AWS_ENDPOINT_URL_KINESIS).
    where = parser.add_mutually_exclusive_group()
    where.add_argument(
        "--stream-dir",
        type=Path,
        help="directory of the local streams (the local profile's clients on it)",
    )
    where.add_argument(
        "--endpoint-url",
        help="a Kinesis endpoint, e.g. LocalStack's http://127.0.0.1:4566 (boto3 on it)",
    )
    parser.add_argument("--region", default="us-east-1", help="region of --endpoint-url")
    parser.add_argument("--input", default=Streams.input, help="transactions stream")
    parser.add_argument("--output", default=Streams.output, help="aggregates stream (created if absent)")
    parser.add_argument("--late", default=Streams.late, help="late-records stream (created if absent)")
    parser.add_argument(
        "--dead", default=Streams.dead, help="dead-letter stream for malformed and duplicate records"
    )
    parser.add_argument(
        "--state",
        type=Path,
        default=None,
        help="state database (default: STREAM_DIR/engine-state.db; required without --stream-dir)",
    )
    parser.add_argument("--batch", type=int, default=5000, help="records read per shard per batch")
    parser.add_argument(
        "--checkpoint-interval-s",
        type=float,
        default=1.0,
        help="seconds between checkpoints at least (more when a checkpoint costs more than 5%% of the work since the last)",
    )
    parser.add_argument(
        "--idle-flush-s",
        type=float,
        default=None,
        help="release buffered rows after this many seconds without input (default: never)",
    )
    parser.add_argument(
        "--exit-when-idle-s",
        type=float,
        default=None,
        help="exit after this many idle seconds (default: run)",
    )
    parser.add_argument(
        "--poll-ms",
        type=float,
        default=None,
        help=f"wait between reads of an idle input (default: {LOCAL_POLL_MS:g} on the local profile's "
        f"streams, {ENDPOINT_POLL_MS:g} on an endpoint); a latency floor of the streaming path",
    )
    parser.add_argument(
        "--out-of-orderness-ms", type=int, default=DEFAULT_OOO_MS, help="allowed out-of-orderness"
    )
    args = parser.parse_args(argv)
    problem = None
    if args.stream_dir is not None and not args.stream_dir.is_dir():  # not created by a typo
        problem = f"no stream {args.input!r} under {args.stream_dir}"
    elif args.stream_dir is None and args.state is None:
        problem = "--state is required without --stream-dir"
    elif not 1 <= args.batch <= 10_000:
        problem = "--batch must be 1..10000"
    elif args.out_of_orderness_ms < 0:
        problem = "--out-of-orderness-ms must be >= 0"
    elif args.poll_ms is not None and not 0 <= args.poll_ms <= 60_000:
        problem = "--poll-ms must be 0..60000"
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        kinesis = kinesis_client(args.stream_dir, args.endpoint_url, args.region)
        try:
            kinesis.describe_stream_summary(StreamName=args.input)
        except kinesis.exceptions.ResourceNotFoundException:
            where = f" under {args.stream_dir}" if args.stream_dir else ""
            print(f"error: no stream {args.input!r}{where}", file=sys.stderr)
            return 2
        ensure_streams(kinesis, (args.output, args.late, args.dead))
        runner = EngineRunner(
            kinesis,
            args.state or args.stream_dir / "engine-state.db",
            Streams(args.input, args.output, args.late, args.dead),
            batch_limit=args.batch,
            checkpoint_interval_s=args.checkpoint_interval_s,
            idle_flush_s=args.idle_flush_s,
            out_of_orderness_ms=args.out_of_orderness_ms,
            log=lambda m: print(m, file=sys.stderr, flush=True),
        )
        settle_after_init()
        local = args.stream_dir is not None or (
            args.endpoint_url is None and bool(os.environ.get(CLIENT_FACTORY_ENV))
        )
        poll_ms = args.poll_ms if args.poll_ms is not None else LOCAL_POLL_MS if local else ENDPOINT_POLL_MS
        runner.run(stop, exit_when_idle_s=args.exit_when_idle_s, poll_s=poll_ms / 1000)
    except (
        ImportError,  # an AWS_CLIENT_FACTORY naming a missing module
        OSError,
        RuntimeError,
        ValueError,
        sqlite3.Error,
        pickle.UnpicklingError,
        ClientError,
        BotoCoreError,
    ) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    print(json.dumps(dict(runner.engine.stats)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
