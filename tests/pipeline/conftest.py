"""Pipeline tests import the handlers; Powertools reads these when a handler module is imported."""

from __future__ import annotations

import os

os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "fraud-test")
os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "fraud-test")
os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")
