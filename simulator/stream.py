"""Live simulator: send transactions to the transactions stream (python -m simulator stream).

Three sources, one sender:
- replay: a history file (Parquet or the seed's CSV) in event-time order, paced at a speed
  factor (0 = as fast as possible); event times are the file's;
- live: generated traffic at a rate, over cards read from a history file; event time = send time;
- scenario `attack` (the seed's): three ordinary cards, then a fraud attack of 10 quick
  transactions on a fourth, with optional background traffic; event time = send time.

The sender batches PutRecords (<= 500 records, <= 5 MiB) and resends throttled or failed
entries with backoff. Its Kinesis client comes from clients.factory, as the environment configures
it (AWS_CLIENT_FACTORY, or boto3's settings); `--local DIR` stands for the local profile's streams
under DIR, `--endpoint-url` for a Kinesis endpoint (LocalStack). Every run is bounded (`--count`,
`--duration`).
A batch holds what falls due within the linger: 5 ms for the local stream (an insert), 100 ms for
Kinesis (the KPL's RecordMaxBufferedTime): a PutRecords call costs LocalStack's Kinesis ~25 ms
of CPU whatever its size, so at 1,000 tx/s a 5 ms linger (200 calls/s) saturates it.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from hashlib import md5
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from clients import factory
from clients.kinesis import MAX_RECORDS_PER_CALL, PutRecordsError, PutStats, put_chunk
from features.codec import encode_transaction
from features.definition import SOURCE
from features.records import format_ts
from simulator.generate import amounts_cents, tid_text
from tools import terraform_output

Clock = Callable[[], float]
LINGER_LOCAL_S, LINGER_KINESIS_S = 0.005, 0.1
Sleep = Callable[[float], None]


class Tx(NamedTuple):  # a tuple: built once per transaction, the cheapest immutable record
    tid: str
    cc_num: int
    amount: float
    event_ms: int
    fraud: bool = False  # known to the simulator only: never sent

    def entry(self) -> dict[str, Any]:
        return {
            "Data": encode_transaction(self.tid, self.cc_num, self.amount, self.event_ms),
            "PartitionKey": str(self.cc_num),
        }


# ---------------------------------------------------------------- sources


def read_history(path: Path | str) -> pa.Table:
    """A history file as a table (tid, event_ms, cc_num, amount, fraud_label), in event-time order."""
    path = Path(path)
    if not path.exists():
        raise ValueError(f"history file not found: {path}")
    if path.suffix == ".csv":
        import pyarrow.csv as pacsv

        raw = pacsv.read_csv(
            path,
            convert_options=pacsv.ConvertOptions(
                column_types={
                    "tid": pa.string(),
                    "datetime": pa.timestamp("s"),
                    "cc_num": pa.int64(),
                    "amount": pa.float64(),
                    "fraud_label": pa.int32(),
                }
            ),
        )
        aliases = dict(SOURCE.csv_aliases)
        raw = raw.rename_columns([aliases.get(n, n) for n in raw.column_names])
    else:
        import pyarrow.parquet as pq

        raw = pq.read_table(path)
    missing = [c.name for c in SOURCE.columns if c.name not in raw.column_names]
    if missing:
        raise ValueError(f"{path}: missing column(s) {', '.join(missing)}")
    ts = raw[SOURCE.event_time].cast(pa.timestamp("ms", tz="UTC")).cast(pa.int64())
    table = pa.table(
        {
            "tid": raw[SOURCE.id_column],
            "event_ms": ts,
            "cc_num": raw[SOURCE.entity],
            "amount": raw[SOURCE.amount_column],
            "fraud_label": raw[SOURCE.label_column],
        }
    )
    return table.sort_by([("event_ms", "ascending"), ("tid", "ascending")])


def history_transactions(
    table: pa.Table, start_ms: int | None = None, end_ms: int | None = None
) -> Iterator[Tx]:
    """The table's rows with start_ms <= event_ms < end_ms, as transactions."""
    if start_ms is not None:
        table = table.filter(pc.greater_equal(table["event_ms"], start_ms))
    if end_ms is not None:
        table = table.filter(pc.less(table["event_ms"], end_ms))
    for batch in table.to_batches(max_chunksize=65_536):
        cols = batch.to_pydict()
        for tid, ms, card, amount, label in zip(
            cols["tid"], cols["event_ms"], cols["cc_num"], cols["amount"], cols["fraud_label"], strict=True
        ):
            yield Tx(tid, card, amount, ms, bool(label))


def known_cards(table: pa.Table) -> list[int]:
    return sorted(set(table["cc_num"].to_pylist()))


@dataclass
class TxFactory:
    """New transactions on given cards with the history's amount distribution and tid format."""

    cards: Sequence[int]
    rng: np.random.Generator
    seen: set[str] = field(default_factory=set)
    # Draws in bulk: a numpy call per transaction costs more than the rest of `make`.
    _cents: list[int] = field(default_factory=list)
    _picks: list[int] = field(default_factory=list)

    def make(self, event_ms: int, card: int | None = None, fraud: bool = False) -> Tx:
        if card is None:
            if not self._picks:
                self._picks = self.rng.integers(len(self.cards), size=4096).tolist()
            card = int(self.cards[self._picks.pop()])
        if not self._cents:
            self._cents = amounts_cents(self.rng, 4096).tolist()
        cents = self._cents.pop()
        # tid_of without a datetime and strftime per transaction (test: the same tids)
        second = format_ts(event_ms)[:19]  # DATETIME_FORMAT's text of the event's second
        while True:
            tid = md5(tid_text(second, card, cents / 100).encode()).hexdigest()
            if tid not in self.seen:
                break
            cents += 1  # same second, card and amount: move a cent, as the generator does
        self.seen.add(tid)
        return Tx(tid, card, cents / 100, event_ms, fraud)


def live_schedule(factory: TxFactory, rate: float, start_s: float) -> Iterator[tuple[float, Tx]]:
    """(due wall time, transaction) at `rate` per second forever; event time = due time."""
    i = 0
    while True:
        due = start_s + i / rate
        yield due, factory.make(round(due * 1000))
        i += 1


ORDINARY_CARDS, ORDINARY_TRANSACTIONS, ORDINARY_GAP_S = 3, 2, 1.0
ATTACK_TRANSACTIONS, ATTACK_GAP_S = 10, 0.2


def attack_scenario(
    factory: TxFactory, start_s: float, background_rate: float = 0.0, tail_s: float = 3.0
) -> list[tuple[float, Tx]]:
    """The seed's scenario: three ordinary cards (two transactions each), then a fraud attack of
    10 quick transactions on a fourth card; optional background traffic on the other cards, which
    keeps running `tail_s` after the attack so the streaming engine's watermark passes it. The
    background goes through the other cards in a shuffled round, so an ordinary card is not used
    twice within ten minutes unless the round wraps (rate x duration > cards)."""
    picks = [int(c) for c in factory.rng.choice(np.asarray(factory.cards), ORDINARY_CARDS + 1, replace=False)]
    steps: list[tuple[float, int, bool]] = []
    t = start_s
    for card in picks[:ORDINARY_CARDS]:
        for _ in range(ORDINARY_TRANSACTIONS):
            steps.append((t, card, False))
            t += ORDINARY_GAP_S
    for _ in range(ATTACK_TRANSACTIONS):
        steps.append((t, picks[ORDINARY_CARDS], True))
        t += ATTACK_GAP_S
    end = t + tail_s
    if background_rate > 0:
        others = [c for c in factory.cards if c not in picks] or list(factory.cards)
        order = [int(c) for c in factory.rng.permutation(np.asarray(others))]
        n = int((end - start_s) * background_rate)
        steps += [(start_s + i / background_rate, order[i % len(order)], False) for i in range(n)]
    steps.sort(key=lambda s: s[0])
    return [(due, factory.make(round(due * 1000), card, fraud)) for due, card, fraud in steps]


def replay_schedule(txs: Iterable[Tx], speed: float, start_s: float) -> Iterator[tuple[float, Tx]]:
    """History in event-time order, due at start + (event time - first event time) / speed."""
    first: int | None = None
    for tx in txs:
        first = tx.event_ms if first is None else first
        yield (start_s + (tx.event_ms - first) / 1000 / speed if speed > 0 else 0.0), tx


# ---------------------------------------------------------------- sending


@dataclass
class SendReport:
    sent: int = 0
    seconds: float = 0.0
    put: PutStats = field(default_factory=PutStats)
    fraud_tids: list[str] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.sent / self.seconds if self.seconds else 0.0


def send(
    schedule: Iterable[tuple[float, Tx]],
    client: Any,
    stream: str,
    count: int | None = None,
    duration_s: float | None = None,
    linger_s: float = LINGER_LOCAL_S,
    clock: Clock = time.time,
    sleep: Sleep = time.sleep,
    on_sent: Callable[[list[Tx]], None] | None = None,
    retry: dict[str, Any] | None = None,
) -> SendReport:
    """Send transactions when due, batching those due within `linger_s` into one PutRecords call.

    Stops after `count` transactions or `duration_s` seconds (wall clock), whichever comes first.
    """
    report = SendReport()
    started = clock()
    deadline = None if duration_s is None else started + duration_s
    batch: list[Tx] = []

    def flush() -> None:
        if batch:
            report.put.add(put_chunk(client, stream, [tx.entry() for tx in batch], **(retry or {})))
            report.sent += len(batch)
            report.fraud_tids += [tx.tid for tx in batch if tx.fraud]
            if on_sent:
                on_sent(list(batch))
            batch.clear()

    for due, tx in schedule:
        if count is not None and report.sent + len(batch) >= count:
            break
        if deadline is not None and due > deadline:
            break
        now = clock()
        if due > now + linger_s:  # not due yet: send what is waiting, then wait
            flush()
            wait = due - clock()
            if wait > 0:
                sleep(wait)
        batch.append(tx)
        if len(batch) >= MAX_RECORDS_PER_CALL:
            flush()
    flush()
    report.seconds = clock() - started
    return report


# ---------------------------------------------------------------- CLI


def kinesis_client(local_dir: Path | None, endpoint_url: str | None, region: str | None) -> Any:
    """The configured Kinesis client (clients.factory); --local DIR and --endpoint-url stand for configuration."""
    return factory.client("kinesis", factory.kinesis_settings(local_dir, endpoint_url, region))


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "stream",
        help="send transactions to the transactions stream (replay, live rate, attack scenario)",
        description=__doc__.splitlines()[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument(
        "--replay", type=Path, metavar="HISTORY", help="replay this history file (Parquet or CSV)"
    )
    mode.add_argument("--rate", type=float, help="generate live traffic at this many transactions per second")
    mode.add_argument(
        "--scenario", choices=["attack"], help="run a scripted scenario (the seed's fraud attack)"
    )
    parser.add_argument(
        "--cards-from",
        type=Path,
        metavar="HISTORY",
        help="history file whose cards the live traffic and scenarios use (required with --rate/--scenario)",
    )
    parser.add_argument(
        "--speed", type=float, default=1.0, help="replay speed factor (0 = as fast as possible)"
    )
    parser.add_argument("--from", dest="start", help="replay from this event time (ISO-8601, inclusive)")
    parser.add_argument("--until", dest="end", help="replay until this event time (ISO-8601, exclusive)")
    parser.add_argument(
        "--background-rate", type=float, default=20.0, help="scenario: background transactions per second"
    )
    parser.add_argument("--count", type=int, help="stop after this many transactions")
    parser.add_argument(
        "--duration", type=float, help="stop after this many seconds (default 10 with --rate)"
    )
    parser.add_argument(
        "--stream",
        default=None,
        help="stream name (default: 'transactions' with --local, else the deployed transactions stream of --root)",
    )
    parser.add_argument(
        "--root",
        type=Path,
        default=Path("terraform/envs/aws"),
        help="Terraform root whose `deployment` output names the stream and region (when --stream is not given)",
    )
    target = parser.add_mutually_exclusive_group()
    target.add_argument(
        "--local", type=Path, metavar="DIR", help="write to the local stream under DIR (local profile)"
    )
    target.add_argument("--endpoint-url", help="Kinesis endpoint (e.g. http://127.0.0.1:4566 for LocalStack)")
    parser.add_argument("--region", default=None, help="AWS region for a Kinesis endpoint")
    parser.add_argument(
        "--linger-ms",
        type=float,
        default=None,
        help=f"batch what falls due within this many ms into one call (default: {LINGER_LOCAL_S * 1000:g} "
        f"with --local, {LINGER_KINESIS_S * 1000:g} for Kinesis)",
    )
    parser.add_argument("--seed", type=int, default=7, help="random seed for generated transactions")
    return parser


def _epoch_ms(text: str | None) -> int | None:
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"invalid time {text!r} (use YYYY-MM-DD or YYYY-MM-DDTHH:MM:SS)") from None
    return round((moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp() * 1000)


def schedule_from_args(args: argparse.Namespace, now: float) -> Iterable[tuple[float, Tx]]:
    if args.count is not None and args.count < 1:
        raise ValueError("--count must be at least 1")
    if args.linger_ms is not None and not 0 <= args.linger_ms <= 60_000:
        raise ValueError("--linger-ms must be 0..60000")
    if args.replay is not None:
        if args.speed < 0:
            raise ValueError("--speed must be >= 0")
        txs = history_transactions(read_history(args.replay), _epoch_ms(args.start), _epoch_ms(args.end))
        return replay_schedule(txs, args.speed, now)
    if args.cards_from is None:
        raise ValueError("--cards-from HISTORY is required with --rate or --scenario")
    factory = TxFactory(known_cards(read_history(args.cards_from)), np.random.default_rng(args.seed))
    if len(factory.cards) < ORDINARY_CARDS + 1:
        raise ValueError(f"{args.cards_from}: needs at least {ORDINARY_CARDS + 1} cards")
    if args.rate is not None:
        if args.rate <= 0:
            raise ValueError("--rate must be > 0")
        return live_schedule(factory, args.rate, now)
    return attack_scenario(factory, now, args.background_rate)


def _linger_s(args: argparse.Namespace) -> float:
    if args.linger_ms is not None:
        return args.linger_ms / 1000
    return LINGER_LOCAL_S if args.local is not None else LINGER_KINESIS_S


def deployed_target(root: Path) -> tuple[str, str]:
    """(transactions stream, region) from the root's `deployment` output, never a constant."""
    try:
        deployment = terraform_output.output(root, "deployment")
        return deployment["transactions_stream"], deployment["region"]  # type: ignore[index]
    except terraform_output.OutputError as err:
        raise ValueError(f"{err}; or pass --stream NAME") from None
    except (KeyError, TypeError):
        raise ValueError(f"{root}: the deployment output lacks transactions_stream or region") from None


def run(args: argparse.Namespace) -> int:
    if args.rate is not None and args.duration is None and args.count is None:
        args.duration = 10.0
    if args.stream is None:
        if args.local is not None:
            args.stream = "transactions"  # the local profile's stream (profiles.steps.TRANSACTIONS)
        else:
            args.stream, region = deployed_target(args.root)
            args.region = args.region or region
    client = kinesis_client(args.local, args.endpoint_url, args.region)
    schedule = schedule_from_args(args, time.time())
    if args.local is not None:
        client.ensure_stream(args.stream)  # the local profile creates what AWS would have from Terraform
    try:
        report = send(schedule, client, args.stream, args.count, args.duration, linger_s=_linger_s(args))
    except PutRecordsError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    except Exception as err:  # botocore's ClientError / EndpointConnectionError: one line, no traceback
        if not hasattr(err, "response") and "botocore" not in type(err).__module__:
            raise
        print(f"error: cannot write to stream {args.stream}: {err}", file=sys.stderr)
        return 1
    print(
        f"sent {report.sent:,} transactions to {args.stream} in {report.seconds:.1f} s ({report.rate:,.0f}/s, "
        f"{report.put.calls:,} PutRecords calls, {report.put.retried:,} records resent)"
    )
    return 0
