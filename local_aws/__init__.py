"""AWS services on one machine: Kinesis, SQS, Feature Store, the SageMaker endpoint and Lambda's
event source mapping, each with the service's semantics behind boto3's client surface; and
Firehose's S3 object layout, for the profiles that archive a stream without Firehose."""
