mock_provider "aws" {
  mock_data "aws_partition" {
    defaults = {
      partition = "aws"
    }
  }
  mock_data "aws_region" {
    defaults = {
      name = "us-east-1"
    }
  }
  mock_data "aws_iam_policy_document" {
    defaults = {
      json = "{\"Version\":\"2012-10-17\",\"Statement\":[]}"
    }
  }
}

variables {
  name_prefix = "unit"
  kms_key_arn = "arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555"
}

run "every_stream_kms_encrypted" {
  command = plan

  assert {
    condition     = length(aws_kinesis_stream.this) == 4
    error_message = "transactions, aggregates, late and predictions streams expected"
  }
  assert {
    condition     = alltrue([for s in aws_kinesis_stream.this : s.encryption_type == "KMS" && s.kms_key_id == var.kms_key_arn])
    error_message = "every stream must be encrypted with the given key"
  }
  assert {
    condition     = alltrue([for s in aws_kinesis_stream.this : s.stream_mode_details[0].stream_mode == "ON_DEMAND" && s.shard_count == null])
    error_message = "on-demand streams take no shard count"
  }
  assert {
    condition     = aws_kinesis_stream.this["aggregates"].name == "unit-aggregates"
    error_message = "streams are named <name_prefix>-<logical name>"
  }
}

run "provisioned_mode_sets_shards" {
  command = plan
  variables {
    mode        = "PROVISIONED"
    shard_count = 2
  }
  assert {
    condition     = alltrue([for s in aws_kinesis_stream.this : s.shard_count == 2])
    error_message = "provisioned streams use shard_count"
  }
}

run "rejects_unknown_mode" {
  command = plan
  variables {
    mode = "SERVERLESS"
  }
  expect_failures = [var.mode]
}

run "rejects_short_retention" {
  command = plan
  variables {
    retention_hours = 12
  }
  expect_failures = [var.retention_hours]
}
