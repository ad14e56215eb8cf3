"""`make bench`: measure speed and memory, print a table, write BENCHMARKS.md.

Each module `bench/<concern>.py` exposes `SUITE: Suite`; `python -m bench [names...]` runs them.
A measurement states its target and, where one exists, a baseline measured in the same run.
"""
