"""The Lambda functions (ingest, score) and the code they share (functions.common)."""
