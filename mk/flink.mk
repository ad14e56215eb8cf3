# The streaming aggregation app on Apache Flink (PyFlink 1.20): its virtualenv and its zip.
.PHONY: flink-venv package-flink

FLINK_VENV := .venv-flink

$(FLINK_VENV)/.installed: requirements-flink.txt
	@command -v $(PYTHON) >/dev/null || { echo "error: $(PYTHON) not found; install Python 3.11 or set PYTHON=" >&2; exit 1; }
	$(PYTHON) -m venv $(FLINK_VENV)
	$(FLINK_VENV)/bin/pip install -q --disable-pip-version-check -r requirements-flink.txt
	@touch $@

flink-venv: $(FLINK_VENV)/.installed ## Create .venv-flink with PyFlink 1.20 (first run only; tests run Flink from it)

package-flink: venv ## Build build/flink-app.zip for Managed Service for Apache Flink (app, features, Kinesis connector jar)
	$(PY) -m packager.flink_app
