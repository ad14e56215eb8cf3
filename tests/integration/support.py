"""Helpers for the integration tests: the batch side, Terraform against LocalStack, reading outputs."""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from features.definition import aggregates_of_kind
from features.records import parse_ts
from packager.terraform_cli import provider_unavailable
from profiles import localstack_server as localstack

TERRAFORM_ROOT = localstack.PROJECT / "terraform" / "envs" / "local"


@dataclass
class Terraform:
    """terraform/envs/local applied against LocalStack, with its state and data dir under `work`."""

    work: Path
    name_prefix: str

    @property
    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            **localstack.client_environment(),
            "TF_IN_AUTOMATION": "1",
            # hashicorp/aws comes from the user's CLI configuration or the registry (packager.terraform_cli).
            "TF_DATA_DIR": str(self.work / ".terraform"),
        }

    def run(self, *args: str, timeout: float = 600) -> str:
        flags = ["-no-color"] if args[0] == "output" else ["-no-color", "-input=false"]
        done = subprocess.run(
            ["terraform", f"-chdir={TERRAFORM_ROOT}", *args, *flags],
            capture_output=True,
            text=True,
            env=self.env,
            timeout=timeout,
        )
        if done.returncode != 0:
            raise AssertionError(f"terraform {args[0]} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
        return done.stdout

    def init(self) -> None:
        """Skips (saying why) where hashicorp/aws cannot be installed, as the Terraform tests do."""
        reason = provider_unavailable()
        if reason:
            pytest.skip(f"prerequisite missing: {reason}")
        # readonly: the committed lock is checked, never rewritten by a test.
        self.run("init", "-lockfile=readonly", f"-backend-config=path={self.work / 'terraform.tfstate'}")

    def apply(self) -> dict[str, Any]:
        self.run("apply", "-auto-approve", f"-var=name_prefix={self.name_prefix}")
        return {k: v["value"] for k, v in json.loads(self.run("output", "-json")).items()}

    def destroy(self) -> None:
        self.run("destroy", "-auto-approve", f"-var=name_prefix={self.name_prefix}")


def leftovers(boto: Callable[[str], Any], prefix: str) -> dict[str, list[str]]:
    """Everything in LocalStack whose name starts with the prefix (empty lists = clean)."""
    return {
        "streams": [
            s for s in boto("kinesis").list_streams(Limit=1000)["StreamNames"] if s.startswith(prefix)
        ],
        "queues": [q for q in boto("sqs").list_queues(QueueNamePrefix=prefix).get("QueueUrls", [])],
        "buckets": [b["Name"] for b in boto("s3").list_buckets()["Buckets"] if b["Name"].startswith(prefix)],
        "log groups": [
            g["logGroupName"]
            for g in boto("logs").describe_log_groups(logGroupNamePrefix=f"/aws/lambda/{prefix}")["logGroups"]
        ],
    }


def read_stream(kinesis: Any, stream: str) -> list[dict[str, Any]]:
    """Every record of a stream from its start (raw Kinesis records)."""
    out: list[dict[str, Any]] = []
    for shard in kinesis.list_shards(StreamName=stream)["Shards"]:
        it = kinesis.get_shard_iterator(
            StreamName=stream, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        while it:
            page = kinesis.get_records(ShardIterator=it, Limit=10_000)
            out += page["Records"]
            if not page["Records"]:
                break
            it = page.get("NextShardIterator")
    return out


def read_json_stream(kinesis: Any, stream: str) -> list[dict[str, Any]]:
    return [json.loads(r["Data"]) for r in read_stream(kinesis, stream)]


def queue_messages(sqs: Any, url: str) -> list[dict[str, Any]]:
    """Every message body in the queue (received and left invisible: read once per test)."""
    out: list[dict[str, Any]] = []
    while True:
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=600).get(
            "Messages", []
        )
        if not got:
            return out
        out += [json.loads(m["Body"]) for m in got]


def wait_until(
    condition: Callable[[], bool],
    timeout_s: float,
    check: Callable[[], None] | None = None,
    poll_s: float = 0.25,
) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check:
            check()
        if condition():
            return True
        time.sleep(poll_s)
    return condition()


AGGREGATE = {"count": len, "sum": sum, "max": max, "min": min, "avg": lambda v: sum(v) / len(v)}


def expected_windows(transactions: Iterable[dict[str, Any]]) -> dict[int, dict[str, float]]:
    """Per card, every sliding aggregate at its latest transaction, by feature name.

    Written out plainly (not with the engine's code) as the independent reference: the card's
    transactions with event time in [t - length, t], the latest itself included, each tid once.
    """
    by_card: dict[int, dict[str, tuple[int, float]]] = {}
    for tx in transactions:
        by_card.setdefault(tx["cc_num"], {})[tx["tid"]] = (parse_ts(tx["trans_ts"]), tx["amount"])
    out: dict[int, dict[str, float]] = {}
    for card, txs in by_card.items():
        latest = max(t for t, _ in txs.values())
        out[card] = {}
        for agg in aggregates_of_kind("sliding"):
            values = [a for t, a in txs.values() if latest - agg.window.length_ms <= t <= latest]
            out[card][agg.name] = float(AGGREGATE[agg.function](values))
    return out


def esm_stats(root: Path, function: str) -> dict[str, int]:
    """The event source mapping's durable statistics (records_in, processed, dead_lettered, ...)."""
    path = root / f"esm-{function}.json"
    return {
        "records_in": 0,
        "processed": 0,
        "dead_lettered": 0,
        **(json.loads(path.read_text())["stats"] if path.exists() else {}),
    }
