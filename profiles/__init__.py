"""The profiles that run the pipeline off AWS: `local` (one machine, no services) and `localstack`
(LocalStack's Kinesis and SQS, the project's Feature Store and endpoint servers), with the demo,
the replay and the processes they supervise."""
