"""An embedded store with SageMaker Feature Store semantics, shaped like boto3's runtime client.

`LocalFeatureStore` answers put_record, get_record, batch_get_record and delete_record with the
request and response shapes of boto3's `sagemaker-featurestore-runtime` client, so the handlers
run unchanged on it. Semantics kept from the service (API reference, PutRecord/DeleteRecord):

- PutRecord writes online only when the record's EventTime is strictly greater than the online
  one; otherwise it is a historic record and goes to the offline store only. Every accepted write
  to a group with an offline store is appended to its offline history (with write_time,
  api_invocation_time, is_deleted), as the offline store's Glue table has them.
- TTL: ExpiresAt = EventTime + TtlDuration (record-level TtlDuration supersedes the group's);
  an expired record is no longer returned and is treated as absent by the next write.
- DeleteRecord: SoftDelete hides the online record and HardDelete removes it, both only when the
  delete's EventTime is later than the online record's; the deleted-record marker (is_deleted,
  features null) still goes offline for a SoftDelete that did not apply, and a HardDelete that
  did not apply is a ValidationError with no marker.
- BatchGetRecord reads several groups in one call; unknown groups come back in Errors, missing
  records are simply absent, as the service does.

Groups come from features/rendered/feature_groups/*.json (the same JSON Terraform reads).
`python -m local_aws.feature_store serve --db PATH --port N` serves the runtime REST API
(paths from botocore's service model) on 127.0.0.1, for boto3 clients with endpoint_url.
"""

from __future__ import annotations

import contextlib
import json
import math
import sqlite3
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlparse

from features.codec import encode
from features.records import format_ts
from local_aws.http_server import Server, serve_until_interrupted
from local_aws.stream import ServiceExceptions, ThreadConnections
from tools.cli import OneLineErrors

RENDERED = Path(__file__).resolve().parent.parent / "features" / "rendered" / "feature_groups"
TTL_UNITS = {"Seconds": 1, "Minutes": 60, "Hours": 3600, "Days": 86400, "Weeks": 604800}
FS_ERRORS = ServiceExceptions(["ValidationError", "ResourceNotFound", "AccessForbidden", "InternalFailure"])
MAX_IDENTIFIERS = 100
# The Feature Store quota: at most 100 records a BatchGetRecord call, across its identifier entries.
MAX_RECORDS_PER_CALL = 100

_SCHEMA = """
CREATE TABLE IF NOT EXISTS groups (name TEXT PRIMARY KEY, definition TEXT NOT NULL, ttl_seconds REAL);
CREATE TABLE IF NOT EXISTS online (grp TEXT NOT NULL, rid TEXT NOT NULL, event_time REAL NOT NULL,
    record TEXT, expires_at REAL, deleted INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (grp, rid)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS offline (id INTEGER PRIMARY KEY AUTOINCREMENT, grp TEXT NOT NULL, rid TEXT NOT NULL,
    event_time REAL NOT NULL, record TEXT NOT NULL, write_time REAL NOT NULL, api_invocation_time REAL NOT NULL,
    is_deleted INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS offline_rid ON offline (grp, rid, event_time);
"""
# json.loads without its two whitespace scans: a stored record is Group.body's text, nothing around it
_decode = json.JSONDecoder().raw_decode
# PutRecord's online rule as one statement: written when the row is absent, expired (treated as
# absent), or older than the record's event time. Parameters: grp, rid, event_time, record, expires_at, now.
_UPSERT_NEWER = (
    "INSERT INTO online VALUES (?1, ?2, ?3, ?4, ?5, 0) ON CONFLICT (grp, rid) DO UPDATE SET "
    "event_time=excluded.event_time, record=excluded.record, expires_at=excluded.expires_at, deleted=0 "
    "WHERE excluded.event_time > online.event_time OR (online.expires_at IS NOT NULL AND online.expires_at <= ?6)"
)


def ttl_seconds(ttl: dict | None) -> float | None:
    if not ttl:
        return None
    unit, value = ttl.get("Unit"), ttl.get("Value")
    if unit not in TTL_UNITS or not isinstance(value, int) or value < 1:
        raise ValueError(f"TtlDuration must be {{Unit: {'|'.join(TTL_UNITS)}, Value: int >= 1}}, got {ttl!r}")
    return float(TTL_UNITS[unit] * value)


def iso(epoch: float) -> str:
    return format_ts(round(epoch * 1000))


class _Group:
    """A feature group's schema, parsed once."""

    def __init__(self, definition: dict, ttl: float | None) -> None:
        self.definition = definition
        self.name: str = definition["feature_group_name"]
        self.rid: str = definition["record_identifier_feature_name"]
        self.event_time: str = definition["event_time_feature_name"]
        self.types: dict[str, str] = {f["name"]: f["type"] for f in definition["features"]}
        self.online: bool = bool(definition.get("online_store", True))
        self.offline: bool = bool(definition.get("offline_store", False))
        self.ttl = ttl
        # Resolved once, used per PutRecord: each feature's value check (None: any string).
        self._checks: dict[str, Callable[[str], Any] | None] = {
            name: {"Integral": int, "Fractional": float}.get(kind) for name, kind in self.types.items()
        }

    def event_seconds(self, value: str) -> float:
        """The event time as epoch seconds: Fractional/Integral are epoch seconds, String ISO-8601."""
        if self.types[self.event_time] == "String":
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
            return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()
        seconds = float(value)
        if not math.isfinite(seconds):
            raise ValueError("not finite")
        return seconds

    def validate(self, record: list[dict]) -> tuple[dict[str, str], float]:
        """The record's values by feature name, and its event time in epoch seconds."""
        if not isinstance(record, list) or not record:
            raise ValueError("Record must be a non-empty list of {FeatureName, ValueAsString}")
        values: dict[str, str] = {}
        checks = self._checks
        for item in record:
            name, value = item.get("FeatureName"), item.get("ValueAsString")
            if name not in checks:
                raise ValueError(f"feature {name!r} is not in feature group {self.name}")
            if name in values:
                raise ValueError(f"feature {name!r} appears twice in the record")
            if not isinstance(value, str):
                raise ValueError(f"feature {name!r} has no ValueAsString")
            check = checks[name]
            if check is not None:
                try:
                    check(value)
                except ValueError:
                    raise ValueError(f"feature {name!r} value {value!r} is not {self.types[name]}") from None
            values[name] = value
        for required in (self.rid, self.event_time):
            if required not in values:
                raise ValueError(f"record lacks required feature {required!r}")
        try:
            event = self.event_seconds(values[self.event_time])
        except ValueError:
            raise ValueError(
                f"event time {values[self.event_time]!r} is not a valid {self.event_time}"
            ) from None
        return values, event

    def body(self, values: dict[str, str]) -> str:
        """The stored record: the JSON of its [{FeatureName, ValueAsString}, ...] list."""
        return encode([{"FeatureName": k, "ValueAsString": v} for k, v in values.items()]).decode()


class LocalFeatureStore:
    """boto3-`sagemaker-featurestore-runtime`-shaped client over one SQLite file."""

    exceptions = FS_ERRORS

    def __init__(
        self,
        path: str | Path,
        definitions: str | Path | Iterable[dict] | None = RENDERED,
        clock: Callable[[], float] = time.time,
        name_prefix: str = "",
        group_ttl: dict[str, dict] | None = None,
    ) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.clock = clock
        self.name_prefix = name_prefix
        self._conn = ThreadConnections(self.path)
        self._groups: dict[str, _Group] = {}
        self._batch = threading.local()  # batched(): per thread, like the connections
        self._conn().executescript(_SCHEMA)
        if definitions is not None:
            docs = (
                [json.loads(p.read_text()) for p in sorted(Path(definitions).glob("*.json"))]
                if isinstance(definitions, str | Path)
                else list(definitions)
            )
            for doc in docs:
                self.create_feature_group(doc, ttl=(group_ttl or {}).get(doc["feature_group_name"]))

    # ---------------------------------------------------------------------------- groups
    def create_feature_group(self, definition: dict, ttl: dict | None = None) -> None:
        """Register (or update) a group from its rendered JSON; `ttl` or the JSON's "ttl_duration"."""
        seconds = ttl_seconds(ttl or definition.get("ttl_duration"))
        self._conn().execute(
            "INSERT INTO groups VALUES (?, ?, ?) ON CONFLICT(name) DO UPDATE SET definition=excluded.definition, "
            "ttl_seconds=excluded.ttl_seconds",
            (definition["feature_group_name"], json.dumps(definition), seconds),
        )
        self._groups.pop(definition["feature_group_name"], None)

    def _group(self, name: str | None, operation: str) -> _Group:
        if not isinstance(name, str) or not name:
            raise self.exceptions.error("ValidationError", "FeatureGroupName is required", operation)
        key = name.rsplit("feature-group/", 1)[-1] if name.startswith("arn:") else name
        if self.name_prefix and key.startswith(self.name_prefix):
            key = key[len(self.name_prefix) :]
        group = self._groups.get(key)
        if group is None:
            row = (
                self._conn()
                .execute("SELECT definition, ttl_seconds FROM groups WHERE name=?", (key,))
                .fetchone()
            )
            if row is None:
                raise self.exceptions.error(
                    "ResourceNotFound", f"Resource Not Found: Feature group {name} not found", operation, 404
                )
            group = _Group(json.loads(row[0]), row[1])
            self._groups[key] = group
        return group

    # ------------------------------------------------------------------------------ writes
    def put_record(
        self,
        FeatureGroupName: str,
        Record: list[dict],
        TargetStores: list[str] | None = None,
        TtlDuration: dict | None = None,
        **_: Any,
    ) -> dict:
        group = self._group(FeatureGroupName, "PutRecord")
        try:
            values, event = group.validate(Record)
            ttl = ttl_seconds(TtlDuration) if TtlDuration else group.ttl
            stores = self._stores(group, TargetStores)
        except ValueError as err:
            raise self.exceptions.error("ValidationError", str(err), "PutRecord") from None
        conn = self._conn()
        if stores == (True, False):
            # Online only (cc-agg-fg, every ingested transaction): the write is one statement, atomic on
            # its own, so it needs no transaction or savepoint of its own (they cost more than the write).
            self._batch_begin(conn)
            self._write(conn, group, values, event, stores, ttl, self.clock())
        else:
            with self._transaction(conn):
                self._write(conn, group, values, event, stores, ttl, self.clock())
        return {"ResponseMetadata": {"HTTPStatusCode": 200}}

    # ------------------------------------------------------------------------ transactions
    @contextlib.contextmanager
    def batched(self) -> Iterator[None]:
        """Non-boto: the writes of this thread inside the block share one SQLite transaction, begun at
        the first write, committed at the end, rolled back if the block raises. The local runtime
        wraps each handler invocation in it (a commit per PutRecord costs more than the write)."""
        state = self._batch
        if getattr(state, "active", False):
            yield
            return
        state.active, state.begun = True, False
        try:
            yield
        except BaseException:
            if state.begun:
                self._conn().execute("ROLLBACK")
            raise
        else:
            if state.begun:
                self._conn().execute("COMMIT")
        finally:
            state.active = state.begun = False

    def _batch_begin(self, conn: sqlite3.Connection) -> bool:
        """Inside `batched()`: open its transaction if this is the first write; True when batched."""
        state = self._batch
        if not getattr(state, "active", False):
            return False
        if not state.begun:
            conn.execute("BEGIN IMMEDIATE")
            state.begun = True
        return True

    @contextlib.contextmanager
    def _transaction(self, conn: sqlite3.Connection) -> Iterator[None]:
        """One write operation atomically: its own transaction, or a savepoint of the batch's."""
        batched = self._batch_begin(conn)
        conn.execute("SAVEPOINT op" if batched else "BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            conn.execute("ROLLBACK TO op" if batched else "ROLLBACK")
            if batched:
                conn.execute("RELEASE op")
            raise
        conn.execute("RELEASE op" if batched else "COMMIT")

    @staticmethod
    def _stores(group: _Group, targets: list[str] | None) -> tuple[bool, bool]:
        if targets is None:
            return group.online, group.offline
        unknown = set(targets) - {"OnlineStore", "OfflineStore"}
        if unknown or not targets:
            raise ValueError(f"TargetStores must be OnlineStore and/or OfflineStore, got {targets!r}")
        online, offline = "OnlineStore" in targets, "OfflineStore" in targets
        if (online and not group.online) or (offline and not group.offline):
            raise ValueError(
                f"feature group {group.name} has no {'online' if online and not group.online else 'offline'} store"
            )
        return online, offline

    def _write(
        self,
        conn: sqlite3.Connection,
        group: _Group,
        values: dict[str, str],
        event: float,
        stores: tuple[bool, bool],
        ttl: float | None,
        now: float,
    ) -> bool:
        """One PutRecord (its values, validated, and event time) inside an open transaction; True when it
        became the online record."""
        name, rid, body = group.name, values[group.rid], group.body(values)
        expires = None if ttl is None else event + ttl
        # rowcount: 1 when the row was inserted or updated, 0 when the WHERE kept the newer one
        wrote_online = (
            stores[0] and conn.execute(_UPSERT_NEWER, (name, rid, event, body, expires, now)).rowcount > 0
        )
        if stores[1]:
            conn.execute(
                "INSERT INTO offline (grp, rid, event_time, record, write_time, api_invocation_time, is_deleted) "
                "VALUES (?, ?, ?, ?, ?, ?, 0)",
                (group.name, rid, event, body, now, now),
            )
        return wrote_online

    def delete_record(
        self,
        FeatureGroupName: str,
        RecordIdentifierValueAsString: str,
        EventTime: str,
        TargetStores: list[str] | None = None,
        DeletionMode: str = "SoftDelete",
        **_: Any,
    ) -> dict:
        op = "DeleteRecord"
        group = self._group(FeatureGroupName, op)
        try:
            event = group.event_seconds(EventTime)
            online, offline = self._stores(group, TargetStores)
        except (ValueError, TypeError) as err:
            raise self.exceptions.error(
                "ValidationError", f"invalid DeleteRecord request: {err}", op
            ) from None
        if DeletionMode not in ("SoftDelete", "HardDelete"):
            raise self.exceptions.error("ValidationError", f"DeletionMode {DeletionMode!r} invalid", op)
        rid, now = RecordIdentifierValueAsString, self.clock()
        conn = self._conn()
        with self._transaction(conn):
            row = conn.execute(
                "SELECT event_time, expires_at FROM online WHERE grp=? AND rid=?", (group.name, rid)
            ).fetchone()
            current = None if row is None or (row[1] is not None and row[1] <= now) else row[0]
            applies = current is None or event > current
            if online and not applies and DeletionMode == "HardDelete":
                raise self.exceptions.error(
                    "ValidationError",
                    f"EventTime {EventTime} is not later than the online record's event time",
                    op,
                )
            if online and applies:
                if DeletionMode == "HardDelete":
                    conn.execute("DELETE FROM online WHERE grp=? AND rid=?", (group.name, rid))
                else:
                    conn.execute(
                        "INSERT OR REPLACE INTO online VALUES (?, ?, ?, NULL, NULL, 1)",
                        (group.name, rid, event),
                    )
            if offline:
                marker = [
                    {"FeatureName": group.rid, "ValueAsString": rid},
                    {"FeatureName": group.event_time, "ValueAsString": EventTime},
                ]
                conn.execute(
                    "INSERT INTO offline (grp, rid, event_time, record, write_time, api_invocation_time, is_deleted) "
                    "VALUES (?, ?, ?, ?, ?, ?, 1)",
                    (group.name, rid, event, json.dumps(marker), now, now),
                )
        return {"ResponseMetadata": {"HTTPStatusCode": 200}}

    # ------------------------------------------------------------------------------- reads
    def _online(self, group: _Group, rids: list[str]) -> dict[str, tuple[list[dict], float | None]]:
        now = self.clock()
        found: dict[str, tuple[list[dict], float | None]] = {}
        conn = self._conn()
        for start in range(0, len(rids), 500):
            chunk = rids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            for rid, body, expires in conn.execute(
                f"SELECT rid, record, expires_at FROM online WHERE grp=? AND deleted=0 AND rid IN ({marks})",
                (group.name, *chunk),
            ):
                if expires is None or expires > now:
                    found[rid] = (_decode(body)[0], expires)
        return found

    @staticmethod
    def _select(record: list[dict], wanted: set[str] | None) -> list[dict]:
        """The record's features named in `wanted` (None or empty: all of them)."""
        if not wanted:
            return record
        return [f for f in record if f["FeatureName"] in wanted]

    def get_record(
        self,
        FeatureGroupName: str,
        RecordIdentifierValueAsString: str,
        FeatureNames: list[str] | None = None,
        ExpirationTimeResponse: str = "Disabled",
        **_: Any,
    ) -> dict:
        group = self._group(FeatureGroupName, "GetRecord")
        if not group.online:
            raise self.exceptions.error(
                "ValidationError", f"feature group {group.name} has no online store", "GetRecord"
            )
        hit = self._online(group, [RecordIdentifierValueAsString]).get(RecordIdentifierValueAsString)
        response: dict[str, Any] = {"ResponseMetadata": {"HTTPStatusCode": 200}}
        if hit is not None:
            response["Record"] = self._select(hit[0], set(FeatureNames or ()))
            if ExpirationTimeResponse == "Enabled" and hit[1] is not None:
                response["ExpiresAt"] = iso(hit[1])
        return response

    def batch_get_record(
        self, Identifiers: list[dict], ExpirationTimeResponse: str = "Disabled", **_: Any
    ) -> dict:
        op = "BatchGetRecord"
        if not isinstance(Identifiers, list) or not 1 <= len(Identifiers) <= MAX_IDENTIFIERS:
            raise self.exceptions.error(
                "ValidationError", f"Identifiers must hold 1..{MAX_IDENTIFIERS} entries", op
            )
        asked = sum(len(i.get("RecordIdentifiersValueAsString") or ()) for i in Identifiers)
        if asked > MAX_RECORDS_PER_CALL:
            raise self.exceptions.error(
                "ValidationError", f"{asked} records asked; a call may ask for {MAX_RECORDS_PER_CALL}", op
            )
        records: list[dict] = []
        errors: list[dict] = []
        for ident in Identifiers:
            name, rids = ident.get("FeatureGroupName"), ident.get("RecordIdentifiersValueAsString")
            if not isinstance(rids, list) or not 1 <= len(rids) <= MAX_IDENTIFIERS:
                raise self.exceptions.error(
                    "ValidationError",
                    f"RecordIdentifiersValueAsString must hold 1..{MAX_IDENTIFIERS} values",
                    op,
                )
            try:
                group = self._group(name, op)
            except self.exceptions.ResourceNotFound as err:
                errors += [
                    {
                        "FeatureGroupName": name,
                        "RecordIdentifierValueAsString": rid,
                        "ErrorCode": "ResourceNotFound",
                        "ErrorMessage": err.response["Error"]["Message"],
                    }
                    for rid in rids
                ]
                continue
            found = self._online(group, rids)
            wanted = set(ident.get("FeatureNames") or ())  # once per identifier entry, not per record
            for rid in rids:
                if rid in found:
                    record, expires = found[rid]
                    detail = {
                        "FeatureGroupName": name,
                        "RecordIdentifierValueAsString": rid,
                        "Record": self._select(record, wanted),
                    }
                    if ExpirationTimeResponse == "Enabled" and expires is not None:
                        detail["ExpiresAt"] = iso(expires)
                    records.append(detail)
        return {
            "Records": records,
            "Errors": errors,
            "UnprocessedIdentifiers": [],
            "ResponseMetadata": {"HTTPStatusCode": 200},
        }

    # --------------------------------------------------------------------------- non-boto
    def offline_records(self, group_name: str) -> list[dict[str, Any]]:
        """The offline history of a group in write order: feature values plus the offline columns."""
        group = self._group(group_name, "OfflineRecords")
        rows = self._conn().execute(
            "SELECT record, write_time, api_invocation_time, is_deleted FROM offline WHERE grp=? ORDER BY id",
            (group.name,),
        )
        return [
            {
                **{f["FeatureName"]: f["ValueAsString"] for f in json.loads(body)},
                "write_time": w,
                "api_invocation_time": a,
                "is_deleted": bool(d),
            }
            for body, w, a, d in rows
        ]

    def load_table(self, group_name: str, table: Any) -> int:
        """Bulk PutRecord of every row of a pyarrow Table (columns = feature names) in one transaction."""
        group = self._group(group_name, "Load")
        columns = [c for c in table.column_names if c in group.types]
        missing = {group.rid, group.event_time} - set(columns)
        if missing:
            raise ValueError(f"table lacks {sorted(missing)} for feature group {group.name}")
        data = {c: table.column(c).to_pylist() for c in columns}
        stores, now = (group.online, group.offline), self.clock()
        conn = self._conn()
        conn.execute("BEGIN IMMEDIATE")
        try:
            for i in range(table.num_rows):
                values = {
                    c: _as_string(data[c][i], group.types[c]) for c in columns if data[c][i] is not None
                }
                event = group.event_seconds(values[group.event_time])
                self._write(conn, group, values, event, stores, group.ttl, now)
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        return table.num_rows

    def load_parquet(self, group_name: str, path: str | Path) -> int:
        """Bulk load a Parquet file or a directory of them (the batch job's DIR/snapshots or DIR/online)."""
        import pyarrow.parquet as pq

        table = pq.read_table(path)
        # Oldest first, so the online store ends with the newest event time and history is in order.
        event_time = self._group(group_name, "Load").event_time
        if event_time in table.column_names:
            table = table.sort_by(event_time)
        return self.load_table(group_name, table)


def _as_string(value: Any, kind: str) -> str:
    if isinstance(value, datetime):
        value = value.timestamp()
    if kind == "Integral":
        return str(int(value))
    if kind == "Fractional":
        return repr(float(value))
    return str(value)


# ---------------------------------------------------------------------------------- REST server
class _Handler(BaseHTTPRequestHandler):
    store: LocalFeatureStore
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # quiet: the demo has its own view
        pass

    def _reply(self, status: int, body: dict | None, error: str | None = None) -> None:
        payload = b"" if body is None else json.dumps(body, default=str).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        if error:
            self.send_header("x-amzn-ErrorType", error)
        self.end_headers()
        self.wfile.write(payload)

    def _body(self) -> dict:
        length = int(self.headers.get("Content-Length") or 0)
        return json.loads(self.rfile.read(length) or b"{}")

    def _dispatch(self, method: str) -> None:
        url = urlparse(self.path)
        query = parse_qs(url.query)
        one = {k: v[0] for k, v in query.items()}
        store = self.store
        try:
            if method == "POST" and url.path == "/BatchGetRecord":
                result = store.batch_get_record(**self._body())
            elif url.path.startswith("/FeatureGroup/") and url.path.count("/") == 2:
                name = unquote(url.path.split("/", 2)[2])
                if method == "PUT":
                    result = store.put_record(FeatureGroupName=name, **self._body())
                elif method == "GET":
                    result = store.get_record(
                        FeatureGroupName=name,
                        RecordIdentifierValueAsString=one.get("RecordIdentifierValueAsString", ""),
                        FeatureNames=query.get("FeatureName"),
                        ExpirationTimeResponse=one.get("ExpirationTimeResponse", "Disabled"),
                    )
                elif method == "DELETE":
                    result = store.delete_record(
                        FeatureGroupName=name,
                        RecordIdentifierValueAsString=one.get("RecordIdentifierValueAsString", ""),
                        EventTime=one.get("EventTime", ""),
                        TargetStores=query.get("TargetStores"),
                        DeletionMode=one.get("DeletionMode", "SoftDelete"),
                    )
                else:
                    raise store.exceptions.error("ValidationError", f"{method} not supported", "Unknown")
            else:
                self._reply(404, {"message": f"no route {method} {url.path}"}, "UnknownOperationException")
                return
        except store.exceptions.ClientError as err:
            code = err.response["Error"]["Code"]
            status = err.response["ResponseMetadata"]["HTTPStatusCode"]
            self._reply(status, {"message": err.response["Error"]["Message"]}, code)
            return
        except (TypeError, ValueError, json.JSONDecodeError) as err:
            self._reply(400, {"message": f"bad request: {err}"}, "ValidationError")
            return
        result.pop("ResponseMetadata", None)
        self._reply(200, result)

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def do_POST(self) -> None:
        self._dispatch("POST")


def make_server(store: LocalFeatureStore, port: int = 0) -> Server:
    """A Feature Store runtime REST server on 127.0.0.1 (port 0 = any free port; see .server_port)."""
    return Server(("127.0.0.1", port), type("Handler", (_Handler,), {"store": store}))


def main(argv: list[str] | None = None) -> int:
    parser = OneLineErrors(
        prog="python -m local_aws.feature_store", description="Local Feature Store runtime."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="serve the Feature Store runtime REST API on 127.0.0.1")
    serve.add_argument(
        "--db", type=Path, default=Path("data/featurestore.db"), help="SQLite file (default: %(default)s)"
    )
    serve.add_argument("--port", type=int, default=4599, help="TCP port on 127.0.0.1 (default: %(default)s)")
    serve.add_argument("--name-prefix", default="", help="prefix accepted before group names (default: none)")
    load = sub.add_parser("load", help="bulk load a Parquet file or directory into a feature group")
    load.add_argument(
        "--db", type=Path, default=Path("data/featurestore.db"), help="SQLite file (default: %(default)s)"
    )
    load.add_argument("--group", required=True, help="feature group name, e.g. cc-agg-batch-fg")
    load.add_argument("path", type=Path, help="Parquet file or directory")
    args = parser.parse_args(argv)
    try:
        store = LocalFeatureStore(args.db, name_prefix=getattr(args, "name_prefix", ""))
        if args.command == "load":
            if not args.path.exists():
                raise FileNotFoundError(f"{args.path} does not exist")
            print(f"loaded {store.load_parquet(args.group, args.path)} rows into {args.group}")
            return 0
        server = make_server(store, args.port)
    except (OSError, ValueError, FS_ERRORS.ClientError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"feature store runtime API on http://127.0.0.1:{server.server_port} (db {args.db})", flush=True)
    return serve_until_interrupted(server)


if __name__ == "__main__":
    sys.exit(main())
