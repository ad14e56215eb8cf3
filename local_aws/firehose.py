"""Amazon Data Firehose's delivery of a Kinesis stream to S3, for the profiles that have no Firehose.

The layout is the one terraform/modules/stream_archive configures, and what the batch job's --live
and the consistency job's --predictions read: objects under `<prefix>dt=YYYY-MM-DD/` (the arrival
day, UTC), named `<delivery stream>-<version>-<YYYY-MM-DD-HH-MM-SS>-<random>.json.gz`, each a GZIP of
records one per line (the AppendDelimiterToRecord processor). Object names after
https://docs.aws.amazon.com/firehose/latest/dev/s3-object-name.html; the dt= day is the arrival
time of the object's oldest record (https://docs.aws.amazon.com/firehose/latest/dev/s3-prefixes.html).
"""

from __future__ import annotations

import gzip
import uuid
from collections.abc import Callable, Iterable
from datetime import datetime

SUFFIX = ".json.gz"  # the stream_archive module's file_extension


def object_key(prefix: str, delivery_stream: str, arrival: datetime) -> str:
    """Where Firehose puts one buffer of records that arrived at `arrival` (UTC)."""
    return (
        f"{prefix}dt={arrival:%Y-%m-%d}/"
        f"{delivery_stream}-1-{arrival:%Y-%m-%d-%H-%M-%S}-{uuid.uuid4()}{SUFFIX}"
    )


def encode(records: Iterable[bytes]) -> bytes:
    """One object's content: the records as they came, each followed by a newline, GZIP."""
    return gzip.compress(b"".join(record.rstrip(b"\n") + b"\n" for record in records), mtime=0)


def deliver(
    records: Iterable[bytes],
    put: Callable[[str, bytes], None],
    prefix: str,
    delivery_stream: str,
    arrival: datetime,
) -> str:
    """Write one buffer of `records` with `put(key, content)` (an S3 PutObject, a file write);
    returns the key."""
    key = object_key(prefix, delivery_stream, arrival)
    put(key, encode(records))
    return key
