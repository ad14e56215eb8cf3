"""The AWS clients every process uses (factory) and Kinesis I/O on them; shipped in the Lambda zips."""
