"""The single feature definition and the code that renders it for each engine."""
