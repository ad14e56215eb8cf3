"""Local-mode JVM options: the class-data archive is made once, reused, and keyed by JVM and jars."""

from __future__ import annotations

import os
from pathlib import Path

from jobs.batch import jvm
from jobs.batch.launch import SparkJob, start_job_run_request


def fake_spark(tmp_path: Path, jar_bytes: bytes = b"jar") -> Path:
    home = tmp_path / "spark"
    (home / "jars").mkdir(parents=True)
    (home / "jars" / "spark-core.jar").write_bytes(jar_bytes)
    return home


def test_first_run_creates_the_archive_and_later_runs_map_it(tmp_path, monkeypatch):
    home, cache = fake_spark(tmp_path), tmp_path / "cache"
    first = jvm.local_driver_options(str(home), "4g", cache)
    (archive,) = [o.split("=", 1)[1] for o in first.split() if o.startswith("-XX:ArchiveClassesAtExit=")]
    assert Path(archive).parent == cache and "-XX:SharedArchiveFile" not in first
    Path(archive).write_bytes(b"dumped")  # what the JVM writes at exit
    later = jvm.local_driver_options(str(home), "4g", cache)
    assert f"-XX:SharedArchiveFile={archive}" in later.split() and "ArchiveClassesAtExit" not in later
    # Both keep the JIT and GC settings, commit the heap up front, never fail a JVM that lacks an option.
    for options in (first, later):
        assert {*jvm.JIT_OPTIONS, *jvm.GC_OPTIONS, "-Xms4g", "-XX:+IgnoreUnrecognizedVMOptions"} <= set(
            options.split()
        )


def test_an_empty_archive_is_made_again(tmp_path):
    home, cache = fake_spark(tmp_path), tmp_path / "cache"
    java = jvm.java_binary()
    assert java, "the JVM options are derived from the java on PATH or JAVA_HOME"
    cache.mkdir()
    jvm.archive_path(str(home), java, cache).write_bytes(b"")
    assert "-XX:ArchiveClassesAtExit=" in jvm.local_driver_options(str(home), "4g", cache)


def test_archive_is_keyed_by_the_jars_and_the_jvm(tmp_path):
    java = jvm.java_binary()
    a = jvm.archive_path(str(fake_spark(tmp_path / "a")), java, tmp_path)
    b = jvm.archive_path(str(fake_spark(tmp_path / "b", b"other jar")), java, tmp_path)
    other_java = tmp_path / "java"
    other_java.write_text("")
    c = jvm.archive_path(str(fake_spark(tmp_path / "c")), str(other_java), tmp_path)
    assert a != b and a != c
    assert a == jvm.archive_path(str(fake_spark(tmp_path / "d")), java, tmp_path)


def test_no_writable_cache_means_no_archive_but_the_job_still_starts(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    options = jvm.local_driver_options(str(fake_spark(tmp_path)), "4g", blocker / "cache")
    assert "Archive" not in options and set(jvm.JIT_OPTIONS) <= set(options.split())


def test_cache_dir_follows_xdg(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert jvm.cache_dir() == tmp_path / "cc-agg-batch"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert jvm.cache_dir() == Path(os.path.expanduser("~")) / ".cache" / "cc-agg-batch"


def test_the_managed_service_launch_gets_no_local_jvm_options():
    job = SparkJob("app", "arn:aws:iam::123456789012:role/r", "s3://b/code", "s3://b/in", "s3://b/out")
    parameters = start_job_run_request(job)["jobDriver"]["sparkSubmit"]["sparkSubmitParameters"]
    assert "-XX:" not in parameters and "extraJavaOptions" not in parameters


def test_initial_heap_follows_the_driver_memory_in_the_jvm_spelling(tmp_path):
    def initial_heap(memory: str) -> list[str]:
        options = jvm.local_driver_options(str(fake_spark(tmp_path / memory)), memory, tmp_path / "cache")
        return [o for o in options.split() if o.startswith("-Xms")]

    assert initial_heap("4g") == ["-Xms4g"]
    assert initial_heap("6GB") == ["-Xms6g"]
    assert initial_heap("4096") == []  # MiB to Spark, bytes to the JVM: left to the JVM's default
