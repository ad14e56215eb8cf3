"""The local endpoint: in-process Model, the container contract, the SageMaker runtime route via boto3."""

from __future__ import annotations

import http.client
import io
import subprocess
import sys
import tarfile
import threading
from pathlib import Path

import boto3
import numpy as np
import pytest
import xgboost as xgb
from botocore.config import Config

from features import endpoint_csv as serving
from features.definition import MODEL_INPUT
from jobs.training import artifact, splits, synthetic, trainer
from local_aws import endpoint
from local_aws.endpoint import Model

ROOT = Path(__file__).resolve().parents[1]
N = len(MODEL_INPUT)


@pytest.fixture(scope="module")
def rows() -> np.ndarray:
    return splits.split(synthetic.training_table(rows=3000, seed=2)).test.x.astype(np.float64)


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory) -> Path:
    parts = splits.split(synthetic.training_table(rows=3000, seed=5))
    booster = trainer.train(
        parts.train.x, parts.train.y, None, None, MODEL_INPUT, trainer.Hyperparameters(num_round=10)
    ).booster
    out = tmp_path_factory.mktemp("model")
    artifact.write_tarball(booster, out)
    return out


@pytest.fixture(scope="module")
def model(model_dir) -> Model:
    return Model.load(model_dir / artifact.TARBALL)


def _serve(model: Model, endpoint_name: str | None):
    srv = endpoint.make_server(model, "127.0.0.1", 0, endpoint_name=endpoint_name)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()
    thread.join(5)


@pytest.fixture(scope="module")
def server(model):
    yield from _serve(model, None)


@pytest.fixture(scope="module")
def named_server(model):
    yield from _serve(model, "fraud-endpoint")


def url(srv) -> str:
    host, port = srv.server_address[:2]
    return f"http://{host}:{port}"


def request(srv, method: str, path: str, body: bytes | None = None, headers: dict | None = None):
    host, port = srv.server_address[:2]
    conn = http.client.HTTPConnection(host, port, timeout=10)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, resp.getheader("Content-Type"), resp.read().decode()
    finally:
        conn.close()


def csv(rows: np.ndarray) -> bytes:
    return "\n".join(",".join(repr(float(v)) for v in row) for row in rows).encode()


def runtime_client(srv):
    return boto3.client(
        "sagemaker-runtime",
        endpoint_url=url(srv),
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(retries={"max_attempts": 1}),
    )


# ------------------------------------------------------------------------------------------------ Model


def test_model_loads_from_tarball_or_folder_and_predicts(model_dir, model, rows):
    from_folder = Model.load(model_dir)
    assert model.features == MODEL_INPUT == from_folder.features
    p = model.predict(rows)
    assert p.shape == (len(rows),) and p.dtype == np.float64 and ((p >= 0) & (p <= 1)).all()
    np.testing.assert_array_equal(p, from_folder.predict(rows))
    reference = trainer.predict(endpoint.load_booster(model_dir), rows.astype(np.float32))
    np.testing.assert_allclose(p, reference, rtol=1e-6)
    assert model.predict(np.empty((0, N))).shape == (0,)


def test_rows_with_missing_values_score_as_xgboost_one_or_many_at_a_time(model, rows):
    """GIVEN rows, some values missing WHEN scored one or many at a time THEN XGBoost's probabilities."""
    x = rows[:300].astype(np.float32)
    x[np.random.default_rng(0).random(x.shape) < 0.1] = np.nan
    reference = model.booster.predict(xgb.DMatrix(x, missing=np.nan, feature_names=list(MODEL_INPUT)))
    singles = np.array([model.predict(x[i : i + 1])[0] for i in range(len(x))])
    np.testing.assert_allclose(singles, reference, rtol=1e-6)
    np.testing.assert_allclose(model.predict(x), reference, rtol=1e-6)


def test_model_rejects_wrong_shapes(model):
    with pytest.raises(ValueError, match="shape"):
        model.predict(np.zeros((2, N + 1)))
    with pytest.raises(ValueError, match="shape"):
        model.predict(np.zeros(N))


def test_model_load_errors_are_one_line(tmp_path):
    with pytest.raises(ValueError, match="not a readable"):
        Model.load(tmp_path / "missing.tar.gz")


def test_reads_the_tarball_the_training_job_writes():
    assert (endpoint.TARBALL, endpoint.MODEL_MEMBER) == (artifact.TARBALL, artifact.MODEL_MEMBER)


def test_bad_tarball_is_a_one_line_error(tmp_path):
    bogus = tmp_path / "model.tar.gz"
    bogus.write_bytes(b"not a tarball")
    with pytest.raises(ValueError, match="not a readable"):
        endpoint.load_booster(bogus)
    other = tmp_path / "other.tar.gz"
    with tarfile.open(other, "w:gz") as tar:
        info = tarfile.TarInfo("model.json")
        info.size = 2
        tar.addfile(info, io.BytesIO(b"{}"))
    with pytest.raises(ValueError, match="no member named xgboost-model"):
        endpoint.load_booster(other)


# ------------------------------------------------------------------------- the text/csv contract (serving)


def test_parse_rows_accepts_crlf_spaces_and_a_trailing_newline():
    body = (" 1, 2," + ",".join(["3"] * (N - 2)) + "\r\n" + ",".join(["0.5"] * N) + "\n").encode()
    x = np.array(serving.parse_rows(body))
    assert x.shape == (2, N) and x[0, 1] == 2.0 and x[1, 0] == 0.5
    assert serving.parse_rows(body.decode()) == x.tolist()


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"", "empty body"),
        (b"  \n", "empty body"),
        (b"1,2,3", f"row 1 has 3 columns, expected {N}"),
        (("1," * N + "1").encode(), f"row 1 has {N + 1} columns"),
        (("1," * (N - 1) + "1\n\n" + "1," * (N - 1) + "1").encode(), "row 2 has 1 columns"),
        (("1," * (N - 1) + "abc").encode(), f"row 1, column {N} ({MODEL_INPUT[-1]}): 'abc' is not a number"),
        (("1," * (N - 1) + ",").encode(), f"row 1 has {N + 1} columns"),
        (("," + "1," * (N - 2) + "1").encode(), f"row 1, column 1 ({MODEL_INPUT[0]}): '' is not a number"),
        (("1," * (N - 1) + "nan").encode(), "is not finite"),
        (("1," * (N - 1) + "inf").encode(), "is not finite"),
        (b"\xff\xfe" + b"1," * (N - 1) + b"1", "not UTF-8"),
        ((",".join(MODEL_INPUT)).encode(), "is not a number"),  # a header row
    ],
)
def test_parse_rows_rejects_bad_payloads_with_a_message(body, message):
    with pytest.raises(ValueError) as err:
        serving.parse_rows(body)
    assert message in str(err.value) and "\n" not in str(err.value)


def test_answers_round_trip_exactly():
    probabilities = [0.1, 1e-300, 0.5, 1 / 3, 0.0, 1.0]
    body = serving.format_probabilities(probabilities)
    assert serving.parse_probabilities(body, len(probabilities)) == probabilities
    assert body.decode().splitlines() == [repr(p) for p in probabilities]


# --------------------------------------------------------------------------------- container contract


def test_ping(server):
    assert request(server, "GET", "/ping")[0] == 200


def test_invocations_one_row_and_many_rows(server, model, rows):
    status, ctype, text = request(server, "POST", "/invocations", csv(rows[:1]), {"Content-Type": "text/csv"})
    assert status == 200 and ctype == "text/csv"
    assert [float(v) for v in text.split()] == pytest.approx(model.predict(rows[:1]).tolist())
    many = np.tile(rows, (4, 1))[:5000]
    status, _, text = request(
        server,
        "POST",
        "/invocations",
        csv(many),
        {"Content-Type": "text/csv; charset=utf-8", "Accept": "text/csv"},
    )
    lines = text.strip().split("\n")
    assert status == 200 and len(lines) == len(many)
    np.testing.assert_allclose([float(v) for v in lines], model.predict(many), rtol=1e-12)


BAD = [
    (b"", {"Content-Type": "text/csv"}, 400, "empty body"),
    (b"1,2,3\n", {"Content-Type": "text/csv"}, 400, f"expected {N}"),
    (("1," * (N - 1) + "x").encode(), {"Content-Type": "text/csv"}, 400, "is not a number"),
    (("1," * (N - 1) + "1").encode(), {"Content-Type": "application/json"}, 415, "unsupported content type"),
    (
        ("1," * (N - 1) + "1").encode(),
        {"Content-Type": "text/csv", "Accept": "application/json"},
        406,
        "text/csv",
    ),
]


@pytest.mark.parametrize(("body", "headers", "status", "message"), BAD)
def test_invocations_bad_payloads_are_4xx_with_a_message(server, body, headers, status, message):
    got, _, text = request(server, "POST", "/invocations", body, headers)
    assert got == status and message in text
    assert request(server, "GET", "/ping")[0] == 200  # still serving


def test_oversized_payload_is_413_without_reading_it(server):
    host, port = server.server_address[:2]
    conn = http.client.HTTPConnection(host, port, timeout=10)
    conn.putrequest("POST", "/invocations")
    conn.putheader("Content-Type", "text/csv")
    conn.putheader("Content-Length", str(endpoint.MAX_PAYLOAD_BYTES + 1))
    conn.endheaders()
    resp = conn.getresponse()
    assert resp.status == 413 and "exceeds" in resp.read().decode()
    conn.close()


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/invocations", 404),
        ("POST", "/predict", 404),
        ("PUT", "/invocations", 405),
        ("POST", "/endpoints/a/b/invocations", 404),
    ],
)
def test_unknown_routes_and_methods(server, method, path, status):
    assert request(server, method, path, b"1")[0] == status


def test_concurrent_requests(server, model, rows):
    results: dict[int, list[float]] = {}
    errors: list[BaseException] = []

    def call(i: int) -> None:
        try:
            _, _, text = request(
                server, "POST", "/invocations", csv(rows[i : i + 3]), {"Content-Type": "text/csv"}
            )
            results[i] = [float(v) for v in text.split()]
        except BaseException as err:  # surfaced below: a thread's exception would only be a warning
            errors.append(err)

    threads = [threading.Thread(target=call, args=(i,)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert not errors, errors
    for i in range(16):
        assert results[i] == pytest.approx(model.predict(rows[i : i + 3]).tolist())


# ------------------------------------------------------------------------------- runtime route, boto3


def test_boto3_sagemaker_runtime_client_gets_predictions(server, model, rows):
    client = runtime_client(server)
    response = client.invoke_endpoint(
        EndpointName="fraud-endpoint", ContentType="text/csv", Accept="text/csv", Body=csv(rows[:50])
    )
    assert response["ContentType"] == "text/csv"
    assert response["InvokedProductionVariant"] == "AllTraffic"
    got = [float(v) for v in response["Body"].read().decode().split()]
    np.testing.assert_allclose(got, model.predict(rows[:50]), rtol=1e-12)


def test_boto3_bad_payload_is_a_model_error_with_the_containers_status(server):
    client = runtime_client(server)
    with pytest.raises(client.exceptions.ModelError) as err:
        client.invoke_endpoint(EndpointName="fraud-endpoint", ContentType="text/csv", Body=b"1,2\n")
    assert err.value.response["OriginalStatusCode"] == 400
    assert f"expected {N}" in err.value.response["OriginalMessage"]
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 424
    with pytest.raises(client.exceptions.ModelError) as err:
        client.invoke_endpoint(EndpointName="fraud-endpoint", ContentType="application/json", Body=b"{}")
    assert err.value.response["OriginalStatusCode"] == 415


def test_boto3_unknown_endpoint_name_is_a_validation_error(named_server, rows):
    client = runtime_client(named_server)
    assert client.invoke_endpoint(EndpointName="fraud-endpoint", ContentType="text/csv", Body=csv(rows[:1]))
    with pytest.raises(client.exceptions.ValidationError, match="other not found"):
        client.invoke_endpoint(EndpointName="other", ContentType="text/csv", Body=csv(rows[:1]))


# ------------------------------------------------------------------------------------------------ CLI


def test_cli_serves_on_loopback(model_dir):
    proc = subprocess.Popen(
        [sys.executable, "-m", "local_aws.endpoint", "--model", str(model_dir), "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    try:
        line = proc.stdout.readline()
        assert "http://127.0.0.1:" in line, line + proc.stderr.read()
        port = int(line.split("http://127.0.0.1:")[1].split()[0])
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        conn.request("GET", "/ping")
        assert conn.getresponse().status == 200
        conn.close()
    finally:
        proc.terminate()
        proc.wait(10)


@pytest.mark.parametrize(
    "args", [["--model", "/nonexistent/model.tar.gz"], ["--model", "x", "--port", "70000"], []]
)
def test_cli_bad_args_are_one_line_and_exit_2(args, capsys):
    try:
        code = endpoint.main(args)
    except SystemExit as exit_:
        code = exit_.code
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and err[0].startswith("error:")
