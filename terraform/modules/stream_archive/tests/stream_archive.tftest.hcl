mock_provider "aws" {
  mock_data "aws_partition" {
    defaults = {
      partition = "aws"
    }
  }
  mock_data "aws_iam_policy_document" {
    defaults = {
      json = "{\"Version\":\"2012-10-17\",\"Statement\":[]}"
    }
  }
  mock_resource "aws_iam_role" {
    defaults = {
      arn = "arn:aws:iam::123456789012:role/unit-pred-archive-1"
    }
  }
  mock_resource "aws_cloudwatch_log_group" {
    defaults = {
      arn = "arn:aws:logs:us-east-1:123456789012:log-group:/aws/kinesisfirehose/unit-predictions-archive"
    }
  }
}

variables {
  name_prefix       = "unit"
  name              = "predictions"
  source_stream_arn = "arn:aws:kinesis:us-east-1:123456789012:stream/unit-predictions"
  bucket            = "unit-data-1"
  prefix            = "predictions/"
  error_prefix      = "predictions-errors/"
  kms_key_arn       = "arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555"
}

run "delivers_the_predictions_stream_by_day" {
  command = apply

  assert {
    condition     = aws_kinesis_firehose_delivery_stream.this.kinesis_source_configuration[0].kinesis_stream_arn == var.source_stream_arn
    error_message = "the source is the predictions stream"
  }
  assert {
    condition = (aws_kinesis_firehose_delivery_stream.this.extended_s3_configuration[0].prefix == "predictions/dt=!{timestamp:yyyy-MM-dd}/" &&
    aws_kinesis_firehose_delivery_stream.this.extended_s3_configuration[0].error_output_prefix == "predictions-errors/!{firehose:error-output-type}/dt=!{timestamp:yyyy-MM-dd}/")
    error_message = "day partitions under predictions/, errors under predictions-errors/"
  }
  assert {
    condition = (aws_kinesis_firehose_delivery_stream.this.extended_s3_configuration[0].compression_format == "GZIP" &&
    aws_kinesis_firehose_delivery_stream.this.extended_s3_configuration[0].kms_key_arn == var.kms_key_arn)
    error_message = "GZIP, SSE-KMS with the deployment key"
  }
  assert {
    condition     = aws_kinesis_firehose_delivery_stream.this.extended_s3_configuration[0].file_extension == ".json.gz"
    error_message = "objects named *.json.gz"
  }
  assert {
    condition     = aws_kinesis_firehose_delivery_stream.this.name == "unit-predictions-archive" && aws_iam_role.this.name_prefix == "unit-pred-archive-" && aws_iam_role_policy.this.name == "archive-predictions-least-privilege"
    error_message = "the predictions archive keeps the names of earlier releases (no replacement on upgrade)"
  }
  assert {
    condition     = aws_kinesis_firehose_delivery_stream.this.extended_s3_configuration[0].processing_configuration[0].processors[0].type == "AppendDelimiterToRecord"
    error_message = "one record per line"
  }
  assert {
    condition     = [for st in data.aws_iam_policy_document.this.statement : st.resources if st.sid == "ReadSourceStream"][0] == toset([var.source_stream_arn])
    error_message = "the role reads the source stream only"
  }
  assert {
    condition     = [for st in data.aws_iam_policy_document.this.statement : st.resources if st.sid == "WriteArchive"][0] == toset(["arn:aws:s3:::unit-data-1/predictions/*", "arn:aws:s3:::unit-data-1/predictions-errors/*"])
    error_message = "the role writes the archive's two prefixes only"
  }
}

run "rejects_an_expression_in_the_prefix" {
  command = plan

  variables {
    prefix = "predictions/!{timestamp:yyyy}/"
  }

  expect_failures = [var.prefix]
}

run "delivers_the_transactions_stream_by_day" {
  command = apply

  variables {
    name              = "transactions"
    source_stream_arn = "arn:aws:kinesis:us-east-1:123456789012:stream/unit-transactions"
    prefix            = "transactions/"
    error_prefix      = "transactions-errors/"
  }

  assert {
    condition = (aws_kinesis_firehose_delivery_stream.this.name == "unit-transactions-archive" &&
    aws_kinesis_firehose_delivery_stream.this.kinesis_source_configuration[0].kinesis_stream_arn == var.source_stream_arn)
    error_message = "its own delivery stream, reading the transactions stream"
  }
  assert {
    condition = (aws_kinesis_firehose_delivery_stream.this.extended_s3_configuration[0].prefix == "transactions/dt=!{timestamp:yyyy-MM-dd}/" &&
    aws_kinesis_firehose_delivery_stream.this.extended_s3_configuration[0].file_extension == ".json.gz")
    error_message = "day partitions of *.json.gz under transactions/"
  }
  assert {
    condition     = [for st in data.aws_iam_policy_document.this.statement : st.resources if st.sid == "WriteArchive"][0] == toset(["arn:aws:s3:::unit-data-1/transactions/*", "arn:aws:s3:::unit-data-1/transactions-errors/*"])
    error_message = "the role writes the transactions archive's two prefixes only"
  }
  assert {
    condition     = aws_iam_role.this.name_prefix == "unit-tran-archive-" && aws_cloudwatch_log_group.this.name == "/aws/kinesisfirehose/unit-transactions-archive"
    error_message = "its own role and log group"
  }
}

run "rejects_an_error_prefix_under_the_prefix" {
  command = plan

  variables {
    error_prefix = "predictions/errors/"
  }

  expect_failures = [var.error_prefix]
}

# The longest name_prefix (20) leaves 35 characters for the name: 20 + 1 + 35 + 8 = 64.
run "rejects_a_delivery_stream_name_over_64_characters" {
  command = plan

  variables {
    name_prefix = "abcdefghijklmnopqrst"
    name        = "abcdefghijklmnopqrstuvwxyz0123456789"
  }

  expect_failures = [var.name]
}

run "accepts_the_longest_names" {
  command = plan

  variables {
    name_prefix = "abcdefghijklmnopqrst"
    name        = "abcdefghijklmnopqrstuvwxyz012345678"
  }

  assert {
    condition     = length(aws_kinesis_firehose_delivery_stream.this.name) == 64 && length(aws_iam_role.this.name_prefix) <= 38
    error_message = "64-character delivery stream name, role name prefix within IAM's 38"
  }
}
