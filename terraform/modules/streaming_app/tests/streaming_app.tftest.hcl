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
  name_prefix       = "unit"
  code_bucket       = "unit-artifacts"
  input_stream_arn  = "arn:aws:kinesis:us-east-1:123456789012:stream/unit-transactions"
  output_stream_arn = "arn:aws:kinesis:us-east-1:123456789012:stream/unit-aggregates"
  late_stream_arn   = "arn:aws:kinesis:us-east-1:123456789012:stream/unit-late"
  kms_key_arn       = "arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555"
}

run "flink_application" {
  command = plan

  assert {
    condition     = aws_kinesisanalyticsv2_application.this.runtime_environment == "FLINK-1_20"
    error_message = "runtime must be FLINK-1_20"
  }
  assert {
    condition = (aws_kinesisanalyticsv2_application.this.application_configuration[0].application_code_configuration[0].code_content[0].s3_content_location[0].bucket_arn == "arn:aws:s3:::unit-artifacts" &&
    aws_kinesisanalyticsv2_application.this.application_configuration[0].application_code_configuration[0].code_content[0].s3_content_location[0].file_key == "flink/flink-app.zip")
    error_message = "code comes from the artifacts bucket"
  }
  assert {
    condition = anytrue([for g in aws_kinesisanalyticsv2_application.this.application_configuration[0].environment_properties[0].property_group :
    g.property_group_id == "kinesis.analytics.flink.run.options" && lookup(g.property_map, "python", "") == "jobs/flink/app.py" && lookup(g.property_map, "jarfile", "") == "lib/flink-sql-connector-kinesis.jar"])
    error_message = "run options name the PyFlink main file and the connector jar"
  }
  assert {
    condition = anytrue([for g in aws_kinesisanalyticsv2_application.this.application_configuration[0].environment_properties[0].property_group :
      g.property_group_id == "FlinkApplicationProperties" && lookup(g.property_map, "input.stream.arn", "") == var.input_stream_arn &&
    lookup(g.property_map, "output.stream.arn", "") == var.output_stream_arn && lookup(g.property_map, "late.stream.arn", "") == var.late_stream_arn])
    error_message = "application properties carry the stream ARNs"
  }
  assert {
    condition     = aws_kinesisanalyticsv2_application.this.application_configuration[0].flink_application_configuration[0].checkpoint_configuration[0].checkpointing_enabled == true
    error_message = "checkpointing must be on"
  }
  assert {
    condition     = aws_cloudwatch_log_group.this.kms_key_id == var.kms_key_arn
    error_message = "the log group must be KMS-encrypted"
  }
}

run "rejects_non_python_main" {
  command = plan
  variables {
    python_main = "jobs/flink/app.jar"
  }
  expect_failures = [var.python_main]
}

run "rejects_zero_parallelism" {
  command = plan
  variables {
    parallelism = 0
  }
  expect_failures = [var.parallelism]
}

run "defaults_run_one_subtask_without_autoscaling" {
  command = plan

  assert {
    condition = (aws_kinesisanalyticsv2_application.this.application_configuration[0].flink_application_configuration[0].parallelism_configuration[0].auto_scaling_enabled == false &&
    aws_kinesisanalyticsv2_application.this.application_configuration[0].flink_application_configuration[0].parallelism_configuration[0].parallelism == 1)
    error_message = "autoscaling is off by default (one shard per source subtask) and parallelism is 1"
  }
  assert {
    condition     = aws_kinesisanalyticsv2_application.this.start_application == true
    error_message = "the application runs after apply"
  }
}

run "at_timestamp_passes_the_timestamp" {
  command = plan
  variables {
    starting_position  = "AT_TIMESTAMP"
    starting_timestamp = "2026-01-31T00:00:00.000Z"
  }

  assert {
    condition = anytrue([for g in aws_kinesisanalyticsv2_application.this.application_configuration[0].environment_properties[0].property_group :
    g.property_group_id == "FlinkApplicationProperties" && lookup(g.property_map, "source.init.timestamp", "") == "2026-01-31T00:00:00.000Z"])
    error_message = "source.init.timestamp carries starting_timestamp"
  }
}

run "rejects_at_timestamp_without_a_timestamp" {
  command = plan
  variables {
    starting_position = "AT_TIMESTAMP"
  }
  expect_failures = [var.starting_timestamp]
}

run "rejects_a_timestamp_the_connector_cannot_parse" {
  command = plan
  variables {
    starting_position  = "AT_TIMESTAMP"
    starting_timestamp = "2026-01-31 00:00:00"
  }
  expect_failures = [var.starting_timestamp]
}
