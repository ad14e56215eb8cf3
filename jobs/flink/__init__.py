"""The streaming aggregation app for Managed Service for Apache Flink (PyFlink 1.20)."""
