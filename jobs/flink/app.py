"""The streaming aggregation app: PyFlink 1.20 on Managed Service for Apache Flink.

The SQL is rendered from the feature definition (features/flink_sql.py); this module only reads
the runtime properties, picks the connectors and submits the statement set. On the service the
properties come from /etc/flink/application_properties.json; locally from the same JSON format at
the path in $FLINK_APP_PROPERTIES (the tests use it to swap Kinesis for the filesystem connector).

    python jobs/flink/app.py                                 # what the service runs
    FLINK_APP_PROPERTIES=props.json .venv-flink/bin/python jobs/flink/app.py   # locally
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

# The service runs this file as a script: make the zip root (which holds `features/`) importable.
# Appended, not prepended: nothing in a checkout may shadow a package of the Flink virtualenv.
_ROOT = Path(__file__).resolve().parents[2]
if str(_ROOT) not in sys.path:
    sys.path.append(str(_ROOT))

from features import flink_sql  # noqa: E402

SERVICE_PROPERTIES = Path("/etc/flink/application_properties.json")
PROPERTIES_ENV = "FLINK_APP_PROPERTIES"
GROUP = "FlinkApplicationProperties"


class ConfigError(ValueError):
    """Missing or invalid runtime property; the message names it."""


def read_properties(path: Path) -> dict[str, dict[str, str]]:
    """The service's format: [{"PropertyGroupId": ..., "PropertyMap": {...}}, ...] -> {group: map}."""
    try:
        groups = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise ConfigError(f"cannot read runtime properties {path}: {err}") from err
    if not isinstance(groups, list):
        raise ConfigError(f"{path}: expected a list of property groups")
    return {g["PropertyGroupId"]: {k: str(v) for k, v in g.get("PropertyMap", {}).items()} for g in groups}


def properties_path(environ: dict[str, str]) -> Path:
    override = environ.get(PROPERTIES_ENV)
    return Path(override) if override else SERVICE_PROPERTIES


def _require(props: dict[str, str], *keys: str) -> list[str]:
    missing = [k for k in keys if not props.get(k)]
    if missing:
        raise ConfigError(f"property group {GROUP} lacks: {', '.join(missing)}")
    return [props[k] for k in keys]


def connectors_from(props: dict[str, str]) -> flink_sql.Connectors:
    """Kinesis (the default, on the service) or the filesystem connector (tests, bench)."""
    kind = props.get("connector", "kinesis")
    if kind == "filesystem":
        return flink_sql.filesystem(*_require(props, "input.path", "output.path", "late.path"))
    if kind == "kinesis":
        source, output, late, region = _require(
            props, "input.stream.arn", "output.stream.arn", "late.stream.arn", "aws.region"
        )
        position, timestamp = props.get("source.init.position", "LATEST"), props.get("source.init.timestamp")
        if position == "AT_TIMESTAMP" and not timestamp:
            # The connector would refuse it only once the job runs; say so before submitting.
            raise ConfigError("source.init.position AT_TIMESTAMP needs source.init.timestamp")
        return flink_sql.kinesis(
            source, output, late, region, init_position=position, init_timestamp=timestamp
        )
    raise ConfigError(f"property connector must be kinesis or filesystem, got {kind!r}")


def statement_set(table_env: Any, connectors: flink_sql.Connectors) -> Any:
    """Create the tables and views on `table_env`; return the statement set of the two INSERTs."""
    statements = flink_sql.statements(connectors)
    inserts = [s for s in statements if s.startswith("INSERT")]
    for ddl in statements:
        if ddl not in inserts:
            table_env.execute_sql(ddl)
    job = table_env.create_statement_set()
    for insert in inserts:
        job.add_insert_sql(insert)
    return job


def table_environment(settings: dict[str, str]) -> Any:
    from pyflink.table import EnvironmentSettings, TableEnvironment

    env = TableEnvironment.create(EnvironmentSettings.in_streaming_mode())
    config = env.get_config()
    for key, value in settings.items():
        config.set(key, value)
    return env


def run(props: dict[str, str], wait: bool) -> Any:
    """Build and submit the job; `wait` blocks until a bounded (test) input is exhausted."""
    connectors = connectors_from(props)
    settings = flink_sql.settings(
        props.get("dedup.ttl", flink_sql.DEFAULT_DEDUP_TTL),
        props.get("source.idle.timeout", flink_sql.DEFAULT_IDLE_TIMEOUT),
    )
    if "parallelism" in props:  # local runs only; the service sets parallelism itself
        settings["parallelism.default"] = props["parallelism"]
    result = statement_set(table_environment(settings), connectors).execute()
    if wait:
        result.wait()
    return result


def main(environ: dict[str, str] | None = None) -> int:
    environ = dict(os.environ if environ is None else environ)
    path = properties_path(environ)
    try:
        groups = read_properties(path)
        if GROUP not in groups:
            raise ConfigError(f"{path} has no property group {GROUP}")
        # On the service the job runs detached; a local run waits for the bounded input to end.
        run(groups[GROUP], wait=path != SERVICE_PROPERTIES)
    except ConfigError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
