"""Defect 8: a backlog over several Kinesis shards keeps every on-time row (real Flink).

The Kinesis table source of connector 5.0 takes no watermark push-down
(KinesisDynamicSource implements ScanTableSource and SupportsReadingMetadata only), so the SQL
watermark is one per source subtask, advanced after every row; a subtask reads its shards one
fetch at a time. The design (jobs/flink/README.md): one shard per source subtask, i.e. a
PROVISIONED transactions stream with shard_count = the app's parallelism. The connector's default
UniformShardAssigner maps a shard to subtask floor(mid hash key * subtasks / 2^128), so equal
shards (as CreateStream makes them) land one per subtask.

The replay: a backlog (a day of traffic, as after a restart or an update) spread over shards by
the MD5 of the partition key (the card number, as the simulator writes it), one file per shard,
each file one split of the bounded filesystem source: a subtask reads a split to its end before
the next, as a subtask reads one shard's fetch of up to 10,000 records before the next shard's.
"""

from __future__ import annotations

import hashlib
import math
import re
import subprocess
from datetime import datetime
from pathlib import Path

import hcl2
import pytest
from conftest import history_rows, read_json_dir, run_flink

from features.codec import encode_transaction
from features.definition import aggregates_of_kind
from jobs.aggregate import run as run_batch_job
from simulator.generate import generate, write

pytestmark = pytest.mark.flink

ROOT = Path(__file__).resolve().parents[2]
AWS_VARIABLES = ROOT / "terraform" / "envs" / "aws" / "variables.tf"
# An on-demand stream starts with 4 MB/s of write capacity, i.e. 4 shards of 1 MB/s, and Kinesis
# adds shards by itself: https://docs.aws.amazon.com/streams/latest/dev/how-do-i-size-a-stream.html
# (shard limits: https://docs.aws.amazon.com/streams/latest/dev/working-with-streams.html).
ON_DEMAND_INITIAL_SHARDS = 4
SCALED = 3  # shards = parallelism at scale (the rule, beyond the default of 1)
HASH_KEY_BOUND = 2**128
SLIDING = aggregates_of_kind("sliding")


def default(variables: dict, name: str):
    value = variables[name]["default"]
    return value.strip('"') if isinstance(value, str) else value


def deployed_layout() -> tuple[int, int]:
    """(shards of the transactions stream, Flink parallelism) of the default AWS deployment."""
    variables = {
        k.strip('"'): v for block in hcl2.load(AWS_VARIABLES.open())["variable"] for k, v in block.items()
    }
    mode = default(variables, "stream_mode")
    shards = int(default(variables, "shard_count")) if mode == "PROVISIONED" else ON_DEMAND_INITIAL_SHARDS
    return shards, int(default(variables, "flink_parallelism"))


def shard_of(card: int, shards: int) -> int:
    """Kinesis puts a record in the shard whose hash-key range holds MD5(partition key)."""
    return int.from_bytes(hashlib.md5(str(card).encode()).digest(), "big") * shards // HASH_KEY_BOUND


def write_shards(rows, shards: int, directory: Path) -> None:
    directory.mkdir(parents=True)
    for shard in range(shards):
        lines = [encode_transaction(*r).decode() for r in rows if shard_of(r[1], shards) == shard]
        assert lines, f"shard {shard} got no row: pick more cards"
        (directory / f"shard-{shard:03d}.jsonl").write_text("\n".join(lines) + "\n")


@pytest.fixture(scope="module")
def replay(flink_python, tmp_path_factory):
    work = tmp_path_factory.mktemp("shards")
    history = generate(
        cards=120, transactions=9000, start=datetime(2020, 3, 1), end=datetime(2020, 3, 2), seed=11
    )
    write(history, work / "history.parquet")
    run_batch_job("duckdb", work / "history.parquet", work / "batch", log=lambda *_: None)
    rows = history_rows(history)  # event-time order: each shard's backlog is in order, as producers wrote it

    deployed_shards, deployed_parallelism = deployed_layout()
    layouts = {
        "deployed": (deployed_shards, deployed_parallelism),
        "one_shard_per_subtask": (SCALED, SCALED),
        "shards_behind_one_subtask": (SCALED, 1),
    }
    pipelines = []
    for name, (shards, parallelism) in layouts.items():
        write_shards(rows, shards, work / name / "in")
        pipelines.append(
            {
                "connector": "filesystem",
                "parallelism": str(parallelism),
                "input.path": str(work / name / "in"),
                "output.path": str(work / name / "aggregates"),
                "late.path": str(work / name / "late"),
            }
        )
    run_flink(pipelines, work)
    import pyarrow.dataset as ds

    names = [a.name for a in SLIDING]
    batch = {
        row.pop("tid"): row
        for row in ds.dataset(work / "batch" / "training").to_table(columns=["tid", *names]).to_pylist()
    }
    outputs = {
        name: (read_json_dir(work / name / "aggregates"), read_json_dir(work / name / "late"))
        for name in layouts
    }
    return layouts, batch, outputs


def assert_every_row_on_time_with_the_batch_features(aggregates, late, batch):
    assert late == [], f"{len(late)} on-time rows went to late records, e.g. {late[:2]}"
    flink = {r["tid"]: r for r in aggregates}
    assert set(flink) == set(batch)
    wrong = [
        tid
        for tid, row in batch.items()
        if not all(math.isclose(flink[tid][a.name], row[a.name], rel_tol=1e-9) for a in SLIDING)
    ]
    assert wrong == []


def test_the_default_deployment_keeps_every_on_time_row_of_a_backlog(replay):
    layouts, batch, outputs = replay
    assert_every_row_on_time_with_the_batch_features(*outputs["deployed"], batch)
    shards, parallelism = layouts["deployed"]
    assert shards == parallelism, f"default layout: {shards} shards behind parallelism {parallelism}"


def test_one_shard_per_subtask_keeps_every_on_time_row_at_scale(replay):
    _, batch, outputs = replay
    assert_every_row_on_time_with_the_batch_features(*outputs["one_shard_per_subtask"], batch)


def test_several_shards_behind_one_subtask_route_on_time_rows_late(replay):
    # The hazard the layout avoids, reproduced by the same replay: the first shard's backlog moves
    # the subtask's watermark past the others', whose rows then go to late records.
    _, batch, outputs = replay
    aggregates, late = outputs["shards_behind_one_subtask"]
    assert len(late) > len(batch) // (2 * SCALED)
    assert all(r["reason"].startswith("late: ") for r in late)
    assert len(aggregates) + len(late) == len(batch)


EXPLAIN = """
import sys
sys.path.append(sys.argv[1])
from features import flink_sql
from jobs.flink import app
env = app.table_environment({**flink_sql.settings(), "parallelism.default": "2"})
print(app.statement_set(env, flink_sql.filesystem("/in", "/out", "/late")).explain())
"""


def test_one_deduplication_feeds_both_the_late_and_the_window_branch(flink_python):
    # The second lateness check (after the shuffle, against the job's watermark) is read by both
    # INSERTs. Two deduplication operators would each merge their inputs in their own order and
    # could take opposite decisions for one row (lost, or both aggregated and late).
    done = subprocess.run(
        [str(flink_python), "-c", EXPLAIN, str(ROOT)], capture_output=True, text=True, timeout=300, cwd=ROOT
    )
    assert done.returncode == 0, done.stderr[-2000:]
    plan = done.stdout.split("== Optimized Execution Plan ==")[1]
    lines = plan.splitlines()
    (dedup,) = [line for line in lines if "Deduplicate(" in line]
    reuse_id = re.search(r"reuse_id=\[(\d+)\]", dedup).group(1)
    readers = [i for i, line in enumerate(lines) if f"Reused(reference_id=[{reuse_id}])" in line]
    assert len(readers) == 2  # the late branch and the window branch
    for i in readers:  # each reads it through the second check
        assert "CURRENT_WATERMARK" in lines[i - 1]
