"""End to end on the local profile: a small history, the batch job, training, the running pipeline
(engine + ingest + score processes behind the local event source mapping), the seed's attack."""

from __future__ import annotations

import io
import json
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from rich.console import Console

from features.codec import encode_transaction
from features.records import format_ts
from profiles.demo import run_scenario
from profiles.local import Processes
from profiles.steps import (
    AGGREGATES,
    BATCH_GROUP,
    ENGINE_DEAD,
    LATE,
    STREAMING_GROUP,
    TRANSACTIONS,
    Layout,
    StreamTail,
    aggregate,
    feature_store,
    generate_history,
    kinesis,
    reset_runtime,
    train,
    wait_for,
)


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Layout:
    layout = Layout(tmp_path_factory.mktemp("e2e"))
    generate_history(
        layout, 200, 40_000, datetime(2020, 1, 1, tzinfo=UTC), datetime(2020, 6, 1, tzinfo=UTC), seed=5
    )
    aggregate(layout)
    train(layout, extra=["--rounds", "40", "--threads", "1"])
    return layout


def test_the_attack_is_flagged_and_every_record_is_accounted_for(trained: Layout) -> None:
    layout = trained
    reset_runtime(layout)
    feature_store(layout).load_parquet(BATCH_GROUP, layout.features / "online")
    out = io.StringIO()
    with Processes(layout, engine_args=["--idle-flush-s", "0.5"]) as processes:
        # GIVEN bad records straight on the aggregates stream (past the engine), then the seed's scenario
        bad = [
            b"not json",
            json.dumps({"tid": "x"}).encode(),
            json.dumps(
                {
                    "tid": "neg",
                    "cc_num": 4000000000000001,
                    "amount": -1.0,
                    "trans_ts": "2020-05-15T10:00:00.000Z",
                    "num_trans_last_10m": 1,
                    "avg_amt_last_10m": 1.0,
                }
            ).encode(),
        ]
        kinesis(layout).put_records(
            StreamName=AGGREGATES, Records=[{"Data": d, "PartitionKey": "bad"} for d in bad]
        )
        # AND bad transactions on the transactions stream: a duplicate, a very late one, not JSON, a negative amount
        now_ms = round(time.time() * 1000)
        card = 4000000000000001
        first = encode_transaction("dup-1", card, 10.0, now_ms).decode()
        bad_transactions = [
            first,
            first,
            encode_transaction("late-1", card, 11.0, now_ms - 3_600_000).decode(),
            "{oops",
            json.dumps({"tid": "neg-1", "cc_num": card, "amount": -3.0, "trans_ts": format_ts(now_ms)}),
        ]
        kinesis(layout).put_records(
            StreamName=TRANSACTIONS,
            Records=[{"Data": d.encode(), "PartitionKey": str(card)} for d in bad_transactions],
        )
        # WHEN the scenario streams through the pipeline
        result = run_scenario(
            layout,
            background_rate=20,
            seed=3,
            console=Console(file=out, width=160),
            processes=processes,
            drain_timeout_s=60,
            already_sent=len(bad_transactions),
        )
        # THEN every transaction came out once: scored, late with its reason, or dead-lettered with its reason
        summary = result.summary()
        records_in = summary["transactions_sent"] + len(bad_transactions)
        assert summary["predictions"] + summary["late"] + summary["engine_dead_letters"] == records_in
        late, dead = _read(layout, LATE), _read(layout, ENGINE_DEAD)
        assert [(r["tid"], r["reason"].split(":")[0]) for r in late] == [("late-1", "late")]
        assert sorted(r["reason"].split(":")[0] for r in dead) == sorted(
            ["duplicate", "not JSON", "amount must be finite and non-negative, got -3.0"]
        )
        assert "dup-1" in result.predictions
        # AND the attack is caught: most of its 10 transactions flagged, its 10-minute count reaching 10
        assert summary["attack_caught"] and summary["attack_flagged"] >= 5
        attack = [result.predictions[t] for t in result.attack_tids]
        assert max(p["features"]["num_trans_last_10m"] for p in attack) == 10
        # AND ingest put the attack card's newest 10-minute features online in cc-agg-fg
        card = attack[0]["cc_num"]
        assert wait_for(lambda: _online_count(layout, card) == 10, timeout_s=20)
        # AND each bad record reached the dead-letter queue with its reason, from both functions
        letters = [m for m in result.dead_letters if m["disposition"] == "rejected"]
        reasons = sorted((m["function"], m["reason"].split(":")[0]) for m in letters)
        assert reasons == sorted(
            [
                (f, r)
                for f in ("fraud-ingest", "fraud-score")
                for r in ("not JSON", "missing field(s)", "amount must be finite and non-negative, got -1.0")
            ]
        )
        # AND the functions' metrics add up: records in = processed + dead-lettered
        aggregates_in = summary["predictions"] + len(bad)
        assert wait_for(
            lambda: _handled(layout, "score", "TransactionsScored") == aggregates_in, timeout_s=20
        )
        assert wait_for(lambda: _handled(layout, "ingest", "RecordsIngested") == aggregates_in, timeout_s=20)
    assert "attack flagged" in out.getvalue()


def _online_count(layout: Layout, card: int) -> int:
    record = feature_store(layout).get_record(
        FeatureGroupName=STREAMING_GROUP, RecordIdentifierValueAsString=str(card)
    )
    values = {f["FeatureName"]: f["ValueAsString"] for f in record.get("Record", [])}
    return int(values.get("num_trans_last_10m", 0))


def _handled(layout: Layout, function: str, processed: str) -> float:
    """Processed + dead-lettered, from the function's EMF metrics in its log."""
    from profiles.steps import emf_totals

    totals = emf_totals(Path(layout.logs / f"{function}.log"))
    return totals.get(processed, 0) + totals.get("RecordsDeadLettered", 0)


def _read(layout: Layout, stream: str) -> list[dict]:
    return StreamTail(kinesis(layout), stream).read()
