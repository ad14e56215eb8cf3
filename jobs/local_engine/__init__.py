"""The local streaming engine, the local twin of jobs/flink/: the window core (`windows`), the
durable runner over streams (`runner`) and its process (`python -m jobs.local_engine`)."""
