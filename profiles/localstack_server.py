"""LocalStack for the `localstack` profile: start, health, stop (python -m profiles.localstack_server up|down|...).

Where a Docker engine answers, LocalStack runs as its container with the gateway published on
127.0.0.1:4566 only. Otherwise it runs on the host (`python -m localstack.runtime.main`) from its
own virtualenv (.venv-localstack, Python >= 3.13: localstack-core 2026.3 needs it), with every
file it writes under .localstack/ in the project:

- loopback only: hypercorn gateway on 127.0.0.1:4566; Kinesis is the npm package `kinesis-local`
  (kinesis-mock compiled to JavaScript), whose main.js binds "0.0.0.0": we install it before the
  first start (LocalStack's package manager, same FILESYSTEM_ROOT) and patch that literal, so it
  never listens beyond loopback; `up` then checks every listening socket of the process tree.
- kinesis-local's PutRecords is quadratic: it groups the new records by (shard, every record
  the shard holds) and so hashes the whole shard once per new record (one shard, 10,000 records
  written in batches of 500: 37 s of CPU, 230 records/s and falling). A second literal patch
  hashes that key by its shard only (same grouping; 10,000 records: 1.2 s, ~5,000 records/s, flat).
- PERSISTENCE=1: in the free edition only Kinesis honours it (kinesis-local saves its streams
  and records to FILESYSTEM_ROOT/var/lib/localstack/state every second here). `restart`
  keeps that state, so a stream survives LocalStack going away; `up` starts clean unless asked
  to keep it. SQS, S3, IAM, Logs are in memory only.
- `down` stops only what `up` started (pid file or container id). It freezes the gateway and
  waits for kinesis-local's next save before killing the tree, so every record Kinesis
  acknowledged is on disk (LocalStack's own shutdown SIGKILLs kinesis-local, losing what it
  acknowledged since its last save).
"""

from __future__ import annotations

import contextlib
import glob
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tools.cli import OneLineErrors

PROJECT = Path(__file__).resolve().parent.parent
STATE = PROJECT / ".localstack"
VENV = PROJECT / ".venv-localstack"
REQUIREMENTS = PROJECT / "requirements-localstack.txt"
HOST, PORT = "127.0.0.1", 4566
ENDPOINT = f"http://{HOST}:{PORT}"
REGION = "us-east-1"
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test"}
IMAGE = os.environ.get("LOCALSTACK_IMAGE", "localstack/localstack:2026.3.0")
CONTAINER = "fraud-localstack"
# Services the profile and terraform/envs/local use; `up` waits until LocalStack lists them all.
SERVICES = ("cloudwatch", "iam", "kinesis", "kms", "logs", "s3", "sqs", "sts")
MIN_PYTHON = (3, 13)
KINESIS_MOCK_VERSION = "0.5.2"  # LocalStack's default; the patches below are for this build's main.js
# kinesis-local allocates heavily per record (Scala.js: circe JSON, immutable collections), so
# Node's default young generation scavenges most of the time it serves GetRecords; a larger one
# makes a record read cheaper (bench/localstack.py measures both, docs/performance.md).
KINESIS_NODE_OPTIONS = "--max-semi-space-size=128"


@dataclass(frozen=True)
class Patch:
    """A literal replacement in kinesis-local's main.js, applied once, verified every `up`."""

    why: str
    before: str
    after: str


KINESIS_PATCHES = (
    Patch("bind loopback, not every interface", '"0.0.0.0"', '"127.0.0.1"'),
    # PutRecordsRequest.putRecords: validRecs.groupBy { case (shard, currentRecords, _) => (shard,
    # currentRecords) }. Tuple keys hash every element of currentRecords (the shard's whole
    # Vector). Within one call, equal shards carry the very same Vector, so hashing the tuple by
    # its shard keeps the grouping (equality still compares both, the Vector by reference first).
    Patch(
        "PutRecords: hash the grouping key by its shard, not by every record the shard holds",
        "var v=B(new C,q.yk,q.xm);",
        "var v=B(new C,q.yk,q.xm),kmShardKey=(v.j=function(){return Cz(V(),this.s())});",
    ),
)
# kinesis-local saves streams and records this often (default 5 s); `down` waits for one save.
KINESIS_PERSIST_INTERVAL_S = int(os.environ.get("LOCALSTACK_KINESIS_PERSIST_INTERVAL_S", "1"))

PID_FILE = STATE / "localstack.pid"
CONTAINER_FILE = STATE / "container.id"
LOG_FILE = STATE / "localstack.log"
FS_ROOT = STATE / "fs"
TMP = STATE / "tmp"
PERSISTED = FS_ROOT / "var" / "lib" / "localstack" / "state"


class LocalStackError(RuntimeError):
    """Something the user must fix; the CLI prints it on one line."""


@dataclass(frozen=True)
class Started:
    mode: str  # "host" | "docker" | "external" (already running, not ours)
    seconds: float
    already_running: bool
    phases: dict[str, float]


# ---------------------------------------------------------------- environment


def runtime_environment(kinesis_save_s: int | None = KINESIS_PERSIST_INTERVAL_S) -> dict[str, str]:
    """The host runtime's environment: loopback only, every file under .localstack/.

    kinesis_save_s: how often kinesis-local saves its streams (None: never; saving the whole
    state as one JSON file costs CPU in proportion to the records held, so benchmarks turn it off).
    """
    return {
        "GATEWAY_LISTEN": f"{HOST}:{PORT}",
        "GATEWAY_SERVER": "hypercorn",  # the default server binds every interface
        "LOCALSTACK_HOST": f"{HOST}:{PORT}",
        "OVERRIDE_IN_DOCKER": "0",
        "DNS_ADDRESS": "0",
        "SKIP_SSL_CERT_DOWNLOAD": "1",
        "DISABLE_EVENTS": "1",
        "PERSISTENCE": "1",
        "KINESIS_LATENCY": "0",  # CREATING -> ACTIVE at once; the default 500 ms only slows tests
        "KINESIS_MOCK_VERSION": KINESIS_MOCK_VERSION,
        "NODE_OPTIONS": KINESIS_NODE_OPTIONS,  # LocalStack's only Node child is kinesis-local
        "KINESIS_MOCK_PERSIST_INTERVAL": f"{kinesis_save_s or 5}s",
        "KINESIS_PERSISTENCE": "1" if kinesis_save_s else "0",
        "FILESYSTEM_ROOT": str(FS_ROOT),
        "TMPDIR": str(TMP),
        "XDG_CACHE_HOME": str(STATE / "cache"),  # plux caches entry points there (default ~/.cache)
        "npm_config_cache": str(STATE / "npm-cache"),
        "npm_config_update_notifier": "false",
    }


def client_environment() -> dict[str, str]:
    """What a boto3 client (or Terraform) needs to talk to this LocalStack."""
    return {"AWS_ENDPOINT_URL": ENDPOINT, "AWS_DEFAULT_REGION": REGION, "AWS_REGION": REGION, **CREDENTIALS}


# ---------------------------------------------------------------- virtualenv


def find_python() -> str:
    """A Python >= 3.13 for the host runtime: $LOCALSTACK_PYTHON, python3.13+ on PATH, or pyenv's."""
    candidates = [os.environ.get("LOCALSTACK_PYTHON", "")]
    candidates += [shutil.which(f"python3.{minor}") or "" for minor in (13, 14, 15)]
    pyenv = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    candidates += sorted(glob.glob(str(pyenv / "3.1[3-9]*" / "bin" / "python")), reverse=True)
    for candidate in filter(None, candidates):
        probe = subprocess.run(
            [candidate, "-c", f"import sys; print(sys.version_info >= {MIN_PYTHON!r})"],
            capture_output=True,
            text=True,
        )
        if probe.returncode == 0 and probe.stdout.strip() == "True":
            return candidate
    raise LocalStackError(
        "LocalStack's host runtime needs Python >= 3.13 (set LOCALSTACK_PYTHON=/path/to/python3.13)"
    )


def venv_python() -> Path:
    return VENV / "bin" / "python"


def ensure_venv() -> Path:
    """Create or refresh .venv-localstack from requirements-localstack.txt (stamped by its hash).

    The file is a lock with hashes (`make lock`): pip installs exactly those files or fails.
    """
    stamp = VENV / ".installed"
    digest = hashlib.sha256(REQUIREMENTS.read_bytes()).hexdigest()
    if stamp.exists() and stamp.read_text().strip() == digest and venv_python().exists():
        return venv_python()
    if not venv_python().exists():
        subprocess.run([find_python(), "-m", "venv", str(VENV)], check=True)
    subprocess.run(
        [
            str(venv_python()),
            "-m",
            "pip",
            "install",
            "-q",
            "--disable-pip-version-check",
            "--require-hashes",
            "-r",
            str(REQUIREMENTS),
        ],
        check=True,
        env={**os.environ, "PIP_CACHE_DIR": str(STATE / "pip-cache")},
    )
    stamp.write_text(digest + "\n")
    return venv_python()


# ---------------------------------------------------------------- kinesis-local


def kinesis_main_js() -> list[Path]:
    return sorted(FS_ROOT.glob(f"**/kinesis-local/{KINESIS_MOCK_VERSION}/node_modules/kinesis-local/main.js"))


def patch_kinesis(path: Path) -> list[str]:
    """Apply KINESIS_PATCHES to a main.js; returns why each patch applied now (empty: all were there).

    Each `before` must occur exactly once, or not at all with its `after` present (patched earlier);
    anything else means kinesis-local changed and the patch must be re-checked, not guessed.
    """
    text, applied = path.read_text(), []
    for patch in KINESIS_PATCHES:
        found = text.count(patch.before)
        if found == 0 and patch.after in text:
            continue
        if found != 1:
            raise LocalStackError(
                f"{path}: {found} matches for the patch '{patch.why}' (expected 1); "
                f"kinesis-local changed (pinned {KINESIS_MOCK_VERSION}), re-check the patch"
            )
        text = text.replace(patch.before, patch.after)
        applied.append(patch.why)
    if applied:
        path.write_text(text)
    return applied


def install_kinesis(python: Path) -> None:
    """Install kinesis-local with LocalStack's own package manager (npm), then patch it (KINESIS_PATCHES)."""
    if not kinesis_main_js():
        if shutil.which("node") is None or shutil.which("npm") is None:
            raise LocalStackError("LocalStack's Kinesis needs Node.js and npm (install nodejs npm)")
        done = subprocess.run(
            [str(python), "-m", "localstack.cli.lpm", "install", "kinesis-mock"],
            env={**os.environ, **runtime_environment()},
            capture_output=True,
            text=True,
        )
        if done.returncode != 0 or not kinesis_main_js():
            raise LocalStackError(
                f"installing kinesis-local failed: {(done.stderr or done.stdout).strip()[-300:]}"
            )
    for path in kinesis_main_js():
        patch_kinesis(path)


# ---------------------------------------------------------------- processes


def read_pid(path: Path) -> int | None:
    """The pid written in `path` if that process is running, else None."""
    try:
        pid = int(path.read_text().strip())
    except (OSError, ValueError):
        return None
    return pid if _alive(pid) else None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie (exited, not yet reaped by its parent) is not running
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for stat in glob.glob("/proc/[0-9]*/stat"):
        try:
            fields = Path(stat).read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        tree.setdefault(int(fields[1]), []).append(int(stat.split("/")[2]))
    return tree


def descendants(pid: int) -> list[int]:
    tree, out, todo = _children(), [], [pid]
    while todo:
        current = todo.pop()
        out.append(current)
        todo.extend(tree.get(current, []))
    return out


def cmdline(pid: int) -> str:
    """A process's command line as one string ("" once it is gone)."""
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def listening_sockets(pids: list[int]) -> list[str]:
    """Local addresses (TCP and UDP) that the given processes listen on, from `ss`."""
    if shutil.which("ss") is None:
        raise LocalStackError("cannot verify the listening addresses: `ss` (iproute2) is not installed")
    wanted, found = set(pids), []
    for flags in ("-ltnpH", "-lunpH"):
        out = subprocess.run(["ss", flags], capture_output=True, text=True, check=True).stdout
        for line in out.splitlines():
            owners = {int(p) for p in re.findall(r"pid=(\d+)", line)}
            if owners & wanted:
                found.append(line.split()[3])
    return found


def non_loopback(addresses: list[str]) -> list[str]:
    loopback = ("127.", "[::1]", "[::ffff:127.")
    return [a for a in addresses if not a.startswith(loopback)]


# ---------------------------------------------------------------- health


def health(timeout: float = 2.0) -> dict | None:
    try:
        with urllib.request.urlopen(f"{ENDPOINT}/_localstack/health", timeout=timeout) as response:
            return json.load(response)
    except (urllib.error.URLError, OSError, ValueError):
        return None


def ready(status: dict | None) -> bool:
    services = (status or {}).get("services", {})
    return all(services.get(s) in {"available", "running"} for s in SERVICES)


def wait_ready(deadline_s: float, pid: int | None = None) -> None:
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        if ready(health()):
            return
        if pid is not None and not _alive(pid):
            raise LocalStackError(f"LocalStack exited during start; see {LOG_FILE}: {_log_tail()}")
        time.sleep(0.25)
    raise LocalStackError(f"LocalStack not healthy after {deadline_s:.0f} s; see {LOG_FILE}")


def _log_tail() -> str:
    try:
        lines = [line for line in LOG_FILE.read_text(errors="replace").splitlines() if line.strip()]
    except OSError:
        return ""
    return lines[-1][-300:] if lines else ""


def warm_kinesis() -> None:
    """The first Kinesis call starts kinesis-local (seconds); do it now rather than in a test."""
    import boto3  # the project venv has it; imported here so `down` and `status` need nothing

    kinesis = boto3.client(
        "kinesis",
        endpoint_url=ENDPOINT,
        region_name=REGION,
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )
    end = time.monotonic() + 90
    while True:
        try:  # while kinesis-local starts, concurrent callers get 500s from the gateway
            kinesis.list_streams(Limit=1)
            return
        except Exception as err:
            if time.monotonic() > end:
                raise LocalStackError(f"LocalStack's Kinesis did not start: {err}") from err
            time.sleep(0.5)


# ---------------------------------------------------------------- docker


def docker_available() -> bool:
    if os.environ.get("LOCALSTACK_MODE", "auto") == "host" or shutil.which("docker") is None:
        return False
    if os.environ.get("LOCALSTACK_MODE") == "docker":
        return True
    try:
        return subprocess.run(["docker", "info"], capture_output=True, timeout=15).returncode == 0
    except subprocess.TimeoutExpired:
        return False


def start_container() -> None:
    (STATE / "volume").mkdir(parents=True, exist_ok=True)
    env = ["-e", "PERSISTENCE=1", "-e", f"LOCALSTACK_HOST={HOST}:{PORT}"]
    if os.environ.get("LOCALSTACK_AUTH_TOKEN"):
        env += ["-e", "LOCALSTACK_AUTH_TOKEN"]
    done = subprocess.run(
        [
            "docker",
            "run",
            "-d",
            "--rm",
            "--name",
            CONTAINER,
            "-p",
            f"{HOST}:{PORT}:4566",
            "-v",
            f"{STATE / 'volume'}:/var/lib/localstack",
            *env,
            IMAGE,
        ],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise LocalStackError(f"docker run {IMAGE} failed: {done.stderr.strip()[-300:]}")
    CONTAINER_FILE.write_text(done.stdout.strip() + "\n")


# ---------------------------------------------------------------- lifecycle


def prepare() -> str:
    """Install what `up` will need, once: nothing for the container, the host runtime otherwise.

    Where a Docker engine answers, LocalStack runs from its image (which brings its own Python
    and Node), so neither Python >= 3.13 nor Node.js is needed on the host.
    """
    if docker_available():
        return f"Docker answers: LocalStack will run as the container {IMAGE} (no host runtime needed)"
    python = ensure_venv()
    install_kinesis(python)
    return f"LocalStack host runtime ready: {python} (kinesis-local {KINESIS_MOCK_VERSION})"


def running_mode() -> str | None:
    if CONTAINER_FILE.exists():
        return "docker"
    if read_pid(PID_FILE):
        return "host"
    return None


def up(
    keep_state: bool = False,
    deadline_s: float = 180.0,
    kinesis_save_s: int | None = KINESIS_PERSIST_INTERVAL_S,
) -> Started:
    """Start LocalStack unless it already answers; idempotent."""
    t0, phases = time.monotonic(), {}
    if ready(health()):
        return Started(running_mode() or "external", 0.0, True, {})
    STATE.mkdir(exist_ok=True)
    if read_pid(PID_FILE) or CONTAINER_FILE.exists():
        down()  # ours but unhealthy: start again
    if not keep_state:
        shutil.rmtree(PERSISTED, ignore_errors=True)
    if docker_available():
        start_container()
        wait_ready(deadline_s)
        warm_kinesis()
        return Started("docker", time.monotonic() - t0, False, {})
    python = ensure_venv()
    phases["venv"] = time.monotonic() - t0
    install_kinesis(python)
    phases["kinesis-local install"] = time.monotonic() - t0 - sum(phases.values())
    TMP.mkdir(parents=True, exist_ok=True)
    with LOG_FILE.open("ab") as log:
        process = subprocess.Popen(
            [str(python), "-m", "localstack.runtime.main"],
            cwd=STATE,
            env={**os.environ, **runtime_environment(kinesis_save_s)},
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    PID_FILE.write_text(f"{process.pid}\n")
    wait_ready(deadline_s, process.pid)
    phases["gateway healthy"] = time.monotonic() - t0 - sum(phases.values())
    warm_kinesis()
    phases["kinesis ready"] = time.monotonic() - t0 - sum(phases.values())
    exposed = non_loopback(listening_sockets(descendants(process.pid)))
    if exposed:
        down()
        raise LocalStackError(f"LocalStack listened beyond loopback ({', '.join(exposed)}); stopped it")
    return Started("host", time.monotonic() - t0, False, phases)


def _wait_exit(pids: list[int], seconds: float) -> bool:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if not any(_alive(p) for p in pids):
            return True
        time.sleep(0.1)
    return False


def _kill(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)


def _saved_after(moment: float) -> bool:
    """Every Kinesis state file was written completely after `moment` (or there is none)."""
    for path in (PERSISTED / "kinesis").glob("*.json"):
        try:
            if path.stat().st_mtime <= moment:
                return False
            json.loads(path.read_bytes())
        except (OSError, ValueError):
            return False
    return True


def stop_host(pid: int) -> None:
    """Freeze the gateway, let kinesis-local save what it acknowledged, then kill the tree (by pid).

    LocalStack's own shutdown SIGKILLs kinesis-local (losing what it acknowledged since its
    last save) and would restart it if it exited first. A frozen runtime forwards no request
    and restarts nothing, while kinesis-local keeps saving every KINESIS_PERSIST_INTERVAL_S; once
    a save completed after the freeze, every acknowledged record is on disk. The runtime's other
    state is in memory only, so SIGKILL loses nothing a clean shutdown would keep.
    """
    frozen = time.time()
    _kill(pid, signal.SIGSTOP)
    tree = descendants(pid)
    if any("kinesis-local" in cmdline(p) for p in tree[1:]):
        end = time.monotonic() + 4 * KINESIS_PERSIST_INTERVAL_S + 5
        while not _saved_after(frozen) and time.monotonic() < end:
            time.sleep(0.1)
        if not _saved_after(frozen):
            print(
                "warning: kinesis-local did not save its state after the freeze; Kinesis may lose records",
                file=sys.stderr,
            )
    for p in tree:
        _kill(p, signal.SIGKILL)
    _wait_exit(tree, 10.0)
    shutil.rmtree(TMP / "localstack", ignore_errors=True)  # what LocalStack's shutdown would delete


def down() -> bool:
    """Stop what `up` started; True if something was stopped. Never touches anything else."""
    stopped = False
    if CONTAINER_FILE.exists():
        container = CONTAINER_FILE.read_text().strip()
        subprocess.run(["docker", "stop", container], capture_output=True)
        CONTAINER_FILE.unlink()
        stopped = True
    pid = read_pid(PID_FILE)
    if pid:
        stop_host(pid)
        stopped = True
    PID_FILE.unlink(missing_ok=True)
    return stopped


def restart(deadline_s: float = 180.0) -> Started:
    """Stop and start again keeping Kinesis's saved streams and records (the fault test's outage)."""
    down()
    return up(keep_state=True, deadline_s=deadline_s)


def iter_status() -> Iterator[str]:
    status = health()
    yield f"endpoint {ENDPOINT}: {'healthy' if ready(status) else 'not ready' if status else 'not answering'}"
    mode = running_mode()
    yield f"started by `up`: {mode or 'no'}"
    pid = read_pid(PID_FILE)
    if pid:
        yield f"pid {pid}, listening on {', '.join(listening_sockets(descendants(pid))) or '-'}"


# ---------------------------------------------------------------- CLI


def main(argv: list[str] | None = None) -> int:
    parser = OneLineErrors(prog="python -m profiles.localstack_server", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    start = sub.add_parser("up", help="start LocalStack on 127.0.0.1:4566 and wait until healthy")
    start.add_argument("--keep-state", action="store_true", help="keep Kinesis's saved streams and records")
    sub.add_parser("down", help="stop what `up` started")
    sub.add_parser("restart", help="down, then up keeping Kinesis's saved state")
    sub.add_parser("status", help="is it running, and who started it")
    sub.add_parser("venv", help="create .venv-localstack (first run only)")
    sub.add_parser(
        "prepare", help="install what `up` needs: nothing if Docker answers, else the host runtime"
    )
    sub.add_parser("env", help="print the client environment (eval it in a shell)")
    args = parser.parse_args(argv)
    try:
        if args.command in {"up", "restart"}:
            started = up(keep_state=args.keep_state) if args.command == "up" else restart()
            if started.already_running:
                print(f"LocalStack already running at {ENDPOINT} ({started.mode})")
            else:
                timings = ", ".join(f"{k} {v:.1f} s" for k, v in started.phases.items())
                print(
                    f"LocalStack ({started.mode}) healthy at {ENDPOINT} in {started.seconds:.1f} s"
                    + (f" ({timings}); log {LOG_FILE}" if timings else "")
                )
        elif args.command == "down":
            print("LocalStack stopped" if down() else "nothing to stop (not started by `up`)")
        elif args.command == "status":
            print("\n".join(iter_status()))
        elif args.command == "prepare":
            print(prepare())
        elif args.command == "venv":
            print(f"LocalStack virtualenv ready: {ensure_venv()}")
        elif args.command == "env":
            print("\n".join(f"export {k}={v}" for k, v in client_environment().items()))
    except (LocalStackError, subprocess.CalledProcessError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
