"""The one feature definition: every engine, schema and column order derives from here.

Plain data, in the spirit of Feast and Chronon: the entity, the event time, the windows,
the aggregations over them, the derived ratios, the feature groups and the model input.
Adding a feature is one edit to this file; `python -m features render` regenerates the
committed artifacts (SQL per engine, feature-group JSON) and a test fails if they drift.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Literal

AggregateFunction = Literal["count", "sum", "avg", "max", "min"]
FeatureType = Literal["Integral", "Fractional", "String"]


@dataclass(frozen=True)
class Column:
    """A column of the transaction source (the history files and the transactions stream)."""

    name: str
    dtype: Literal["string", "timestamp", "int64", "float64", "int32"]
    description: str


@dataclass(frozen=True)
class Source:
    """The transaction source: one row per card transaction."""

    entity: str
    event_time: str
    id_column: str
    amount_column: str
    label_column: str
    columns: tuple[Column, ...]
    # The seed's CSV layout names the event-time column `datetime`.
    csv_aliases: tuple[tuple[str, str], ...]

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)


@dataclass(frozen=True)
class Window:
    """A per-entity window over event time.

    `sliding`: for each transaction at t, the entity's transactions in [t - length, t], the
    transaction itself and its same-timestamp peers included (computed per transaction by the
    streaming engines and, identically, by the batch job).

    `daily_snapshot`: for each UTC midnight D, the entity's transactions in [D - length, D),
    written as a feature-group record with event time D; a transaction at t is served the
    latest snapshot with D <= t.
    """

    suffix: str
    kind: Literal["sliding", "daily_snapshot"]
    length: timedelta

    @property
    def length_ms(self) -> int:
        return int(self.length.total_seconds() * 1000)

    @property
    def length_days(self) -> int:
        if self.length % timedelta(days=1):
            raise ValueError(f"daily_snapshot window {self.suffix} must be whole days")
        return self.length.days


@dataclass(frozen=True)
class Aggregate:
    """An aggregation over a window; its name is built from prefix and window suffix."""

    prefix: str
    function: AggregateFunction
    column: str | None  # None for count
    window: Window
    description: str

    @property
    def name(self) -> str:
        return f"{self.prefix}_last_{self.window.suffix}"

    @property
    def feature_type(self) -> FeatureType:
        return "Integral" if self.function == "count" else "Fractional"


@dataclass(frozen=True)
class Ratio:
    """numerator / denominator; 0 when the denominator is missing or zero (train and serve alike)."""

    name: str
    numerator: str
    denominator: str
    description: str

    feature_type: FeatureType = "Fractional"


@dataclass(frozen=True)
class FeatureGroup:
    """A SageMaker Feature Store feature group holding every aggregate over windows of one kind."""

    name: str
    window_kind: Literal["sliding", "daily_snapshot"]
    online: bool
    offline: bool
    description: str


@dataclass(frozen=True)
class StreamSettings:
    """Settings shared by the streaming engines (Flink, KDA SQL, the local engine)."""

    # Watermark = largest event time seen - out_of_orderness. A transaction is emitted once the
    # watermark passes it; a transaction already behind the watermark goes to late records.
    # This is the latency floor of the streaming path: small by default.
    out_of_orderness: timedelta


SOURCE = Source(
    entity="cc_num",
    event_time="trans_ts",
    id_column="tid",
    amount_column="amount",
    label_column="fraud_label",
    columns=(
        Column("tid", "string", "Transaction id: md5 of timestamp, card number and amount"),
        Column("trans_ts", "timestamp", "Event time of the transaction (UTC)"),
        Column("cc_num", "int64", "Card number (16-digit, Visa-like)"),
        Column("amount", "float64", "Transaction amount"),
        Column("fraud_label", "int32", "1 when the transaction is fraudulent (history only)"),
    ),
    csv_aliases=(("datetime", "trans_ts"),),
)

EVENT_TIME_FEATURE = "trans_time"
EVENT_TIME_FEATURE_DESCRIPTION = "Event time of the record, epoch seconds (UTC)"

WINDOW_1M = Window(suffix="1m", kind="sliding", length=timedelta(minutes=1))
WINDOW_2M = Window(suffix="2m", kind="sliding", length=timedelta(minutes=2))
WINDOW_5M = Window(suffix="5m", kind="sliding", length=timedelta(minutes=5))
WINDOW_10M = Window(suffix="10m", kind="sliding", length=timedelta(minutes=10))
WINDOW_1W = Window(suffix="1w", kind="daily_snapshot", length=timedelta(days=7))

AGGREGATES: tuple[Aggregate, ...] = (
    Aggregate(
        "num_trans", "count", None, WINDOW_10M, "Card transactions in the last 10 minutes, this one included"
    ),
    Aggregate(
        "avg_amt", "avg", "amount", WINDOW_10M, "Average amount over the last 10 minutes, this one included"
    ),
    Aggregate(
        "num_trans",
        "count",
        None,
        WINDOW_1W,
        "Card transactions in the 7 days before the latest UTC midnight",
    ),
    Aggregate(
        "avg_amt",
        "avg",
        "amount",
        WINDOW_1W,
        "Average amount in the 7 days before the latest UTC midnight (0 if none)",
    ),
    # Beyond the seed: attack chains put transactions 30-120 s apart, which short windows see
    # sharply; the 1-minute count beside the 2-minute one splits that gap range in two
    # (each window's contribution: docs/model.md, "What each feature contributes").
    Aggregate(
        "num_trans", "count", None, WINDOW_1M, "Card transactions in the last minute, this one included"
    ),
    Aggregate(
        "num_trans", "count", None, WINDOW_2M, "Card transactions in the last 2 minutes, this one included"
    ),
    Aggregate(
        "num_trans", "count", None, WINDOW_5M, "Card transactions in the last 5 minutes, this one included"
    ),
)

RATIOS: tuple[Ratio, ...] = (
    Ratio(
        "amt_ratio1",
        "avg_amt_last_10m",
        "avg_amt_last_1w",
        "10-minute average amount / 1-week average amount",
    ),
    Ratio("amt_ratio2", "amount", "avg_amt_last_1w", "Transaction amount / 1-week average amount"),
    Ratio("count_ratio", "num_trans_last_10m", "num_trans_last_1w", "10-minute count / 1-week count"),
)

FEATURE_GROUPS: tuple[FeatureGroup, ...] = (
    FeatureGroup(
        "cc-agg-fg",
        "sliding",
        online=True,
        offline=False,
        description="Per-card 10-minute aggregates, written by the streaming path",
    ),
    FeatureGroup(
        "cc-agg-batch-fg",
        "daily_snapshot",
        online=True,
        offline=True,
        description="Per-card 1-week daily snapshots, written by the batch job",
    ),
)

STREAM = StreamSettings(out_of_orderness=timedelta(milliseconds=200))

# The model's input, in order: the transaction amount, every aggregate, every ratio.
MODEL_INPUT: tuple[str, ...] = (
    SOURCE.amount_column,
    *(a.name for a in AGGREGATES),
    *(r.name for r in RATIOS),
)

# Probability at or above which a transaction is flagged (the seed's threshold).
SERVING_THRESHOLD = 0.25


def aggregates_for(window: Window) -> tuple[Aggregate, ...]:
    return tuple(a for a in AGGREGATES if a.window == window)


def aggregates_of_kind(kind: str) -> tuple[Aggregate, ...]:
    return tuple(a for a in AGGREGATES if a.window.kind == kind)


def windows(kind: str) -> tuple[Window, ...]:
    seen: dict[str, Window] = {a.window.suffix: a.window for a in AGGREGATES if a.window.kind == kind}
    return tuple(seen.values())


def feature_group(name: str) -> FeatureGroup:
    return next(g for g in FEATURE_GROUPS if g.name == name)


def _validate() -> None:
    names = [a.name for a in AGGREGATES] + [r.name for r in RATIOS]
    if len(names) != len(set(names)):
        raise ValueError(f"duplicate feature names in the definition: {names}")
    known = set(names) | {c.name for c in SOURCE.columns}
    for r in RATIOS:
        for operand in (r.numerator, r.denominator):
            if operand not in known:
                raise ValueError(f"ratio {r.name} refers to unknown feature {operand}")
    if len(windows("daily_snapshot")) != 1:
        raise ValueError("the batch job supports exactly one daily_snapshot window")
    for a in AGGREGATES:
        if (a.function == "count") != (a.column is None):
            raise ValueError(f"aggregate {a.name}: count takes no column, every other function one")


_validate()
