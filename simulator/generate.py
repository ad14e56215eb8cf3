"""Generate a card-transaction history with injected fraud chains, vectorized.

The seed's distributions, with no Python loop per transaction:

- cards: `cards` distinct 16-digit Visa-like numbers (leading 4, Luhn-valid);
- legitimate transactions: uniform over cards and over whole seconds in [start, end);
- amounts: piecewise uniform over whole cents (see AMOUNT_BUCKETS), identical for fraud;
- fraud: attack chains of 3..10 transactions on one card, 30..120 s apart. The number of
  fraud transactions is round(fraud_ratio * transactions), raised to one minimal chain (3)
  when the ratio is positive but rounds lower. Each chain lives in its own (card, slot)
  cell, slots being CHAIN_SLOT_SECONDS long, so two chains on one card are always more than
  120 s apart: a card's fraud rows split at gaps > 120 s give back the chains exactly.
- `tid`: md5 hex of the tid string, see `tid_string` (the one definition of its format),
  computed by DuckDB (TID_TEXT_SQL). Rows with identical (time, card, amount), hence identical
  tids, are made unique by moving the later row's amount by one cent (rare: about one pair in
  250 histories of the seed's size).
- order: by trans_ts, then tid. The same arguments give the same table, and `write` gives
  byte-identical files.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from features.definition import SOURCE

# Amount buckets: (share, low, high) in currency units; amounts are whole cents in [low, high).
AMOUNT_BUCKETS: tuple[tuple[float, float, float], ...] = (
    (0.05, 0.01, 1),
    (0.075, 1, 10),
    (0.525, 10, 100),
    (0.25, 100, 1_000),
    (0.10, 1_000, 10_000),
)
CHAIN_LENGTH = (3, 10)  # transactions per fraud chain, inclusive
CHAIN_GAP_SECONDS = (30, 120)  # between consecutive chain transactions, inclusive
# One chain per (card, slot): the longest chain (9 gaps of 120 s) plus a separation of
# more than one gap fits in a slot, so chains on one card never look like one chain.
CHAIN_SLOT_SECONDS = (CHAIN_LENGTH[1] - 1) * CHAIN_GAP_SECONDS[1] + CHAIN_GAP_SECONDS[1] + 1

DEFAULTS = {
    "cards": 10_000,
    "transactions": 5_400_000,
    "start": datetime(2020, 1, 1, tzinfo=UTC),
    "end": datetime(2020, 6, 1, tzinfo=UTC),
    "fraud_ratio": 0.0025,
    "seed": 42,
}
# Bump when the same arguments would give different rows (the tid format, the draws).
FORMAT_VERSION = 1
PROVENANCE_KEY = "simulator.generate"
MAX_TRANSACTIONS = 50_000_000  # tids are one string array with 32-bit offsets
MAX_CARDS = 100_000_000
DATETIME_FORMAT = "%Y-%m-%dT%H:%M:%S"  # the CSV `datetime` column and the tid string
TID_SEPARATOR = "|"
ROW_GROUP_ROWS = 1 << 20

# Uncompressed: most of the file is the tids, random hex that snappy shrinks by ~15% at twice
# the write time. Dictionary encoding suits every column but the (unique) tids.
PARQUET_OPTIONS = {
    "compression": "none",
    "use_dictionary": [c.name for c in SOURCE.columns if c.name != SOURCE.id_column],
}
ARROW_TYPES = {
    "string": pa.string(),
    "timestamp": pa.timestamp("us", tz="UTC"),
    "int64": pa.int64(),
    "float64": pa.float64(),
    "int32": pa.int32(),
}
SCHEMA = pa.schema([pa.field(c.name, ARROW_TYPES[c.dtype], nullable=False) for c in SOURCE.columns])
CSV_NAMES = [dict((b, a) for a, b in SOURCE.csv_aliases).get(c.name, c.name) for c in SOURCE.columns]

Progress = Callable[[str, int], None]  # (stage, rows just finished)


def tid_string(trans_ts: datetime, cc_num: int, amount: float) -> str:
    """The string whose md5 is the tid: '2020-01-01T00:00:05|4000123412341234|12.30'.

    UTC time to the second as DATETIME_FORMAT (a naive time is taken as UTC), the card number
    in decimal, the amount with exactly two decimals, joined by TID_SEPARATOR.
    """
    utc = trans_ts.replace(tzinfo=UTC) if trans_ts.tzinfo is None else trans_ts.astimezone(UTC)
    return tid_text(utc.strftime(DATETIME_FORMAT), cc_num, amount)


def tid_text(second: str, cc_num: int, amount: float) -> str:
    """tid_string for a time already written to the second as DATETIME_FORMAT."""
    return TID_SEPARATOR.join((second, str(cc_num), f"{amount:.2f}"))


def tid_of(trans_ts: datetime, cc_num: int, amount: float) -> str:
    """tid of one transaction (the scalar reference of the vectorized `tids`)."""
    return hashlib.md5(tid_string(trans_ts, cc_num, amount).encode()).hexdigest()


# ---------------------------------------------------------------- tids, by DuckDB
# DuckDB formats and hashes on every core: one hashlib call per row would take most of the 10 s target
# (bench suite `generator` measures both).

MAX_CENTS = round(AMOUNT_BUCKETS[-1][2] * 100)  # amounts below 10,000.00
TIME_SQL = f"strftime(make_timestamp(seconds * 1000000), '{DATETIME_FORMAT}')"
AMOUNT_SQL = "printf('%.2f', cents / 100)"  # rounds as f'{amount:.2f}' does
TID_TEXT_SQL = f"concat_ws('{TID_SEPARATOR}', {TIME_SQL}, cc_num, {AMOUNT_SQL})"  # tid_text


def duckdb_query(query: str, **columns: np.ndarray) -> pa.Table:
    """`query` over a table `t` of the given numpy columns, in a fresh in-memory DuckDB."""
    import duckdb  # here: simulator.stream imports this module for tid_text and needs no DuckDB

    with duckdb.connect() as con:
        con.execute("SET enable_progress_bar = false")  # the CLI draws its own
        con.register("t", pa.table({k: _arrow(v, pa.from_numpy_dtype(v.dtype)) for k, v in columns.items()}))
        return con.sql(query).to_arrow_table()


def tids(trans_ts_seconds: np.ndarray, cc_num: np.ndarray, amount_cents: np.ndarray) -> pa.Array:
    """Vectorized tid_of: epoch seconds, card numbers, whole cents -> Arrow strings."""
    table = duckdb_query(
        f"SELECT md5({TID_TEXT_SQL}) AS tid FROM t",
        seconds=np.asarray(trans_ts_seconds, np.int64),
        cc_num=np.asarray(cc_num, np.int64),
        cents=np.asarray(amount_cents, np.int64),
    )
    return table["tid"].combine_chunks()


# ---------------------------------------------------------------- the history


def card_numbers(rng: np.random.Generator, count: int) -> np.ndarray:
    """`count` distinct 16-digit card numbers: 4, 14 random digits, a Luhn check digit."""
    bodies = np.empty(0, np.int64)
    while len(bodies) < count:  # redraw the (astronomically rare) duplicates
        drawn = np.concatenate([bodies, rng.integers(0, 10**14, count - len(bodies))])
        _, first = np.unique(drawn, return_index=True)
        bodies = drawn[np.sort(first)]
    payload = 4 * 10**14 + bodies  # 15 digits
    digits = (payload[:, None] // 10 ** np.arange(15)) % 10  # column k: k-th digit from the right
    doubled = digits[:, ::2] * 2  # Luhn doubles the rightmost payload digit and every second one
    total = (doubled - 9 * (doubled > 9)).sum(axis=1) + digits[:, 1::2].sum(axis=1)
    return payload * 10 + (10 - total % 10) % 10


def amounts_cents(rng: np.random.Generator, count: int) -> np.ndarray:
    """Whole cents drawn from AMOUNT_BUCKETS."""
    # The inverse of the piecewise-uniform CDF is piecewise linear through (cumulative share,
    # bucket bound): one uniform draw per amount, then floor to whole cents.
    shares = np.array([b[0] for b in AMOUNT_BUCKETS])
    cumulative = np.concatenate([[0.0], np.cumsum(shares) / shares.sum()])
    bounds = [AMOUNT_BUCKETS[0][1] * 100] + [b[2] * 100 for b in AMOUNT_BUCKETS]
    cents = np.interp(rng.random(count), cumulative, bounds).astype(np.int64)
    return np.minimum(cents, MAX_CENTS - 1)


def fraud_count(transactions: int, fraud_ratio: float) -> int:
    """round(ratio * transactions), at least one minimal chain when the ratio is positive."""
    if fraud_ratio <= 0:
        return 0
    return max(CHAIN_LENGTH[0], math.floor(fraud_ratio * transactions + 0.5))


def chain_lengths(rng: np.random.Generator, total: int) -> np.ndarray:
    """Lengths in CHAIN_LENGTH summing exactly to `total` (0 or >= the minimal length)."""
    low, high = CHAIN_LENGTH
    lengths = rng.integers(low, high + 1, total // low + 1)
    kept = lengths[: np.searchsorted(np.cumsum(lengths), total, side="right")]
    rest = total - int(kept.sum())  # 0 <= rest < high
    if rest >= low:
        return np.append(kept, rest)
    if rest:  # 1 or 2 left: lengthen the first chains that can take one more
        room = np.flatnonzero(kept < high)
        if len(room) >= rest:
            kept[room[:rest]] += 1
        else:  # every chain is at the maximum: 10 + rest = (10 - (low - rest)) + low
            kept[0] -= low - rest
            kept = np.append(kept, low)
    return kept


@dataclass(frozen=True)
class FraudChains:
    chain: np.ndarray  # chain number per fraud transaction
    card: np.ndarray  # card index per fraud transaction
    seconds: np.ndarray  # epoch seconds per fraud transaction


def fraud_chains(rng: np.random.Generator, total: int, cards: int, start: int, end: int) -> FraudChains:
    """`total` fraud transactions as chains, each in its own (card, time slot) cell."""
    lengths = chain_lengths(rng, total) if total else np.empty(0, np.int64)
    slots = (end - start) // CHAIN_SLOT_SECONDS
    _check_chains_fit(len(lengths), cards, slots)
    cells = rng.choice(cards * slots, size=len(lengths), replace=False) if len(lengths) else lengths
    chain = np.repeat(np.arange(len(lengths)), lengths)
    first = np.zeros(total, bool)
    first[np.cumsum(lengths) - lengths] = True
    gaps = rng.integers(CHAIN_GAP_SECONDS[0], CHAIN_GAP_SECONDS[1] + 1, total)
    gaps[first] = 0
    elapsed = np.cumsum(gaps)
    elapsed -= np.repeat(elapsed[first], lengths)  # seconds since the chain's first transaction
    duration = elapsed[np.cumsum(lengths) - 1]  # per chain: offset of its last transaction
    spare = CHAIN_SLOT_SECONDS - CHAIN_GAP_SECONDS[1] - 1 - duration  # >= 0 by the slot size
    begin = (
        start
        + (cells // cards) * CHAIN_SLOT_SECONDS
        + (rng.random(len(lengths)) * (spare + 1)).astype(np.int64)
    )
    return FraudChains(chain, np.repeat(cells % cards, lengths), np.repeat(begin, lengths) + elapsed)


def _check_chains_fit(chains: int, cards: int, slots: int) -> None:
    if chains > cards * slots:
        raise ValueError(
            f"up to {chains} fraud chains do not fit in {cards} cards x {slots} slots of "
            f"{CHAIN_SLOT_SECONDS} s: lower the fraud ratio, or add cards or time"
        )


def _epoch_seconds(moment: datetime) -> int:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    if moment.microsecond:
        raise ValueError(f"{moment.isoformat()} is not a whole second")
    return int(moment.timestamp())


def validate(
    cards: int, transactions: int, start: datetime, end: datetime, fraud_ratio: float, seed: int
) -> None:
    """Raise ValueError with a one-line reason for arguments `generate` cannot honour."""
    if not 0 < cards <= MAX_CARDS:
        raise ValueError(f"cards must be between 1 and {MAX_CARDS:,}, got {cards}")
    if not 0 < transactions <= MAX_TRANSACTIONS:
        raise ValueError(f"transactions must be between 1 and {MAX_TRANSACTIONS:,}, got {transactions}")
    first, last = _epoch_seconds(start), _epoch_seconds(end)
    if last <= first:
        raise ValueError(f"end ({end.isoformat()}) must be after start ({start.isoformat()})")
    if last - first >= 2**31:
        raise ValueError("the span from start to end must be under 68 years")
    if not (0 <= fraud_ratio < 0.5) or math.isnan(fraud_ratio):
        raise ValueError(f"fraud ratio must be in [0, 0.5), got {fraud_ratio}")
    n_fraud = fraud_count(transactions, fraud_ratio)
    if n_fraud > transactions:
        raise ValueError(f"a fraud chain needs at least {CHAIN_LENGTH[0]} transactions")
    _check_chains_fit(-(-n_fraud // CHAIN_LENGTH[0]), cards, (last - first) // CHAIN_SLOT_SECONDS)
    if seed < 0:
        raise ValueError(f"seed must be non-negative, got {seed}")


def generate(
    cards: int = DEFAULTS["cards"],
    transactions: int = DEFAULTS["transactions"],
    start: datetime = DEFAULTS["start"],
    end: datetime = DEFAULTS["end"],
    fraud_ratio: float = DEFAULTS["fraud_ratio"],
    seed: int = DEFAULTS["seed"],
    progress: Progress | None = None,
) -> pa.Table:
    """A history as an Arrow table with SCHEMA, sorted by trans_ts then tid; naive datetimes are UTC."""
    validate(cards, transactions, start, end, fraud_ratio, seed)
    first, last = _epoch_seconds(start), _epoch_seconds(end)
    rng = np.random.default_rng(seed)
    numbers = card_numbers(rng, cards)
    n_fraud = fraud_count(transactions, fraud_ratio)
    n_legit = transactions - n_fraud
    chains = fraud_chains(rng, n_fraud, cards, first, last)
    # Times are independent of card and amount, so drawing them sorted changes no distribution
    # and leaves the final (time, tid) sort almost nothing to do. 32-bit draws are cheaper.
    offsets = np.sort(rng.integers(0, last - first, n_legit, dtype=np.int32))
    seconds = np.concatenate([first + offsets.astype(np.int64), chains.seconds])
    card_ids = np.concatenate([rng.integers(0, cards, n_legit, dtype=np.int32), chains.card])
    cents = amounts_cents(rng, transactions)
    label = np.concatenate([np.zeros(n_legit, np.int32), np.ones(n_fraud, np.int32)])
    if progress:
        progress("draw", 0)

    cc_num = numbers[card_ids]
    tid, order = _tids_in_order(seconds, cc_num, cents)
    if progress:
        progress("tids", transactions)
    return pa.table(
        [
            tid.cast(pa.string()),
            _arrow(seconds[order] * 1_000_000, SCHEMA.field("trans_ts").type),
            _arrow(cc_num[order], pa.int64()),
            _arrow(cents[order] / 100, pa.float64()),
            _arrow(label[order], pa.int32()),
        ],
        schema=SCHEMA.with_metadata(
            {PROVENANCE_KEY: provenance(cards, transactions, start, end, fraud_ratio, seed)}
        ),
    )


def provenance(
    cards: int, transactions: int, start: datetime, end: datetime, fraud_ratio: float, seed: int
) -> str:
    """The arguments of a history, kept in its Parquet schema metadata (bench reuses files by it)."""
    arguments = {
        "format": FORMAT_VERSION,
        "cards": cards,
        "transactions": transactions,
        "start": _epoch_seconds(start),
        "end": _epoch_seconds(end),
        "fraud_ratio": fraud_ratio,
        "seed": seed,
    }
    return json.dumps(arguments, sort_keys=True)


def _arrow(values: np.ndarray, kind: pa.DataType) -> pa.Array:
    """A numpy array as an Arrow array of a fixed-width type, zero copy (pa.array imports pandas)."""
    if values.dtype.itemsize * 8 != kind.bit_width:
        raise TypeError(f"{values.dtype} does not fit {kind}")
    return pa.Array.from_buffers(kind, len(values), [None, pa.py_buffer(np.ascontiguousarray(values))])


def _numpy(column: pa.ChunkedArray, dtype: type) -> np.ndarray:
    """A fixed-width Arrow column without nulls as numpy (Array.to_numpy would import pandas)."""
    array = column.combine_chunks()
    if array.null_count:
        raise ValueError(f"column of {array.type} has {array.null_count} nulls")
    return np.frombuffer(
        array.buffers()[1], dtype, count=len(array), offset=array.offset * np.dtype(dtype).itemsize
    )


def _tids_in_order(seconds: np.ndarray, cc_num: np.ndarray, cents: np.ndarray) -> tuple[pa.Array, np.ndarray]:
    """tids and the row order by (time, tid); rows with equal tids are nudged by a cent (in place) first."""
    query = f"SELECT md5({TID_TEXT_SQL}) AS tid, draw FROM t ORDER BY seconds, tid, draw"
    for _ in range(100):
        table = duckdb_query(query, seconds=seconds, cc_num=cc_num, cents=cents, draw=np.arange(len(seconds)))
        tid, order = table["tid"].combine_chunks(), _numpy(table["draw"], np.int64)
        same = pc.equal(tid[1:], tid[:-1])
        if not pc.any(same).as_py():
            return tid, order
        _nudge(order, same.to_numpy(zero_copy_only=False), cents)
    raise RuntimeError("could not make tids unique")


def _nudge(order: np.ndarray, same: np.ndarray, cents: np.ndarray) -> None:
    """In each run of identical tids keep the earliest-drawn row; move the others by one cent."""
    runs = np.split(order, np.flatnonzero(~same) + 1)
    moved = np.concatenate([np.sort(run)[1:] for run in runs if len(run) > 1])
    cents[moved] = np.where(cents[moved] < MAX_CENTS - 1, cents[moved] + 1, cents[moved] - 1)


# ---------------------------------------------------------------- files


def output_format(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix not in {".parquet", ".csv"}:
        raise ValueError(f"{path}: unknown extension {suffix or '(none)'!r}, use .parquet or .csv")
    return suffix[1:]


def check_writable(path: Path) -> None:
    """Create the parent directories and fail early (ValueError) when `path` cannot be written."""
    output_format(path)
    if path.is_dir():
        raise ValueError(f"{path} is a directory")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise ValueError(f"cannot create directory {path.parent}: {err.strerror or err}") from err
    if not os.access(path.parent, os.W_OK | os.X_OK):
        raise ValueError(f"cannot write to {path.parent}: permission denied")


def csv_table(table: pa.Table) -> pa.Table:
    """The seed's CSV layout: datetime as DATETIME_FORMAT text, amount with two decimals."""
    seconds = (
        _numpy(table["trans_ts"].cast(pa.timestamp("us", tz="UTC")).cast(pa.int64()), np.int64) // 1_000_000
    )
    amount = _numpy(table["amount"].cast(pa.float64()), np.float64)
    if amount.size and not np.isfinite(amount).all():
        raise ValueError("amounts must be finite")
    text = duckdb_query(
        f"SELECT {TIME_SQL} AS trans_ts, {AMOUNT_SQL} AS amount FROM t",
        seconds=seconds,
        cents=np.rint(amount * 100).astype(np.int64),
    )
    columns = {
        "tid": table["tid"],
        "trans_ts": text["trans_ts"].cast(pa.string()),
        "cc_num": table["cc_num"],
        "amount": text["amount"].cast(pa.string()),
        "fraud_label": table["fraud_label"],
    }
    return pa.table([columns[c.name] for c in SOURCE.columns], names=CSV_NAMES)


def write(table: pa.Table, path: Path | str, progress: Progress | None = None) -> Path:
    """Write Parquet, or CSV when the path ends in .csv, atomically (temp file, then rename)."""
    path = Path(path)
    check_writable(path)
    kind = output_format(path)
    temp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        if kind == "csv":
            out = csv_table(table)
            # no field contains a comma or a quote; the header is written by hand, unquoted
            options = pacsv.WriteOptions(include_header=False, quoting_style="none")
            with open(temp, "wb") as file:
                file.write((",".join(out.column_names) + "\n").encode())
                with pacsv.CSVWriter(file, out.schema, write_options=options) as writer:
                    _write_slices(out, writer.write_table, progress)
        else:
            # tids are unique: dictionary-encoding them would only be tried and dropped
            schema = SCHEMA.with_metadata(table.schema.metadata)
            with pq.ParquetWriter(temp, schema, **PARQUET_OPTIONS) as writer:
                _write_slices(table.cast(schema), writer.write_table, progress)
        os.replace(temp, path)
    finally:
        temp.unlink(missing_ok=True)
    return path


def _write_slices(
    table: pa.Table, write_slice: Callable[[pa.Table], None], progress: Progress | None
) -> None:
    for begin in range(0, max(table.num_rows, 1), ROW_GROUP_ROWS):
        part = table.slice(begin, ROW_GROUP_ROWS)
        write_slice(part)
        if progress:
            progress("write", part.num_rows)


# ---------------------------------------------------------------- CLI: python -m simulator generate


def parse_moment(text: str) -> datetime:
    """argparse type: 'YYYY-MM-DD' or an ISO-8601 time; naive means UTC."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"invalid date {text!r} (use YYYY-MM-DD or YYYY-MM-DDTHH:MM:SS)"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "generate",
        help="generate a transaction history with injected fraud chains",
        description="Generate a card-transaction history (Parquet, or the seed's CSV layout for *.csv).",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--cards", type=int, default=DEFAULTS["cards"], help="number of distinct cards")
    parser.add_argument(
        "--transactions",
        type=int,
        default=DEFAULTS["transactions"],
        help="number of transactions, fraud included",
    )
    parser.add_argument(
        "--start",
        type=parse_moment,
        default=f"{DEFAULTS['start']:%Y-%m-%d}",
        help="first moment, inclusive (UTC)",
    )
    parser.add_argument(
        "--end", type=parse_moment, default=f"{DEFAULTS['end']:%Y-%m-%d}", help="last moment, exclusive (UTC)"
    )
    parser.add_argument(
        "--fraud-ratio",
        type=float,
        default=DEFAULTS["fraud_ratio"],
        help="share of fraud transactions, in [0, 0.5)",
    )
    parser.add_argument(
        "--seed", type=int, default=DEFAULTS["seed"], help="random seed: same seed, same file"
    )
    parser.add_argument(
        "--out", type=Path, required=True, default=argparse.SUPPRESS, help="output file: *.parquet or *.csv"
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    return parser


def run(args: argparse.Namespace) -> int:
    # rich, as every CLI of the project; on stderr, so stdout carries only the summary line.
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    validate(args.cards, args.transactions, args.start, args.end, args.fraud_ratio, args.seed)
    check_writable(args.out)
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=Console(stderr=True), disable=args.quiet) as bar:
        task = bar.add_task("draw", total=2 * args.transactions)

        def progress(stage: str, rows: int) -> None:
            bar.update(task, description=stage, advance=rows)

        table = generate(
            args.cards, args.transactions, args.start, args.end, args.fraud_ratio, args.seed, progress
        )
        write(table, args.out, progress)
    if not args.quiet:
        fraud = int(_numpy(table["fraud_label"], np.int32).sum())
        print(
            f"wrote {table.num_rows:,} transactions ({fraud:,} fraud) on {args.cards:,} cards to {args.out}"
        )
    return 0
