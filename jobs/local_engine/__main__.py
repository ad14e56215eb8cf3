"""python -m jobs.local_engine: the local streaming aggregation engine as a process."""

from __future__ import annotations

import argparse
import json
import pickle
import signal
import sqlite3
import sys
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from jobs.local_engine.runner import ENDPOINT_POLL_MS, LOCAL_POLL_MS, EngineRunner, Streams
from jobs.local_engine.windows import DEFAULT_OOO_MS


def kinesis_endpoint(url: str, region: str) -> Any:
    """A boto3 Kinesis client on an endpoint (LocalStack); the environment's keys, or LocalStack's dummies."""
    import boto3

    session = boto3.session.Session()
    keys = {} if session.get_credentials() else {"aws_access_key_id": "test", "aws_secret_access_key": "test"}
    return boto3.client("kinesis", endpoint_url=url, region_name=region, **keys)


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
    parser = argparse.ArgumentParser(
        prog="python -m jobs.local_engine",
        description="Run the local streaming aggregation engine.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--stream-dir", type=Path, help="directory of the local streams (local profile)")
    where.add_argument(
        "--endpoint-url",
        help="a Kinesis endpoint, e.g. LocalStack's http://127.0.0.1:4566 (localstack profile)",
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
        help="state database (default: STREAM_DIR/engine-state.db; required with --endpoint-url)",
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
        help=f"wait between reads of an idle input (default: {LOCAL_POLL_MS:g} with --stream-dir, "
        f"{ENDPOINT_POLL_MS:g} with --endpoint-url); a latency floor of the streaming path",
    )
    parser.add_argument(
        "--out-of-orderness-ms", type=int, default=DEFAULT_OOO_MS, help="allowed out-of-orderness"
    )
    args = parser.parse_args(argv)
    from local_aws.gc_tuning import settle_after_init
    from local_aws.stream import LocalKinesis

    problem = None
    if args.stream_dir and not (args.stream_dir / f"{args.input}.kinesis.db").exists():
        problem = f"no stream {args.input!r} under {args.stream_dir}"
    elif args.endpoint_url and args.state is None:
        problem = "--state is required with --endpoint-url"
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
        kinesis = (
            LocalKinesis(args.stream_dir)
            if args.stream_dir
            else kinesis_endpoint(args.endpoint_url, args.region)
        )
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
        poll_ms = (
            args.poll_ms
            if args.poll_ms is not None
            else LOCAL_POLL_MS
            if args.stream_dir
            else ENDPOINT_POLL_MS
        )
        runner.run(stop, exit_when_idle_s=args.exit_when_idle_s, poll_s=poll_ms / 1000)
    except (
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
