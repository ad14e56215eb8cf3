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
  sql_path          = "../../../features/rendered/kda.sql"
  input_schema_path = "../../../features/rendered/kda_input_schema.json"
  input_stream_arn  = "arn:aws:kinesis:us-east-1:123456789012:stream/unit-transactions"
  output_stream_arn = "arn:aws:kinesis:us-east-1:123456789012:stream/unit-aggregates"
  kms_key_arn       = "arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555"
}

run "sql_application_from_definition" {
  command = plan

  assert {
    condition     = aws_kinesis_analytics_application.this.code == file("../../../features/rendered/kda.sql")
    error_message = "the application runs the rendered SQL"
  }
  assert {
    condition = ([for c in aws_kinesis_analytics_application.this.inputs[0].schema[0].record_columns : c.name] ==
    [for c in jsondecode(file("../../../features/rendered/kda_input_schema.json")).columns : c.name])
    error_message = "the input columns are the rendered transaction fields, in order"
  }
  assert {
    condition     = aws_kinesis_analytics_application.this.inputs[0].kinesis_stream[0].resource_arn == var.input_stream_arn
    error_message = "input is the transactions stream"
  }
  assert {
    condition     = one(aws_kinesis_analytics_application.this.outputs).kinesis_stream[0].resource_arn == var.output_stream_arn && one(aws_kinesis_analytics_application.this.outputs).schema[0].record_format_type == "JSON"
    error_message = "output is JSON to the aggregates stream"
  }
}

run "rejects_missing_sql" {
  command = plan
  variables {
    sql_path = "missing.sql"
  }
  expect_failures = [var.sql_path]
}
