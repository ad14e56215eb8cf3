"""bench.capacity: its figures against hand-computed cases, its CLI errors, the sources of its constants."""

from __future__ import annotations

import math
import re
import subprocess
import sys
from pathlib import Path

import hcl2
import pytest

from bench import capacity as cap
from features.definition import STREAM
from functions.common.scoring import RECORDS_PER_CALL

REPO = Path(__file__).resolve().parents[1]


def d(records: float, cards: float) -> float:
    """Expected distinct cards among `records` uniform draws over `cards` cards, written out."""
    return cards * (1 - (1 - 1 / cards) ** records)


# ----------------------------------------------------------------------------- sizing by hand


def test_1000_tps() -> None:
    s = cap.size(1000, cards=10_000)
    # transactions: 1,000 records/s over 800 records/s per shard (1,000 at 80%) -> 2 shards;
    # bytes 1,000 x 121 B = 121 kB/s, far under 800 kB/s. aggregates: read by 2 mappings,
    # 2 x 1,000 x 236 B = 472 kB/s under 1.6 MB/s -> the record limit again, 2. late: 10/s -> 1.
    assert s.stream_shards == {"transactions": 2, "aggregates": 2, "predictions": 2, "late": 1}
    # Flink: 1,000 / (22,900 x 0.8 = 18,320) -> 1 subtask; shard_count = max(2, 1) = 2
    assert s.shard_count == 2
    # KPUs: 2 subtasks at 1 per KPU + 1 orchestration = 3; 26,584 // 500 per subtask = 53 -> 8 per KPU
    # (the API's maximum), ceil(2 / 8) + 1 = 2
    assert (s.kpus, s.parallelism_per_kpu, s.kpus_packed) == (3, 8, 2)
    # Per shard 500 tx/s: one poll a second, then batches of 100 back to back -> 5 batches/s,
    # 0.5 s of score work per second per shard: 0.5 / 0.8 -> factor 1; concurrency 2 x 2 x 1 = 4
    assert s.invocations_per_s == pytest.approx(10)
    assert s.records_per_batch == pytest.approx(100)
    assert (s.parallelization_factor, s.lambda_concurrency) == (1, 4)
    # A shard holds 10,000 / 2 = 5,000 cards; a batch of 100 has d(100, 5000) distinct cards
    cards = d(100, 5000)
    assert s.cards_per_batch == pytest.approx(cards)
    assert s.put_record_per_s == pytest.approx(10 * cards)  # one PutRecord per card per batch
    assert s.batch_get_per_s == pytest.approx(10)  # ceil(99.0 / 100) = 1 call per batch
    assert s.wru_per_s == pytest.approx(10 * cards)  # 512 B records: 1 WRU (1 KB units)
    assert s.rru_per_s == pytest.approx(10 * cards)  # 1 RRU (4 KB units)
    assert s.endpoint == "serverless, max concurrency 2"  # 2 shards x factor 1
    assert s.first_limit.name.startswith("Feature Store PutRecord")
    assert s.first_limit.utilization == pytest.approx(10 * cards / 10_000)


def test_10000_tps_nears_the_put_record_quota() -> None:
    s = cap.size(10_000, cards=10_000)
    # 10,000 / 800 = 12.5 -> 13 shards; aggregates bytes 2 x 10,000 x 236 = 4.72 MB/s / 1.6 -> 3
    assert s.stream_shards["transactions"] == 13 and s.shard_count == 13
    per_shard = 10_000 / 13
    assert s.invocations_per_s == pytest.approx(13 * per_shard / 100)  # 100 batches/s in all
    # 7.69 batches/s x 0.1 s = 0.77 s/s per shard; / 0.8 = 0.96 -> factor 1
    assert s.parallelization_factor == 1 and s.lambda_concurrency == 26
    put = 100 * d(100, 10_000 / 13)
    assert s.put_record_per_s == pytest.approx(put)
    assert s.first_limit.name == "Feature Store PutRecord TPS per account"
    assert s.first_limit.utilization == pytest.approx(put / 10_000)  # ~94%


def test_100_tps() -> None:
    s = cap.size(100, cards=10_000)
    # one shard everywhere; one poll a second brings 100 records: one batch a second
    assert s.shard_count == 1 and set(s.stream_shards.values()) == {1}
    assert s.invocations_per_s == pytest.approx(1) and s.records_per_batch == pytest.approx(100)
    assert s.put_record_per_s == pytest.approx(d(100, 10_000))
    assert s.kpus == 2  # one subtask + the orchestration KPU


def test_a_busy_shard_gets_a_parallelization_factor_and_the_endpoint_moves_to_instances() -> None:
    # Flink's estimate binds first at 400,000 tx/s: 400,000 / 26,584 = 15.05 -> 16 subtasks,
    # but the shards need 400,000 / 800 = 500: per shard 800 tx/s, 8 batches/s, 0.8 s/s -> 1.
    s = cap.size(400_000, cards=10_000_000)
    assert s.shard_count == 500 and s.parallelization_factor == 1
    # 500 x 1 concurrent score calls > 200 (serverless maximum) -> instances:
    # 4,000 InvokeEndpoint/s / (300 x 0.8) = 16.7 -> 17
    assert s.endpoint == "instances, ml.m5.large x 17"
    # and 2 x 500 concurrent executions = 1,000: the account's default quota, used in full
    lam = next(lim for lim in s.limits if lim.name.startswith("Lambda"))
    assert lam.used == 1000 and lam.utilization == pytest.approx(1.0)


def test_the_seed_design() -> None:
    seed = cap.size_seed(1000)
    assert seed.shards == 2 and seed.get_record_per_s == 2000 and seed.put_record_per_s == 1000
    # KDA SQL cannot be created at any rate; then GetRecord: 2,000 of 10,000 -> 20%, reached at 5,000
    assert seed.first_limit.name.startswith("KDA SQL")
    text = cap.first_limits(lambda rate: cap.size_seed(rate).limits, 1000)
    assert "at any rate" in text and "GetRecord" in text and "reached at ~5,00" in text, text
    assert cap.reached_at(
        lambda rate: cap.size_seed(rate).limits, seed.limits[1].name, 1000
    ) == pytest.approx(5000, rel=2e-3)


def test_the_first_limit_is_searched_not_extrapolated() -> None:
    """KPUs grow in steps: 2 KPUs at 100 tx/s is 6% of 32, yet 32 KPUs (31 subtasks + 1) come only
    with 31 shards, past 30 x 800 = 24,000 tx/s."""
    limits_at = lambda rate: cap.size(rate).limits  # noqa: E731
    kpu = cap.reached_at(limits_at, "Flink KPUs per application", 100)
    assert 24_000 < kpu <= 24_000 * 1.002
    # Feature Store PutRecord first: 10,000 TPS at d(100, cards per shard) PutRecord per 100 tx
    text = cap.first_limits(limits_at, 100)
    assert text.startswith("Feature Store PutRecord TPS per account (10,000): reached at ~10,"), text


# ------------------------------------------------------------------------------ cost by hand


def test_monthly_cost_at_1000_tps() -> None:
    s = cap.size(1000, cards=10_000)
    cost = cap.monthly_cost(s, cap.PRICES["us-east-1"])
    month = 730 * 3600
    # Kinesis: 4 streams x 2 shards x $0.015 x 730 h, plus (3 x 1,000 + 10) records/s of 1 PUT unit each
    assert cost["Kinesis (4 streams, provisioned)"] == pytest.approx(
        8 * 0.015 * 730 + 3010 * month / 1e6 * 0.014
    )
    assert cost["Managed Service for Apache Flink"] == pytest.approx(3 * 0.11 * 730)  # $240.90
    # Lambda: 2 functions x 10 invocations/s; (0.1 + 0.2) s x 0.25 GB per batch pair
    lam = 20 * month / 1e6 * 0.20 + 10 * 0.3 * 0.25 * month * 0.0000166667
    assert cost["Lambda (ingest, score)"] == pytest.approx(lam)
    w = r = 10 * d(100, 5000)
    fs = (w * 1.25 + r * 0.25) * month / 1e6 + 2 * 10_000 * 512 / 1e9 * 0.45
    assert cost["Feature Store (on-demand)"] == pytest.approx(fs)
    # serverless: 10 calls/s x 0.02 s x 2 GB x $0.00002 per GB-second
    assert cost["SageMaker endpoint"] == pytest.approx(10 * 0.02 * 2 * 0.00002 * month)
    assert cost["KMS key, dashboard, alarms"] == pytest.approx(1 + 3 + 10 * 0.10)
    # enhanced fan-out: 2 consumers x 2 shards x $0.015 x 730 h, plus 2 x 1,000 x 236 B/s read at $0.013/GB
    assert cost["Kinesis enhanced fan-out (2 consumers)"] == pytest.approx(
        4 * 0.015 * 730 + 2 * 1000 * 236 * month / 1e9 * 0.013
    )  # $43.80 + $15.65
    # Firehose: two archives, 1,000 records/s each, every record (121 B, 468 B) billed as 5 KB at $0.029/GB
    assert cost["Firehose archives (transactions, predictions)"] == pytest.approx(
        2 * 1000 * 5120 * month / 1e9 * 0.029
    )  # ~$780
    # S3: a day's records x retention (400 and 7 days) x GZIP ratio 0.31, at $0.023 per GB-month
    stored_gb = 1000 * 86_400 * (400 * 121 + 7 * 468) * 0.31 / 1e9
    assert cost["S3 archives (GZIP, at full retention)"] == pytest.approx(stored_gb * 0.023)  # ~$32
    seed = cap.seed_monthly_cost(cap.size_seed(1000), cap.PRICES["us-east-1"], 10_000)
    assert len(seed) == len(cost)  # side by side, row by row; the original design archived nothing
    assert (
        seed["Firehose archives (transactions, predictions)"]
        == seed["S3 archives (GZIP, at full retention)"]
        == 0
    )


def test_the_seed_pays_per_transaction_at_the_endpoint() -> None:
    prices = cap.PRICES["us-east-1"]
    ours = cap.monthly_cost(cap.size(1000), prices)["SageMaker endpoint"]
    seed = cap.seed_monthly_cost(cap.size_seed(1000), prices, cap.DEFAULT_CARDS)["SageMaker endpoint"]
    assert seed / ours == pytest.approx(100)  # one call per transaction against one per batch of 100


# --------------------------------------------------------------------------- latency by hand


def test_the_budget_at_1000_tps_with_the_defaults() -> None:
    s = cap.size(1000)
    hops = {h.name: h for h in cap.budget(s, cap.Freshness())}
    ooo = STREAM.out_of_orderness.total_seconds() * 1000
    assert ooo == 200
    # 500 tx/s per shard: the watermark passes a row after the bound plus an exponential wait
    assert hops["watermark passes the row"].p99 == pytest.approx(200 + 1000 * math.log(100) / 500)  # 209.2
    # the sinks flush after 100 ms (features/flink_sql.py), long before 500 records gather (1 s)
    assert hops["Flink sink flushes to aggregates"].p99 == pytest.approx(100)
    # enhanced fan-out (the Terraform default): 70 ms average propagation, p99 taken as twice that
    assert hops["event source mapping reads"].p99 == 140
    assert hops["batching window"].p99 == 0
    _, p99 = cap.total(hops.values())
    assert p99 == pytest.approx(50 + 250 + 209.2 + 100 + 140 + 0 + 30 + 30 + 60, abs=0.1)  # 869.2


def test_the_budget_before_the_freshness_defaults() -> None:
    """The connector's 5 s flush and standard iterators (the previous defaults): at 100 tx/s the sink
    waits its whole timeout (500 records take 5 s to gather) and the mapping polls once a second."""
    before = cap.Freshness(sink_flush_ms=cap.SINK_FLUSH_CONNECTOR_DEFAULT_MS.value, esm="standard")
    assert cap.total(cap.budget(cap.size(100), before))[1] == pytest.approx(
        50 + 250 + 200 + 1000 * math.log(100) / 100 + 5000 + 1000 + 120, abs=0.1
    )  # 6,666
    assert cap.total(cap.budget(cap.size(1000), before))[1] == pytest.approx(
        50 + 250 + 209.21 + 1000 + 1000 + 120, abs=0.1
    )  # 2,629


def test_each_choice_is_weighed_against_its_alternative_by_hand() -> None:
    s = cap.size(100)  # one shard, 100 tx/s
    gains = {c.instead_name: cap.p99_gain(s, c) for c in cap.choices(s, cap.PRICES["us-east-1"])}
    assert gains["standard iterators"] == pytest.approx(1000 - 140)  # a poll a second vs 2 x 70 ms
    assert gains["the connector's 5,000 ms"] == pytest.approx(5000 - 100)  # 500 records take 5 s at 100/s
    assert gains["2,000 ms"] == pytest.approx(1800)  # the watermark bound itself
    assert gains["a 1 s window"] == pytest.approx(1000)  # 100 records take 1 s: the window runs out
    assert gains["serverless"] == pytest.approx(60 - 30)  # instances' p99 against serverless warm
    assert gains["POLLING"] == pytest.approx(250 - 140)  # the Flink source on enhanced fan-out


@pytest.mark.parametrize(
    "tps, sink, expected",
    [
        # 100 tx/s, 1 shard: watermark 200 + 46.05; the sink waits its 5 s timeout (500 records take 5 s)
        (100, 5000, 50 + 250 + 246.05 + 5000 + 1000 + 120),
        # the target: sink 100 ms, the event source mapping on enhanced fan-out (p99 2 x 70 ms)
        (100, 100, 50 + 250 + 246.05 + 100 + 140 + 120),
        (1000, 100, 50 + 250 + 209.21 + 100 + 140 + 120),
    ],
)
def test_the_budget_by_hand(tps: float, sink: float, expected: float) -> None:
    f = cap.Freshness(sink_flush_ms=sink, esm="standard" if sink == 5000 else "efo")
    _, p99 = cap.total(cap.budget(cap.size(tps), f))
    assert p99 == pytest.approx(expected, abs=0.1)


def test_the_defaults_are_about_one_second_and_a_batching_window_adds_its_length() -> None:
    for tps in (100, 1000, 10_000):
        assert cap.total(cap.budget(cap.size(tps), cap.Freshness()))[1] <= 1000
    s = cap.size(10)  # 10 tx/s: a 1 s window never fills 100 records, so it waits 1 s
    with_window = cap.total(cap.budget(s, cap.Freshness(batching_window_s=1)))[1]
    assert with_window - cap.total(cap.budget(s, cap.Freshness()))[1] == pytest.approx(1000)


# ------------------------------------------------------------------------------------- CLI


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bench.capacity", *args], capture_output=True, text=True, cwd=REPO, check=False
    )


def test_cli_prints_the_tables_and_the_budget() -> None:
    done = run("--tps", "1000", "--latency")
    assert done.returncode == 0, done.stderr
    assert "Terraform `shard_count` = 2" in done.stdout and "first limit" in done.stdout
    assert "Event-to-prediction budget" in done.stdout and "prices read 2026-12-06" in done.stdout


@pytest.mark.parametrize(
    "args, message",
    [
        (["--tps", "0"], "--tps must be a positive number"),
        (["--tps", "-5"], "--tps must be a positive number"),
        (["--tps", "nan"], "--tps must be a positive number"),
        (["--tps", "many"], "invalid float value"),
        (["--tps", "10", "--cards", "0"], "--cards must be >= 1"),
        (["--tps", "10", "--region", "eu-west-1"], "no prices for region 'eu-west-1' (have: us-east-1)"),
        ([], "required: --tps"),
    ],
)
def test_cli_errors_are_one_line(args: list[str], message: str) -> None:
    done = run(*args)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.count("\n") == 1 and message in done.stderr, done.stderr


# --------------------------------------------------------------------------------- sources


def facts() -> dict[str, cap.Fact]:
    found = {name: v for name, v in vars(cap).items() if isinstance(v, cap.Fact)}
    for region, prices in cap.PRICES.items():
        found |= {f"{region}.{k}": v for k, v in vars(prices).items()}
    return found


def test_every_constant_has_a_source() -> None:
    """A URL, or a file of this repository; anything else must say it is an estimate."""
    for name, fact in {**facts(), **{n: v for n, v in vars(cap).items() if isinstance(v, cap.Span)}}.items():
        assert fact.source.strip(), name
        first = re.split(r"[\s:]", fact.source, maxsplit=1)[0]
        assert fact.estimate or fact.source.startswith("https://") or (REPO / first).exists(), (
            name,
            fact.source,
        )
    for name, value in vars(cap.PRICES["us-east-1"]).items():
        assert value.source.startswith("https://aws.amazon.com/"), name  # a pricing page


def test_the_repository_figures_match_their_sources() -> None:
    bench = (REPO / "BENCHMARKS.md").read_text()
    # Each `make bench` re-measures these, so the constants must stay near the latest run, not equal
    # to it: record sizes within 10%, the Flink estimate (marked as one) within a factor of 2.
    (sizes,) = re.findall(r"records transactions (\d+) B, aggregates (\d+) B, predictions (\d+) B", bench)
    pinned = (cap.TRANSACTION_BYTES.value, cap.AGGREGATE_BYTES.value, cap.PREDICTION_BYTES.value)
    assert all(v == pytest.approx(int(m), rel=0.1) for v, m in zip(pinned, sizes, strict=True))
    (net,) = re.findall(r"events/s net of the fixed job cost \| ([0-9.e+]+) events/s", bench)
    assert float(net) / 2 <= cap.FLINK_EVENTS_PER_KPU.value <= float(net) * 2
    assert cap.ESM_BATCH_SIZE.value == cap.FS_RECORDS_PER_BATCH_GET.value == RECORDS_PER_CALL == 100

    def default(module: str, name: str) -> object:
        blocks = hcl2.loads((REPO / "terraform/modules" / module / "variables.tf").read_text())["variable"]
        return next(b[f'"{name}"'] for b in blocks if f'"{name}"' in b)["default"]

    assert cap.LAMBDA_MEMORY_GB.value * 1024 == default("functions", "memory_size")
    root = {
        name.strip('"'): block["default"]
        for b in hcl2.loads((REPO / "terraform/envs/aws/variables.tf").read_text())["variable"]
        for name, block in b.items()
    }
    assert cap.TF_TRANSACTIONS_RETENTION_DAYS.value == root["transactions_retention_days"]
    assert cap.TF_PREDICTIONS_RETENTION_DAYS.value == root["predictions_retention_days"]
    assert cap.SERVERLESS_MEMORY_GB.value * 1024 == default("model_endpoint", "serverless_memory_mb")
    assert default("model_endpoint", "endpoint_type") == f'"{cap.Freshness().endpoint}"'
    # the mappings read through enhanced fan-out consumers unless turned off, in both roots' defaults
    for path in ("terraform/modules/functions/variables.tf", "terraform/envs/aws/variables.tf"):
        (block,) = [
            b['"enhanced_fan_out"']
            for b in hcl2.loads((REPO / path).read_text())["variable"]
            if '"enhanced_fan_out"' in b
        ]
        assert block["default"] is bool(cap.TF_ENHANCED_FAN_OUT.value) is True, path
        assert cap.Freshness().esm == "efo"
    # the sink flush the budget assumes is what the rendered Flink SQL sets on both Kinesis sinks
    rendered = (REPO / "features/rendered/flink.sql").read_text()
    assert rendered.count(f"'sink.flush-buffer.timeout' = '{cap.SINK_FLUSH_TIMEOUT_MS.value:g}'") == 2
    assert cap.Freshness().sink_flush_ms == cap.SINK_FLUSH_TIMEOUT_MS.value == 100
    # the batching window the budget assumes is the default of both variables.tf files
    for path in ("terraform/modules/functions/variables.tf", "terraform/envs/aws/variables.tf"):
        text = (REPO / path).read_text()
        window = re.findall(r"maximum_batching_window_in_seconds\s*=\s*optional\(number,\s*([0-9.]+)\)", text)
        assert window == [f"{cap.TF_BATCHING_WINDOW_S.value:g}"], path


def test_docs_quote_these_prices() -> None:
    """One source of truth: docs/deploy.md's cost table states the prices bench/capacity.py holds."""
    deploy = (REPO / "docs/deploy.md").read_text()
    p = cap.PRICES["us-east-1"]
    assert f"prices read {cap.PRICES_READ}" in deploy
    assert f"${p.kpu_hour.value:g} per KPU-hour" in deploy
    assert f"${p.shard_hour.value:g} per shard-hour" in deploy
    assert f"${p.on_demand_stream_hour.value:.2f}\nper stream-hour" in deploy or (
        f"${p.on_demand_stream_hour.value:.2f} per stream-hour" in deploy
    )
    assert f"${p.kms_key_month.value:g} per month" in deploy
    assert (
        f"${p.dashboard_month.value:g} per dashboard-month, ${p.alarm_month.value:.2f} per alarm-month"
        in deploy
    )
    assert f"${p.efo_consumer_shard_hour.value:g} per consumer-shard-hour" in deploy
    assert f"${p.efo_gb.value:g} per GB read" in deploy
    assert f"${p.firehose_gb.value:g} per GB ingested" in deploy


@pytest.mark.parametrize("tps", [100, 1000, 10_000])
def test_docs_capacity_holds_the_current_output(tps: int) -> None:
    """docs/capacity.md is this module's output; regenerate it after changing a constant."""
    text = (REPO / "docs/capacity.md").read_text()
    assert cap.report(tps, latency=tps == 1000) in text
