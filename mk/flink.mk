# The streaming aggregation app on Apache Flink (PyFlink 1.20): its virtualenv and its zip.
.PHONY: flink-venv package-flink

FLINK_VENV := .venv-flink

$(FLINK_VENV)/.installed: requirements-flink.txt
	$(call venv-install,$(FLINK_VENV),requirements-flink.txt)

flink-venv: $(FLINK_VENV)/.installed ## Create .venv-flink with PyFlink 1.20 (first run only; tests run Flink from it)

package-flink: venv ## Build build/flink-app.zip for Managed Service for Apache Flink (app, features, Kinesis connector jar)
	$(PY) -m packager.flink_app
