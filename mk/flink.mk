# The streaming aggregation app on Apache Flink (PyFlink 1.20): its virtualenv and its zip.
.PHONY: flink-venv package-flink verify-flink

FLINK_VENV := .venv-flink

$(FLINK_VENV)/.installed: requirements-flink.txt
	$(call venv-install,$(FLINK_VENV),requirements-flink.txt)

flink-venv: $(FLINK_VENV)/.installed ## Create .venv-flink with PyFlink 1.20 (first run only; tests run Flink from it)

# Complete or none: without the checked Kinesis connector jar no zip is written and one line says
# how to provide it (FLINK_CONNECTOR_JAR, ~/.m2, or the download); see packager/flink_app.py.
package-flink: venv ## Build build/flink-app.zip for Managed Service for Apache Flink (app, features, checked Kinesis connector jar)
	$(PY) -m packager.flink_app

FLINK_APP_ZIP ?= build/flink-app.zip

verify-flink: venv ## Refuse an incomplete Flink zip (no connector jar, a stand-in, or not what its MANIFEST says); deploy runs it
	$(PY) -m packager.flink_app verify $(FLINK_APP_ZIP)
