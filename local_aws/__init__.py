"""AWS services on one machine: Kinesis, SQS, Feature Store, the SageMaker endpoint and Lambda's
event source mapping, each with the service's semantics behind boto3's client surface."""
