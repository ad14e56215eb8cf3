"""python -m bench.capacity --tps N [--cards M] [--region R] [--latency]: AWS sizing, cost and freshness.

For N transactions per second: Kinesis shards per stream, Flink KPUs and parallelism, Lambda
concurrency and parallelization factor, Feature Store calls and request units against the per-API
quotas, the endpoint, and the monthly cost from public prices, beside the original sample's
design (one GetRecord per feature group per transaction, one PutRecord per record, KDA SQL). Each
size names the first quota or limit it hits as the load grows. `--latency` adds the
event-to-prediction budget of the aws profile, hop by hop.

Everything is a pure function of its arguments over the `Fact` constants below; each Fact names
its source (an AWS page, a file of this repository) and whether it is an estimate. docs/capacity.md
holds this module's output for 100, 1,000 and 10,000 tx/s; docs/deploy.md quotes its prices.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import NoReturn

from features.definition import STREAM
from features.flink_sql import SINK_FLUSH_TIMEOUT_MS as RENDERED_SINK_FLUSH_MS
from functions.common.scoring import RECORDS_PER_CALL


@dataclass(frozen=True)
class Fact:
    """A number the model relies on, with where it comes from."""

    value: float
    unit: str
    source: str  # a URL, or a path of this repository and what in it
    estimate: bool = False  # not read from a page or measured on AWS: a stated assumption


# --- sources -------------------------------------------------------------------------------------

KINESIS_QUOTAS = "https://docs.aws.amazon.com/streams/latest/dev/service-sizes-and-limits.html"
KINESIS_CONSUMERS = "https://docs.aws.amazon.com/streams/latest/dev/enhanced-consumers.html"
KINESIS_PRICING = "https://aws.amazon.com/kinesis/data-streams/pricing/"
FLINK_PRICING = "https://aws.amazon.com/managed-service-apache-flink/pricing/"
FLINK_BILLING = "https://docs.aws.amazon.com/managed-flink/latest/java/how-pricing.html"
FLINK_PARALLELISM = "https://docs.aws.amazon.com/managed-flink/latest/apiv2/API_ParallelismConfiguration.html"
FLINK_KINESIS_CONNECTOR = (
    "https://nightlies.apache.org/flink/flink-docs-release-1.20/docs/connectors/table/kinesis/"
    " (apache/flink-connector-aws docs/content/docs/connectors/table/kinesis.md)"
)
LAMBDA_KINESIS = "https://docs.aws.amazon.com/lambda/latest/dg/with-kinesis.html"
LAMBDA_ESM_API = "https://docs.aws.amazon.com/lambda/latest/api/API_CreateEventSourceMapping.html"
LAMBDA_QUOTAS = "https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html"
LAMBDA_PRICING = "https://aws.amazon.com/lambda/pricing/"
FS_QUOTAS = "https://docs.aws.amazon.com/sagemaker/latest/dg/feature-store-quotas.html"
FS_THROUGHPUT = "https://docs.aws.amazon.com/sagemaker/latest/dg/feature-store-throughput-mode.html"
SAGEMAKER_PRICING = "https://aws.amazon.com/sagemaker/pricing/"
SERVERLESS_CONFIG = (
    "https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_ProductionVariantServerlessConfig.html"
)
SERVERLESS_DOCS = "https://docs.aws.amazon.com/sagemaker/latest/dg/serverless-endpoints.html"
KDA_SQL_END = "https://docs.aws.amazon.com/kinesisanalytics/latest/dev/discontinuation.html"
CLOUDWATCH_PRICING = "https://aws.amazon.com/cloudwatch/pricing/"
KMS_PRICING = "https://aws.amazon.com/kms/pricing/"
FIREHOSE_PRICING = "https://aws.amazon.com/firehose/pricing/"
S3_PRICING = "https://aws.amazon.com/s3/pricing/"
BENCHMARKS = "BENCHMARKS.md"

# --- measured record sizes (BENCHMARKS.md, localstack ceiling row: "records transactions 121 B,
# aggregates 236 B, predictions 468 B") -----------------------------------------------------------

TRANSACTION_BYTES = Fact(121, "B", f"{BENCHMARKS}: localstack ceiling row, records transactions 121 B")
AGGREGATE_BYTES = Fact(236, "B", f"{BENCHMARKS}: localstack ceiling row, aggregates 236 B")
PREDICTION_BYTES = Fact(468, "B", f"{BENCHMARKS}: localstack ceiling row, predictions 468 B")
LATE_BYTES = Fact(200, "B", "a transaction (121 B) plus its reason text; not measured", estimate=True)
LATE_SHARE = Fact(
    0.01, "of transactions", "late rows depend on the producers' disorder against the bound", estimate=True
)

# --- planning rule (a choice, not an AWS figure) --------------------------------------------------

# Size every per-second quota for 80% use: bursts and uneven partition keys need room, and a
# provisioned shard at 100% throttles (ProvisionedThroughputExceeded) on the first burst.
TARGET_UTILIZATION = Fact(0.8, "of each quota", "bench/capacity.py: the planning rule (headroom for bursts)")

# --- Kinesis Data Streams -------------------------------------------------------------------------

SHARD_WRITE_RECORDS = Fact(1000, "records/s per shard", KINESIS_QUOTAS)
SHARD_WRITE_BYTES = Fact(1_000_000, "B/s per shard (1 MB)", KINESIS_QUOTAS)
SHARD_READ_BYTES = Fact(2_000_000, "B/s per shard (2 MB), shared by standard consumers", KINESIS_QUOTAS)
SHARD_READ_CALLS = Fact(5, "GetRecords/s per shard, shared by standard consumers", KINESIS_QUOTAS)
ACCOUNT_SHARDS = Fact(20_000, "shards per account (us-east-1, us-west-2, eu-west-1)", KINESIS_QUOTAS)
ON_DEMAND_STREAMS = Fact(50, "on-demand streams per account", KINESIS_QUOTAS)
PUT_PAYLOAD_UNIT = Fact(25 * 1024, "B per PUT payload unit", KINESIS_PRICING)
ON_DEMAND_BILLED_KB = Fact(1024, "B: on-demand bills each record rounded up to 1 KB", KINESIS_PRICING)

# --- Managed Service for Apache Flink -------------------------------------------------------------

FLINK_EVENTS_PER_KPU = Fact(
    22_900,
    "events/s per KPU (1 vCPU, 4 GB)",
    f"{BENCHMARKS}: flink row 'events/s net of the fixed job cost', parallelism 1 on one core of the "
    "bench machine with the filesystem connector; the Kinesis connector's (de)serialisation is not in it",
    estimate=True,
)
MAX_PARALLELISM_PER_KPU = Fact(8, "parallel tasks per KPU", FLINK_PARALLELISM)
MAX_KPUS = Fact(32, "KPUs per application (default quota)", FLINK_PARALLELISM)
ORCHESTRATION_KPUS = Fact(1, "extra KPU per application", FLINK_BILLING)

# --- Lambda and its Kinesis event source mapping --------------------------------------------------

MAX_PARALLELIZATION_FACTOR = Fact(10, "concurrent batches per shard", LAMBDA_ESM_API)
ACCOUNT_CONCURRENCY = Fact(1000, "concurrent executions per Region (default quota)", LAMBDA_QUOTAS)
ESM_POLLS_PER_SECOND = Fact(1, "GetRecords per shard per second (standard iterator)", LAMBDA_KINESIS)
ESM_BATCH_SIZE = Fact(
    RECORDS_PER_CALL, "records per batch", "terraform/modules/functions/variables.tf event_source.batch_size"
)
FUNCTIONS_ON_AGGREGATES = Fact(
    2, "event source mappings on the aggregates stream (ingest, score)", "docs/architecture.md"
)
LAMBDA_MEMORY_GB = Fact(0.25, "GB per function", "terraform/modules/functions/variables.tf memory_size 256")
SCORE_SECONDS = Fact(
    0.1,
    "s per full batch of the score function (BatchGetRecord, InvokeEndpoint, PutRecords)",
    "not measured on AWS",
    estimate=True,
)
INGEST_SECONDS = Fact(
    0.2,
    "s per full batch of the ingest function (a PutRecord per card)",
    "not measured on AWS",
    estimate=True,
)
SEED_SECONDS_PER_TX = Fact(
    0.03,
    "s per transaction in the seed's functions (2 GetRecord + 1 InvokeEndpoint, in turn)",
    "not measured",
    estimate=True,
)

# --- Feature Store ------------------------------------------------------------------------------

FS_TPS_PER_API = Fact(10_000, "TPS per API per account (soft), except BatchGetRecord", FS_QUOTAS)
FS_BATCH_GET_TPS = Fact(500, "BatchGetRecord TPS per account (soft)", FS_QUOTAS)
FS_RECORDS_PER_BATCH_GET = Fact(
    RECORDS_PER_CALL,
    "records per BatchGetRecord call",
    f"{FS_QUOTAS}; functions/common/scoring.py RECORDS_PER_CALL",
)
FS_WRU_BYTES = Fact(1024, "B per write request unit", FS_QUOTAS)
FS_RRU_BYTES = Fact(4096, "B per read request unit", FS_QUOTAS)
FS_RECORD_BYTES = Fact(512, "B per online record (features + metadata)", "not measured", estimate=True)

# --- SageMaker endpoint -------------------------------------------------------------------------

SERVERLESS_MAX_CONCURRENCY = Fact(200, "concurrent invocations per serverless endpoint", SERVERLESS_CONFIG)
SERVERLESS_MEMORY_GB = Fact(
    2, "GB", "terraform/modules/model_endpoint/variables.tf serverless_memory_mb 2048"
)
INVOKE_SECONDS = Fact(0.02, "s billed per InvokeEndpoint of one batch", "not measured on AWS", estimate=True)
INSTANCE_REQUESTS_PER_S = Fact(
    300, "InvokeEndpoint/s per ml.m5.large (one batch of rows each)", "not measured on AWS", estimate=True
)

# --- prices (us-east-1, read 2026-12-06; docs/deploy.md quotes these) ----------------------------

PRICES_READ = "2026-12-06"
HOURS_PER_MONTH = 730
SECONDS_PER_MONTH = HOURS_PER_MONTH * 3600


@dataclass(frozen=True)
class Prices:
    kpu_hour: Fact
    shard_hour: Fact
    put_units_per_million: Fact
    on_demand_stream_hour: Fact
    on_demand_gb_in: Fact
    on_demand_gb_out: Fact
    lambda_requests_per_million: Fact
    lambda_gb_second: Fact
    fs_wru_per_million: Fact
    fs_rru_per_million: Fact
    fs_storage_gb_month: Fact
    serverless_gb_second: Fact
    instance_hour: Fact
    kms_key_month: Fact
    dashboard_month: Fact
    alarm_month: Fact
    efo_consumer_shard_hour: Fact
    efo_gb: Fact
    firehose_gb: Fact
    s3_gb_month: Fact


PRICES = {
    "us-east-1": Prices(
        kpu_hour=Fact(0.11, "$ per KPU-hour", FLINK_PRICING),
        shard_hour=Fact(0.015, "$ per shard-hour", KINESIS_PRICING, estimate=True),
        put_units_per_million=Fact(0.014, "$ per million PUT payload units", KINESIS_PRICING, estimate=True),
        on_demand_stream_hour=Fact(0.04, "$ per on-demand stream-hour", KINESIS_PRICING, estimate=True),
        on_demand_gb_in=Fact(0.08, "$ per GB written (on-demand)", KINESIS_PRICING, estimate=True),
        on_demand_gb_out=Fact(0.04, "$ per GB read (on-demand)", KINESIS_PRICING, estimate=True),
        lambda_requests_per_million=Fact(0.20, "$ per million requests", LAMBDA_PRICING, estimate=True),
        lambda_gb_second=Fact(0.0000166667, "$ per GB-second (x86)", LAMBDA_PRICING, estimate=True),
        fs_wru_per_million=Fact(1.25, "$ per million write request units", SAGEMAKER_PRICING, estimate=True),
        fs_rru_per_million=Fact(0.25, "$ per million read request units", SAGEMAKER_PRICING, estimate=True),
        fs_storage_gb_month=Fact(0.45, "$ per GB-month online storage", SAGEMAKER_PRICING, estimate=True),
        serverless_gb_second=Fact(
            0.00002, "$ per GB-second serverless inference", SAGEMAKER_PRICING, estimate=True
        ),
        instance_hour=Fact(
            0.115, "$ per ml.m5.large hour (real-time inference)", SAGEMAKER_PRICING, estimate=True
        ),
        kms_key_month=Fact(1.0, "$ per key-month", KMS_PRICING, estimate=True),
        dashboard_month=Fact(3.0, "$ per dashboard-month", CLOUDWATCH_PRICING, estimate=True),
        alarm_month=Fact(0.10, "$ per standard alarm-month", CLOUDWATCH_PRICING, estimate=True),
        efo_consumer_shard_hour=Fact(0.015, "$ per EFO consumer-shard-hour", KINESIS_PRICING, estimate=True),
        efo_gb=Fact(0.013, "$ per GB read by an EFO consumer", KINESIS_PRICING, estimate=True),
        firehose_gb=Fact(0.029, "$ per GB ingested (first 500 TB a month)", FIREHOSE_PRICING, estimate=True),
        s3_gb_month=Fact(0.023, "$ per GB-month S3 Standard (first 50 TB)", S3_PRICING, estimate=True),
    )
}
ALARMS = 10  # docs/deploy.md: "~10 alarms"

# The two Firehose archives (terraform/modules/stream_archive): the transactions feed the daily
# refresh, the predictions the consistency run.
FIREHOSE_BILLED_UNIT = Fact(
    5 * 1024,
    "B: ingestion billed per record rounded up to 5 KB (Kinesis Data Streams source)",
    FIREHOSE_PRICING,
)
ARCHIVE_GZIP_RATIO = Fact(
    0.31,
    "GZIP size / JSON size: 50,000 generated transaction records, 122 B -> 38 B each, measured once "
    "(not by make bench); predictions assumed alike",
    "not measured by make bench",
    estimate=True,
)
TF_TRANSACTIONS_RETENTION_DAYS = Fact(
    400,
    "days the transactions archive is kept",
    "terraform/envs/aws/variables.tf transactions_retention_days",
)
TF_PREDICTIONS_RETENTION_DAYS = Fact(
    7, "days the predictions archive is kept", "terraform/envs/aws/variables.tf predictions_retention_days"
)
ARCHIVES = (  # (record size, retention) of each archived stream
    (TRANSACTION_BYTES, TF_TRANSACTIONS_RETENTION_DAYS),
    (PREDICTION_BYTES, TF_PREDICTIONS_RETENTION_DAYS),
)
DEFAULT_REGION = "us-east-1"
DEFAULT_CARDS = 10_000  # the generator's default card count (BENCHMARKS.md generator rows)


# --- sizing -------------------------------------------------------------------------------------


def ceil_div(a: float, b: float) -> int:
    return max(1, math.ceil(a / b - 1e-12))


def shards_for(records_per_s: float, record_bytes: float, readers: int = 1) -> int:
    """Provisioned shards for one stream, each per-shard quota used at TARGET_UTILIZATION at most."""
    u = TARGET_UTILIZATION.value
    return max(
        ceil_div(records_per_s, SHARD_WRITE_RECORDS.value * u),
        ceil_div(records_per_s * record_bytes, SHARD_WRITE_BYTES.value * u),
        ceil_div(readers * records_per_s * record_bytes, SHARD_READ_BYTES.value * u),
    )


def distinct_cards(records: float, cards: float) -> float:
    """Expected distinct cards among `records` transactions spread uniformly over `cards` cards."""
    if cards <= 1:
        return min(records, 1.0)
    return cards * (1.0 - (1.0 - 1.0 / cards) ** records)


@dataclass(frozen=True)
class Limit:
    name: str
    used: float
    limit: float
    source: str
    scales: bool = True  # grows with the rate (else: hit at any rate)

    @property
    def utilization(self) -> float:
        return self.used / self.limit


@dataclass(frozen=True)
class Sizing:
    tps: float
    cards: int
    stream_shards: dict[str, int]  # what each stream needs on its own
    shard_count: int  # Terraform's shard_count (one for every stream) = flink_parallelism
    parallelism_per_kpu: int  # what the load allows (module variable parallelism_per_kpu)
    kpus: int  # billed with the module default parallelism_per_kpu 1, orchestration KPU included
    kpus_packed: int  # billed with parallelism_per_kpu as above
    parallelization_factor: int
    lambda_concurrency: int  # both functions
    invocations_per_s: float  # per function
    records_per_batch: float
    cards_per_batch: float
    put_record_per_s: float
    batch_get_per_s: float
    wru_per_s: float
    rru_per_s: float
    endpoint: str  # "serverless (max concurrency C)" or "instances (ml.m5.large x K)"
    endpoint_concurrency: int
    endpoint_instances: int
    limits: list[Limit] = field(default_factory=list)

    @property
    def first_limit(self) -> Limit:
        """The quota nearest to use as the rate grows."""
        return max(self.limits, key=lambda lim: lim.utilization)


def size(tps: float, cards: int = DEFAULT_CARDS) -> Sizing:
    """The default stack (PROVISIONED streams, one shard per Flink subtask) sized for `tps`."""
    u = TARGET_UTILIZATION.value
    late = tps * LATE_SHARE.value
    need = {
        "transactions": shards_for(tps, TRANSACTION_BYTES.value),
        "aggregates": shards_for(tps, AGGREGATE_BYTES.value, readers=FUNCTIONS_ON_AGGREGATES.value),
        "predictions": shards_for(tps, PREDICTION_BYTES.value),
        "late": shards_for(late, LATE_BYTES.value),
    }
    flink_need = ceil_div(tps, FLINK_EVENTS_PER_KPU.value * u)
    # jobs/flink/README.md: shard_count == flink_parallelism, one shard per source subtask, and
    # terraform/envs/aws has one shard_count for the four streams.
    shards = max(*need.values(), flink_need)
    per_subtask = tps / shards
    ppk = int(
        min(MAX_PARALLELISM_PER_KPU.value, max(1, FLINK_EVENTS_PER_KPU.value * u // max(per_subtask, 1)))
    )
    kpus = shards + int(ORCHESTRATION_KPUS.value)
    kpus_packed = math.ceil(shards / ppk) + int(ORCHESTRATION_KPUS.value)

    # Event source mapping, per shard of the aggregates stream: one poll a second; more batches
    # back to back while records wait (with_kinesis: "keeps processing batches until caught up").
    per_shard = tps / shards
    inv_per_shard = max(ESM_POLLS_PER_SECOND.value, per_shard / ESM_BATCH_SIZE.value) if tps > 0 else 0.0
    records_per_batch = per_shard / inv_per_shard if inv_per_shard else 0.0
    busy = inv_per_shard * SCORE_SECONDS.value  # seconds of score work per second per shard
    factor = min(int(MAX_PARALLELIZATION_FACTOR.value), ceil_div(busy, u))
    concurrency = int(FUNCTIONS_ON_AGGREGATES.value) * shards * factor
    invocations = inv_per_shard * shards
    # Partition key = card: a shard holds cards / shards of the cards.
    batch_cards = distinct_cards(records_per_batch, max(cards / shards, 1))
    put_record = invocations * batch_cards  # ingest: one PutRecord per card per batch
    batch_get = invocations * math.ceil(batch_cards / FS_RECORDS_PER_BATCH_GET.value - 1e-12)
    wru = put_record * math.ceil(FS_RECORD_BYTES.value / FS_WRU_BYTES.value)
    rru = invocations * batch_cards * math.ceil(FS_RECORD_BYTES.value / FS_RRU_BYTES.value)

    score_concurrency = shards * factor
    if score_concurrency <= SERVERLESS_MAX_CONCURRENCY.value:
        endpoint, instances = f"serverless, max concurrency {max(score_concurrency, 1)}", 0
    else:
        instances = ceil_div(invocations, INSTANCE_REQUESTS_PER_S.value * u)
        endpoint = f"instances, ml.m5.large x {instances}"
    limits = [
        Limit("Feature Store PutRecord TPS per account", put_record, FS_TPS_PER_API.value, FS_QUOTAS),
        Limit("Feature Store BatchGetRecord TPS per account", batch_get, FS_BATCH_GET_TPS.value, FS_QUOTAS),
        Limit(
            "Lambda concurrent executions per Region", concurrency, ACCOUNT_CONCURRENCY.value, LAMBDA_QUOTAS
        ),
        Limit("Flink KPUs per application", kpus, MAX_KPUS.value, FLINK_PARALLELISM),
        Limit("Kinesis shards per account", 4 * shards, ACCOUNT_SHARDS.value, KINESIS_QUOTAS),
        Limit(
            "Serverless endpoint max concurrency (then instances)",
            score_concurrency,
            SERVERLESS_MAX_CONCURRENCY.value,
            SERVERLESS_CONFIG,
        ),
    ]
    return Sizing(
        tps=tps,
        cards=cards,
        stream_shards=need,
        shard_count=shards,
        parallelism_per_kpu=ppk,
        kpus=kpus,
        kpus_packed=kpus_packed,
        parallelization_factor=factor,
        lambda_concurrency=concurrency,
        invocations_per_s=invocations,
        records_per_batch=records_per_batch,
        cards_per_batch=batch_cards,
        put_record_per_s=put_record,
        batch_get_per_s=batch_get,
        wru_per_s=wru,
        rru_per_s=rru,
        endpoint=endpoint,
        endpoint_concurrency=score_concurrency,
        endpoint_instances=instances,
        limits=limits,
    )


@dataclass(frozen=True)
class SeedSizing:
    """The original sample: KDA SQL, per-record PutRecord, two GetRecord per transaction."""

    tps: float
    shards: int
    kpus: int
    put_record_per_s: float
    get_record_per_s: float
    invoke_per_s: float
    limits: list[Limit]

    @property
    def first_limit(self) -> Limit:
        return max(self.limits, key=lambda lim: lim.utilization)


def size_seed(tps: float) -> SeedSizing:
    u = TARGET_UTILIZATION.value
    shards = shards_for(tps, TRANSACTION_BYTES.value)
    kpus = ceil_div(tps, FLINK_EVENTS_PER_KPU.value * u)  # KDA SQL: same throughput per KPU assumed
    puts, gets, invokes = tps, 2 * tps, tps
    limits = [
        # Discontinued: no new applications since 2025-10-15, no service since 2026-01-27.
        Limit("KDA SQL discontinued (cannot be created)", 1, 1, KDA_SQL_END, scales=False),
        Limit(
            "Feature Store GetRecord TPS per account (2 per transaction)",
            gets,
            FS_TPS_PER_API.value,
            FS_QUOTAS,
        ),
        Limit("Feature Store PutRecord TPS per account", puts, FS_TPS_PER_API.value, FS_QUOTAS),
        Limit(
            "Serverless endpoint max concurrency (one call per transaction)",
            invokes * INVOKE_SECONDS.value,
            SERVERLESS_MAX_CONCURRENCY.value,
            SERVERLESS_CONFIG,
        ),
    ]
    return SeedSizing(tps, shards, kpus, puts, gets, invokes, limits)


# --- cost ---------------------------------------------------------------------------------------


def monthly_cost(s: Sizing, prices: Prices) -> dict[str, float]:
    """Dollars per month of the sized stack, by item."""
    records_per_s = s.tps * 3 + s.tps * LATE_SHARE.value  # transactions, aggregates, predictions, late
    put_units = records_per_s  # every record is under 25 KB: one PUT payload unit each
    lambda_invocations = s.invocations_per_s * FUNCTIONS_ON_AGGREGATES.value
    gb_seconds = s.invocations_per_s * (SCORE_SECONDS.value + INGEST_SECONDS.value) * LAMBDA_MEMORY_GB.value
    if s.endpoint_instances:
        endpoint = s.endpoint_instances * prices.instance_hour.value * HOURS_PER_MONTH
    else:
        endpoint = (
            s.invocations_per_s
            * INVOKE_SECONDS.value
            * SERVERLESS_MEMORY_GB.value
            * prices.serverless_gb_second.value
            * SECONDS_PER_MONTH
        )
    storage_gb = 2 * s.cards * FS_RECORD_BYTES.value / 1e9  # two online feature groups
    return {
        "Kinesis (4 streams, provisioned)": 4 * s.shard_count * prices.shard_hour.value * HOURS_PER_MONTH
        + put_units * SECONDS_PER_MONTH / 1e6 * prices.put_units_per_million.value,
        # Terraform's enhanced_fan_out (TF_ENHANCED_FAN_OUT): the two mappings' consumers
        "Kinesis enhanced fan-out (2 consumers)": efo_monthly(
            s, prices, FUNCTIONS_ON_AGGREGATES.value * TF_ENHANCED_FAN_OUT.value, AGGREGATE_BYTES.value
        ),
        "Managed Service for Apache Flink": s.kpus * prices.kpu_hour.value * HOURS_PER_MONTH,
        "Lambda (ingest, score)": lambda_invocations
        * SECONDS_PER_MONTH
        / 1e6
        * prices.lambda_requests_per_million.value
        + gb_seconds * SECONDS_PER_MONTH * prices.lambda_gb_second.value,
        "Feature Store (on-demand)": (
            s.wru_per_s * prices.fs_wru_per_million.value + s.rru_per_s * prices.fs_rru_per_million.value
        )
        * SECONDS_PER_MONTH
        / 1e6
        + storage_gb * prices.fs_storage_gb_month.value,
        "SageMaker endpoint": endpoint,
        "KMS key, dashboard, alarms": prices.kms_key_month.value
        + prices.dashboard_month.value
        + ALARMS * prices.alarm_month.value,
        **archives_monthly(s.tps, prices),
    }


def archives_monthly(tps: float, prices: Prices) -> dict[str, float]:
    """Firehose ingestion of both archives (each record billed as a 5 KB multiple) and their S3
    storage once the retention is full (GZIP)."""
    billed_bytes = sum(ceil_div(size.value, FIREHOSE_BILLED_UNIT.value) for size, _ in ARCHIVES)
    stored_gb = sum(
        tps * 86_400 * days.value * size.value * ARCHIVE_GZIP_RATIO.value / 1e9 for size, days in ARCHIVES
    )
    return {
        "Firehose archives (transactions, predictions)": tps
        * billed_bytes
        * FIREHOSE_BILLED_UNIT.value
        * SECONDS_PER_MONTH
        / 1e9
        * prices.firehose_gb.value,
        "S3 archives (GZIP, at full retention)": stored_gb * prices.s3_gb_month.value,
    }


def seed_monthly_cost(s: SeedSizing, prices: Prices, cards: int) -> dict[str, float]:
    gb_seconds = s.tps * SEED_SECONDS_PER_TX.value * LAMBDA_MEMORY_GB.value
    invocations = 2 * max(s.tps / ESM_BATCH_SIZE.value, ESM_POLLS_PER_SECOND.value * s.shards)
    endpoint = (
        s.invoke_per_s * INVOKE_SECONDS.value * SERVERLESS_MEMORY_GB.value * prices.serverless_gb_second.value
    )
    storage_gb = 2 * cards * FS_RECORD_BYTES.value / 1e9
    return {
        "Kinesis (1 stream, provisioned)": s.shards * prices.shard_hour.value * HOURS_PER_MONTH
        + s.tps * SECONDS_PER_MONTH / 1e6 * prices.put_units_per_million.value,
        "Kinesis enhanced fan-out": 0.0,  # the seed polled
        "KDA SQL (retired)": s.kpus * prices.kpu_hour.value * HOURS_PER_MONTH,
        "Lambda (ingest, score)": invocations
        * SECONDS_PER_MONTH
        / 1e6
        * prices.lambda_requests_per_million.value
        + gb_seconds * SECONDS_PER_MONTH * prices.lambda_gb_second.value,
        "Feature Store (on-demand)": (
            s.put_record_per_s * prices.fs_wru_per_million.value
            + s.get_record_per_s * prices.fs_rru_per_million.value
        )
        * SECONDS_PER_MONTH
        / 1e6
        + storage_gb * prices.fs_storage_gb_month.value,
        "SageMaker endpoint": endpoint * SECONDS_PER_MONTH,
        "KMS key, dashboard, alarms": 0.0,  # the seed had none
        "Firehose archives (transactions, predictions)": 0.0,  # nor archives
        "S3 archives (GZIP, at full retention)": 0.0,
    }


# --- freshness budget (aws profile) ---------------------------------------------------------------

# Connector 5.0.0 may predate this option; a shard's 5 GetRecords/s (shared) puts >= 200 ms between
# polls either way, so 250 ms stays the bound of the wait for a row that lands after an empty fetch.
FLINK_EMPTY_FETCH_MS = Fact(
    250,
    "ms a POLLING source waits after an empty fetch",
    f"{FLINK_KINESIS_CONNECTOR}: source.reader.empty-records-fetch-interval",
)
SINK_FLUSH_CONNECTOR_DEFAULT_MS = Fact(
    5000,
    "ms a row may wait in the Kinesis sink's buffer unless the table sets the option",
    f"{FLINK_KINESIS_CONNECTOR}: sink.flush-buffer.timeout (Long, ms; default in 5.0.0)",
)
SINK_FLUSH_TIMEOUT_MS = Fact(
    RENDERED_SINK_FLUSH_MS,
    "ms a row may wait in the Kinesis sink's buffer (aggregates and late tables)",
    "features/flink_sql.py SINK_FLUSH_TIMEOUT_MS: 'sink.flush-buffer.timeout' of both Kinesis sinks",
)
SINK_BATCH_MAX = Fact(500, "records per sink batch", f"{FLINK_KINESIS_CONNECTOR}: sink.batch.max-size")
EFO_PROPAGATION_MS = Fact(70, "ms average propagation with enhanced fan-out", KINESIS_CONSUMERS)
ESM_POLL_MS = Fact(1000, "ms between polls of a shard (standard iterator)", LAMBDA_KINESIS)
# The Terraform defaults this module assumes (tests/test_capacity.py checks them against the .tf files).
TF_BATCHING_WINDOW_S = Fact(
    0, "s: event_source.maximum_batching_window_in_seconds", "terraform/modules/functions/variables.tf"
)
TF_ENHANCED_FAN_OUT = Fact(
    1,
    "(1 = true): each mapping reads through its own enhanced fan-out consumer",
    "terraform/modules/functions/variables.tf enhanced_fan_out; terraform/envs/aws/variables.tf enhanced_fan_out",
)
# What the defaults replaced (the choices' alternatives below).
PREVIOUS_OUT_OF_ORDERNESS_MS = 2000  # features/definition.py STREAM before the freshness change


@dataclass(frozen=True)
class Span:
    """A hop's p50 and p99 in milliseconds, with their source."""

    p50: float
    p99: float
    source: str
    estimate: bool = False


PUT_SPAN = Span(20, 50, "PutRecords round trip in-Region; not measured on AWS", estimate=True)
LAMBDA_SPAN = Span(10, 30, "warm invocation overhead; not measured on AWS", estimate=True)
BATCH_GET_SPAN = Span(
    10, 30, f"{FS_QUOTAS} gives no latency; 'milliseconds' (BatchGetRecord launch)", estimate=True
)
INSTANCE_SPAN = Span(
    10, 30, "InvokeEndpoint of one small XGBoost batch on ml.m5.large; not measured", estimate=True
)
SERVERLESS_SPAN = Span(20, 60, f"{SERVERLESS_DOCS}: warm; a cold start adds seconds", estimate=True)
EFO_SPAN = Span(EFO_PROPAGATION_MS.value, 2 * EFO_PROPAGATION_MS.value, KINESIS_CONSUMERS, estimate=True)


@dataclass(frozen=True)
class Freshness:
    """The latency-relevant settings of the aws profile."""

    out_of_orderness_ms: float = STREAM.out_of_orderness.total_seconds() * 1000
    flink_reader: str = "POLLING"  # or EFO (connector option source.reader.type)
    sink_flush_ms: float = SINK_FLUSH_TIMEOUT_MS.value
    # "efo": a registered stream consumer as the mapping's source; "standard": a polled iterator
    esm: str = "efo" if TF_ENHANCED_FAN_OUT.value else "standard"
    batching_window_s: float = TF_BATCHING_WINDOW_S.value
    endpoint: str = "serverless"  # or instances


@dataclass(frozen=True)
class Hop:
    name: str
    setting: str
    p50: float
    p99: float
    source: str


def budget(s: Sizing, f: Freshness) -> list[Hop]:
    """Event-to-prediction, hop by hop; the total's p99 is the sum of the hops' p99 (an upper bound)."""
    rate = s.tps / s.shard_count  # per shard = per Flink subtask = per event source mapping shard
    hops = [Hop("producer PutRecords", "", PUT_SPAN.p50, PUT_SPAN.p99, PUT_SPAN.source)]
    if f.flink_reader == "EFO":
        hops.append(
            Hop(
                "Flink source reads the shard",
                "source.reader.type EFO",
                EFO_SPAN.p50,
                EFO_SPAN.p99,
                KINESIS_CONSUMERS,
            )
        )
    else:
        wait = FLINK_EMPTY_FETCH_MS.value
        hops.append(
            Hop("Flink source reads the shard", "POLLING", wait / 2, wait, FLINK_EMPTY_FETCH_MS.source)
        )
    # A row is emitted once a row at least out_of_orderness newer arrives on its shard: the bound,
    # then an exponential wait for the next arrival at `rate` (p50 ln 2 / rate, p99 ln 100 / rate).
    ooo = f.out_of_orderness_ms
    hops.append(
        Hop(
            "watermark passes the row",
            f"out-of-orderness {ooo:g} ms, {rate:,.0f} tx/s per shard",
            ooo + 1000 * math.log(2) / rate,
            ooo + 1000 * math.log(100) / rate,
            "features/definition.py STREAM; jobs/flink/README.md (lateness policy)",
        )
    )
    fill_ms = 1000 * SINK_BATCH_MAX.value / rate
    wait = min(f.sink_flush_ms, fill_ms)
    hops.append(
        Hop(
            "Flink sink flushes to aggregates",
            f"sink.flush-buffer.timeout {f.sink_flush_ms:g} ms, batch {SINK_BATCH_MAX.value:g}",
            wait / 2,
            wait,
            SINK_FLUSH_TIMEOUT_MS.source,
        )
    )
    if f.esm == "efo":
        hops.append(
            Hop(
                "event source mapping reads",
                "enhanced fan-out",
                EFO_SPAN.p50,
                EFO_SPAN.p99,
                KINESIS_CONSUMERS,
            )
        )
    else:
        poll = ESM_POLL_MS.value
        hops.append(
            Hop("event source mapping reads", "standard iterator, 1 poll/s", poll / 2, poll, LAMBDA_KINESIS)
        )
    window = 1000 * min(f.batching_window_s, ESM_BATCH_SIZE.value / rate) if f.batching_window_s else 0.0
    hops.append(
        Hop(
            "batching window",
            f"MaximumBatchingWindowInSeconds {f.batching_window_s:g}",
            window / 2,
            window,
            LAMBDA_KINESIS,
        )
    )
    hops.append(Hop("Lambda (warm)", "", LAMBDA_SPAN.p50, LAMBDA_SPAN.p99, LAMBDA_SPAN.source))
    hops.append(
        Hop(
            "BatchGetRecord",
            "one call per 100 cards",
            BATCH_GET_SPAN.p50,
            BATCH_GET_SPAN.p99,
            BATCH_GET_SPAN.source,
        )
    )
    span = INSTANCE_SPAN if f.endpoint == "instances" else SERVERLESS_SPAN
    hops.append(Hop("InvokeEndpoint", f.endpoint, span.p50, span.p99, span.source))
    return hops


def total(hops: Sequence[Hop]) -> tuple[float, float]:
    return sum(h.p50 for h in hops), sum(h.p99 for h in hops)


def efo_monthly(s: Sizing, prices: Prices, consumers: float, record_bytes: float) -> float:
    """Enhanced fan-out consumers on a stream: per consumer-shard-hour plus per GB each reads."""
    hours = consumers * s.shard_count * prices.efo_consumer_shard_hour.value * HOURS_PER_MONTH
    gb = consumers * s.tps * record_bytes * SECONDS_PER_MONTH / 1e9
    return hours + gb * prices.efo_gb.value


@dataclass(frozen=True)
class Choice:
    """A latency setting, the alternative it is weighed against, and its price."""

    setting: str
    default: bool  # a default of this repository (else: what the documents allow beyond them)
    chosen: Freshness
    instead: Freshness
    instead_name: str
    cost: str


def choices(s: Sizing, prices: Prices) -> list[Choice]:
    """Each latency choice of the aws profile against its alternative, with what it costs."""
    d = Freshness()
    efo = efo_monthly(s, prices, FUNCTIONS_ON_AGGREGATES.value, AGGREGATE_BYTES.value)
    flink_efo = efo_monthly(s, prices, 1, TRANSACTION_BYTES.value)
    replace = dataclasses.replace
    return [
        Choice(
            "enhanced_fan_out = true (functions module; envs/aws variable): one consumer per function",
            bool(TF_ENHANCED_FAN_OUT.value),
            replace(d, esm="efo"),
            replace(d, esm="standard"),
            "standard iterators",
            f"${efo:,.0f}/month ({FUNCTIONS_ON_AGGREGATES.value:g} consumers x {s.shard_count} shard(s), "
            "plus data read)",
        ),
        Choice(
            f"'sink.flush-buffer.timeout' = '{SINK_FLUSH_TIMEOUT_MS.value:g}' (features/flink_sql.py)",
            True,
            d,
            replace(d, sink_flush_ms=SINK_FLUSH_CONNECTOR_DEFAULT_MS.value),
            f"the connector's {SINK_FLUSH_CONNECTOR_DEFAULT_MS.value:,.0f} ms",
            "$0: PUT payload units are billed per record, not per call; more, smaller PutRecords calls",
        ),
        Choice(
            f"out-of-orderness {d.out_of_orderness_ms:g} ms (features/definition.py STREAM)",
            True,
            d,
            replace(d, out_of_orderness_ms=PREVIOUS_OUT_OF_ORDERNESS_MS),
            f"{PREVIOUS_OUT_OF_ORDERNESS_MS:,.0f} ms",
            "$0; rows more than the bound behind their shard's newest go to the late stream",
        ),
        Choice(
            f"MaximumBatchingWindowInSeconds {d.batching_window_s:g} (functions module; envs/aws event_source)",
            True,
            d,
            replace(d, batching_window_s=1),
            "a 1 s window",
            "$0 measurable: one invocation per poll with records, as with a 1 s window at these rates",
        ),
        Choice(
            "endpoint_type = instances (no serverless cold start)",
            False,
            replace(d, endpoint="instances"),
            d,
            "serverless",
            f"${prices.instance_hour.value * HOURS_PER_MONTH:,.0f}/month per ml.m5.large",
        ),
        Choice(
            "Flink source on enhanced fan-out ('source.reader.type' = 'EFO', connector 5.0.0; the app's role "
            "then registers its consumer)",
            False,
            replace(d, flink_reader="EFO"),
            d,
            "POLLING",
            f"${flink_efo:,.0f}/month (1 consumer x {s.shard_count} shard(s), plus data read)",
        ),
    ]


def p99_gain(s: Sizing, c: Choice) -> float:
    """Milliseconds off the p99 budget that the choice buys against its alternative."""
    return total(budget(s, c.instead))[1] - total(budget(s, c.chosen))[1]


# --- report -------------------------------------------------------------------------------------


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    return [
        "| " + " | ".join(headers) + " |",
        "|" + "---|" * len(headers),
        *("| " + " | ".join(r) + " |" for r in rows),
    ]


SEARCH_CEILING = 1e8  # tx/s beyond which a limit counts as never reached


def reached_at(limits_at: Callable[[float], Sequence[Limit]], name: str, tps: float) -> float:
    """The lowest rate (to 0.1%) at which limit `name` is used in full, given the sizing at any
    rate: the figures grow in steps (shards, KPUs), so this searches rather than extrapolates."""

    def used_up(rate: float) -> bool:
        return next(lim for lim in limits_at(rate) if lim.name == name).utilization >= 1.0

    if used_up(tps):
        low, high = 0.0, tps
    else:
        low, high = tps, tps * 2
        while not used_up(high):
            if high > SEARCH_CEILING:
                return math.inf
            low, high = high, high * 2
    while high - low > high * 1e-3:
        mid = (low + high) / 2
        low, high = (low, mid) if used_up(mid) else (mid, high)
    return high


def first_limits(limits_at: Callable[[float], Sequence[Limit]], tps: float) -> str:
    """A limit hit at any rate (if any), then the quota the load reaches first as it grows from `tps`."""
    limits = limits_at(tps)
    text = [f"{lim.name}, at any rate ({lim.source})" for lim in limits if not lim.scales]
    rates = {lim.name: reached_at(limits_at, lim.name, tps) for lim in limits if lim.scales}
    first = min(rates, key=rates.__getitem__)
    lim = next(lim for lim in limits if lim.name == first)
    text.append(
        f"{lim.name} ({lim.limit:,.0f}): reached at ~{rates[first]:,.0f} tx/s, {lim.utilization:.0%} used now ({lim.source})"
    )
    return "; then ".join(text)


def report(
    tps: float, cards: int = DEFAULT_CARDS, region: str = DEFAULT_REGION, latency: bool = False
) -> str:
    """The sizing, the cost beside the seed's design and, with `latency`, the freshness budget (Markdown)."""
    prices = PRICES[region]
    s, seed = size(tps, cards), size_seed(tps)
    cost, seed_cost = monthly_cost(s, prices), seed_monthly_cost(seed, prices, cards)
    out = [
        f"## {tps:,.0f} tx/s, {cards:,} cards, {region} (prices read {PRICES_READ})",
        "",
        f"Quotas planned at {TARGET_UTILIZATION.value:.0%} use; (est.) marks assumptions, see bench/capacity.py.",
        "",
        *_table(
            ["component", "this stack", "the original sample"],
            [
                [
                    "Kinesis shards",
                    ", ".join(f"{k} {v}" for k, v in s.stream_shards.items())
                    + f"; Terraform `shard_count` = {s.shard_count} (= `flink_parallelism`)",
                    f"transactions {seed.shards}",
                ],
                [
                    "stream processor",
                    f"Flink parallelism {s.shard_count}: {s.kpus} KPUs billed (1 orchestration); "
                    f"{s.kpus_packed} with the module's `parallelism_per_kpu` = {s.parallelism_per_kpu} "
                    f"(est. {FLINK_EVENTS_PER_KPU.value:,.0f} events/s per KPU)",
                    f"KDA SQL, {seed.kpus} KPU(s) (est.; discontinued)",
                ],
                [
                    "Lambda",
                    f"parallelization factor {s.parallelization_factor}, concurrency {s.lambda_concurrency} "
                    f"(2 functions x {s.shard_count} shard(s) x {s.parallelization_factor}); "
                    f"{s.invocations_per_s:,.1f} invocations/s per function, {s.records_per_batch:,.0f} records per batch",
                    "one invocation per batch, per-record calls inside",
                ],
                [
                    "Feature Store writes",
                    f"PutRecord {s.put_record_per_s:,.0f}/s (one per card per batch; {s.cards_per_batch:,.1f} cards "
                    f"per batch), {s.wru_per_s:,.0f} WRU/s",
                    f"PutRecord {seed.put_record_per_s:,.0f}/s (one per record)",
                ],
                [
                    "Feature Store reads",
                    f"BatchGetRecord {s.batch_get_per_s:,.1f}/s of {FS_BATCH_GET_TPS.value:,.0f}, {s.rru_per_s:,.0f} RRU/s",
                    f"GetRecord {seed.get_record_per_s:,.0f}/s of {FS_TPS_PER_API.value:,.0f} (2 per transaction)",
                ],
                ["endpoint", s.endpoint, f"InvokeEndpoint {seed.invoke_per_s:,.0f}/s (one per transaction)"],
                [
                    "first limit",
                    first_limits(lambda rate: size(rate, cards).limits, tps),
                    first_limits(lambda rate: size_seed(rate).limits, tps),
                ],
            ],
        ),
        "",
        *_table(
            ["monthly cost (USD)", "this stack", "the original sample"],
            [
                *(
                    [k, f"{v:,.0f}", f"{seed_v:,.0f}"]
                    for (k, v), seed_v in zip(cost.items(), seed_cost.values(), strict=True)
                ),
                ["**total**", f"**{sum(cost.values()):,.0f}**", f"**{sum(seed_cost.values()):,.0f}**"],
            ],
        ),
    ]
    if latency:
        out += ["", *budget_report(s, prices)]
    return "\n".join(out) + "\n"


def budget_report(s: Sizing, prices: Prices) -> list[str]:
    hops = budget(s, Freshness())
    p50, p99 = total(hops)

    def rows(default: bool) -> list[list[str]]:
        return [
            [c.setting, f"{p99_gain(s, c):,.0f} ms (against {c.instead_name})", c.cost]
            for c in choices(s, prices)
            if c.default == default
        ]

    return [
        f"### Event-to-prediction budget at {s.tps:,.0f} tx/s, Terraform defaults (p50 ~{p50:,.0f} ms, p99 <= {p99:,.0f} ms)",
        "",
        *_table(
            ["hop", "setting", "p50 ms", "p99 ms", "source"],
            [[h.name, h.setting, f"{h.p50:,.0f}", f"{h.p99:,.0f}", h.source] for h in hops],
        ),
        "",
        "What each default buys and costs:",
        "",
        *_table(["default", "p99 saved", "cost"], rows(True)),
        "",
        "Beyond the defaults:",
        "",
        *_table(["choice", "p99 saved", "cost"], rows(False)),
    ]


def budget_p99(tps: float, cards: int = DEFAULT_CARDS) -> tuple[float, float]:
    """The default stack's (p50, p99) budget in ms at `tps` (deploy.smoke prints it beside the measurement)."""
    return total(budget(size(tps, cards), Freshness()))


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # one line, not the usage block
        self.exit(2, f"error: {message}\n")


def main(argv: Sequence[str] | None = None) -> int:
    parser = _Parser(prog="python -m bench.capacity", description=__doc__.splitlines()[0])
    parser.add_argument("--tps", type=float, required=True, help="transactions per second")
    parser.add_argument(
        "--cards", type=int, default=DEFAULT_CARDS, help=f"active cards (default {DEFAULT_CARDS:,})"
    )
    parser.add_argument("--region", default=DEFAULT_REGION, help=f"one of: {', '.join(PRICES)}")
    parser.add_argument("--latency", action="store_true", help="add the event-to-prediction budget")
    args = parser.parse_args(argv)
    if not (math.isfinite(args.tps) and args.tps > 0):
        parser.error(f"--tps must be a positive number, got {args.tps:g}")
    if args.cards < 1:
        parser.error(f"--cards must be >= 1, got {args.cards}")
    if args.region not in PRICES:
        parser.error(f"no prices for region {args.region!r} (have: {', '.join(PRICES)})")
    sys.stdout.write(report(args.tps, args.cards, args.region, args.latency))
    return 0


if __name__ == "__main__":
    sys.exit(main())
