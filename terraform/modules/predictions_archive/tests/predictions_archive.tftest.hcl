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
  source_stream_arn = "arn:aws:kinesis:us-east-1:123456789012:stream/unit-predictions"
  bucket            = "unit-data-1"
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
    condition     = aws_kinesis_firehose_delivery_stream.this.extended_s3_configuration[0].processing_configuration[0].processors[0].type == "AppendDelimiterToRecord"
    error_message = "one record per line"
  }
  assert {
    condition     = [for st in data.aws_iam_policy_document.this.statement : st.resources if st.sid == "ReadPredictionsStream"][0] == toset([var.source_stream_arn])
    error_message = "the role reads the predictions stream only"
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
