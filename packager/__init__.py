"""Deterministic build of the deployable archives (Lambda zips, the Flink application zip)."""
