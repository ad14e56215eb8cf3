"""The model endpoint for one machine: the artifact SageMaker serves, behind SageMaker's HTTP contracts.

- `Model`: the in-process predictor (the `local` profile scores with it directly).
- The server (the `localstack` profile): on 127.0.0.1, the inference container contract
  (`GET /ping`, `POST /invocations`) and the SageMaker runtime route
  (`POST /endpoints/{name}/invocations`), so an unmodified boto3 `sagemaker-runtime` client
  given `endpoint_url` gets predictions.

Payload: text/csv, one transaction per line, no header, columns in the model's feature order;
answer: text/csv, one probability per line. A bad payload is the caller's fault: the container
route answers 4xx with a one-line message; the runtime route wraps it as SageMaker does, a
`ModelError` (424) carrying the container's status and message, which boto3 raises as
`client.exceptions.ModelError`.

python -m local_aws.endpoint --model data/model/model.tar.gz --port 8080
"""

from __future__ import annotations

import argparse
import contextlib
import json
import re
import sys
import tarfile
import threading
from collections.abc import Sequence
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from urllib.parse import unquote

import numpy as np
import xgboost as xgb

from features.definition import MODEL_INPUT
from features.endpoint_csv import format_probabilities, parse_rows
from local_aws.http_server import Server, serve_until_interrupted
from tools.cli import OneLineErrors

# model.tar.gz as SageMaker's XGBoost container reads it (jobs.training.artifact writes it)
TARBALL, MODEL_MEMBER = "model.tar.gz", "xgboost-model"
MAX_PAYLOAD_BYTES = 6 * 1024 * 1024  # SageMaker real-time inference's request limit
CSV = "text/csv"
RUNTIME_ROUTE = re.compile(r"^/endpoints/([^/]+)/invocations$")


def tarball_path(path: Path | str) -> Path:
    """Accept the tarball itself or the folder holding it."""
    p = Path(path)
    return p / TARBALL if p.is_dir() else p


def load_booster(path: Path | str, nthread: int | None = None) -> xgb.Booster:
    """The booster inside model.tar.gz (or the folder holding it); ValueError when it is not one."""
    p = tarball_path(path)
    try:
        with tarfile.open(p, mode="r:gz") as tar:
            member = tar.extractfile(MODEL_MEMBER)
            if member is None:
                raise ValueError(f"{p}: {MODEL_MEMBER} is not a regular file")
            payload = member.read()
    except KeyError as err:
        raise ValueError(f"{p}: no member named {MODEL_MEMBER}") from err
    except (tarfile.TarError, OSError, EOFError) as err:
        raise ValueError(f"{p}: not a readable model.tar.gz ({err})") from err
    booster = xgb.Booster()
    try:
        booster.load_model(bytearray(payload))
    except xgb.core.XGBoostError as err:
        raise ValueError(f"{p}: {MODEL_MEMBER} is not an XGBoost model ({err})") from err
    if nthread:
        booster.set_param("nthread", nthread)
    return booster


class Model:
    """An XGBoost booster from model.tar.gz; rows in, probabilities out."""

    def __init__(self, booster: xgb.Booster, features: Sequence[str]) -> None:
        self.booster = booster
        self.features = tuple(features)
        if booster.num_features() != len(self.features):
            raise ValueError(f"model takes {booster.num_features()} features, expected {len(self.features)}")
        # Booster prediction is called from the server's threads; one at a time keeps it simple and safe.
        self._lock = threading.Lock()

    @classmethod
    def load(cls, path: str | Path, nthread: int = 1) -> Model:
        """From model.tar.gz or the folder holding it. One thread by default: a request is a few rows,
        and thread start-up would cost more than the trees (SageMaker's container does the same)."""
        booster = load_booster(path, nthread=nthread)
        return cls(booster, booster.feature_names or MODEL_INPUT)

    def predict(self, rows: np.ndarray) -> np.ndarray:
        """rows: (n, len(features)) in feature order -> (n,) probabilities (float64)."""
        rows = np.asarray(rows, dtype=np.float32)
        if rows.ndim != 2 or rows.shape[1] != len(self.features):
            raise ValueError(f"rows must have shape (n, {len(self.features)}), got {rows.shape}")
        if not len(rows):
            return np.empty(0)
        with self._lock:
            return self.booster.inplace_predict(rows, validate_features=False).astype(np.float64)


class PayloadError(ValueError):
    """A request the caller must fix: HTTP status and a one-line message."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def media_type(header: str | None) -> str:
    return (header or "").split(";")[0].strip().lower()


def score(model: Model, body: bytes, content_type: str | None, accept: str | None) -> bytes:
    """The container's /invocations: bytes in, bytes out, PayloadError on a bad request."""
    if media_type(content_type) not in ("", CSV):  # no header = text/csv, as SageMaker's XGBoost container
        raise PayloadError(415, f"unsupported content type {content_type!r}: send {CSV}")
    if accept and not any(media_type(a) in (CSV, "*/*", "text/*") for a in accept.split(",")):
        raise PayloadError(406, f"cannot answer in {accept!r}: the endpoint answers {CSV}")
    try:
        rows = parse_rows(body, model.features)
    except ValueError as err:
        raise PayloadError(400, str(err)) from None
    return format_probabilities(model.predict(np.array(rows)))


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as boto3's connection pool expects
    disable_nagle_algorithm = True  # headers and body go out at once: no 40 ms delayed-ACK stalls
    server_version = "local-sagemaker-endpoint"
    model: Model
    endpoint_name: str | None = None
    quiet = True

    def log_message(self, format: str, *args) -> None:
        if not self.quiet:
            super().log_message(format, *args)

    def _send(
        self, status: int, body: bytes, content_type: str, headers: dict[str, str] | None = None
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def _text(self, status: int, message: str) -> None:
        self._send(status, (message + "\n").encode(), "text/plain; charset=utf-8")

    def _runtime_error(self, status: int, code: str, message: str, **extra: object) -> None:
        """An AWS rest-json error, as botocore parses it (x-amzn-ErrorType + JSON body)."""
        body = json.dumps({"message": message, **extra}).encode()
        self._send(status, body, "application/json", {"x-amzn-ErrorType": code})

    def _body(self) -> bytes:
        length = self.headers.get("Content-Length")
        if length is None:
            if self.headers.get("Transfer-Encoding"):
                self.close_connection = True
                raise PayloadError(411, "send the body with a Content-Length")
            return b""
        try:
            size = int(length)
        except ValueError:
            self.close_connection = True
            raise PayloadError(400, f"bad Content-Length {length!r}") from None
        if size > MAX_PAYLOAD_BYTES:
            self.close_connection = True  # the body is left unread: the connection cannot be reused
            raise PayloadError(
                413, f"payload of {size} bytes exceeds {MAX_PAYLOAD_BYTES} bytes; split the rows"
            )
        return self.rfile.read(size)

    def do_GET(self) -> None:
        if self.path.split("?")[0] == "/ping":
            self._send(200, b"", "text/plain")
        else:
            self._text(404, f"no route GET {self.path}: try GET /ping")

    def do_POST(self) -> None:
        path = self.path.split("?")[0]
        runtime = RUNTIME_ROUTE.match(path)
        if path != "/invocations" and not runtime:
            self._discard()
            self._text(404, f"no route POST {self.path}: use /invocations or /endpoints/NAME/invocations")
            return
        try:
            if runtime and self.endpoint_name and unquote(runtime.group(1)) != self.endpoint_name:
                self._discard()
                self._runtime_error(
                    400, "ValidationError", f"Endpoint {unquote(runtime.group(1))} not found."
                )
                return
            answer = score(
                self.model, self._body(), self.headers.get("Content-Type"), self.headers.get("Accept")
            )
        except PayloadError as err:
            if runtime:
                self._runtime_error(
                    424,
                    "ModelError",
                    f'Received client error ({err.status}) from primary with message "{err}".',
                    OriginalStatusCode=err.status,
                    OriginalMessage=str(err),
                )
            else:
                self._text(err.status, str(err))
            return
        except Exception as err:  # a model failure must answer, not kill the connection silently
            self.close_connection = True
            message = f"prediction failed: {type(err).__name__}: {err}"
            if runtime:
                self._runtime_error(
                    424, "ModelError", message, OriginalStatusCode=500, OriginalMessage=message
                )
            else:
                self._text(500, message)
            return
        headers = {"x-Amzn-Invoked-Production-Variant": "AllTraffic"} if runtime else {}
        self._send(200, answer, CSV, headers)

    def _discard(self) -> None:
        with contextlib.suppress(PayloadError):
            self._body()

    def _method_not_allowed(self) -> None:
        self._discard()
        self.close_connection = True
        self._text(405, f"method {self.command} not allowed: GET /ping, POST /invocations")

    do_PUT = do_DELETE = do_PATCH = _method_not_allowed


def make_server(
    model: Model,
    host: str = "127.0.0.1",
    port: int = 8080,
    endpoint_name: str | None = None,
    quiet: bool = True,
) -> Server:
    """A bound server (port 0 = any free port: see server.server_address); call serve_forever()."""
    handler = type(
        "BoundHandler", (Handler,), {"model": model, "endpoint_name": endpoint_name, "quiet": quiet}
    )
    return Server((host, port), handler)


def main(argv: Sequence[str] | None = None) -> int:
    p = OneLineErrors(
        prog="python -m local_aws.endpoint",
        description=__doc__.splitlines()[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--model", type=Path, required=True, help="model.tar.gz, or the folder holding it")
    p.add_argument("--port", type=int, default=8080, help="TCP port on the host (0: any free port)")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (keep it on loopback)")
    p.add_argument("--endpoint-name", default=None, help="answer only this endpoint name (default: any)")
    p.add_argument("--verbose", action="store_true", help="log every request")
    args = p.parse_args(argv)
    if not 0 <= args.port <= 65535:
        p.error(f"port must be in 0..65535, got {args.port}")
    try:
        if not tarball_path(args.model).is_file():
            raise ValueError(f"{tarball_path(args.model)}: no such file (train first: make train)")
        model = Model.load(args.model)
        server = make_server(model, args.host, args.port, args.endpoint_name, quiet=not args.verbose)
    except (ValueError, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    host, port = server.server_address[:2]
    print(
        f"serving {tarball_path(args.model)} ({len(model.features)} features) on http://{host}:{port} "
        f"(GET /ping, POST /invocations, POST /endpoints/NAME/invocations)",
        flush=True,
    )
    return serve_until_interrupted(server)


if __name__ == "__main__":
    sys.exit(main())
