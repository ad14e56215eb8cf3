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
  name_prefix                  = "unit"
  ingest_zip_path              = "tests/placeholder.zip"
  score_zip_path               = "tests/placeholder.zip"
  source_stream_arn            = "arn:aws:kinesis:us-east-1:123456789012:stream/unit-aggregates"
  streaming_feature_group_name = "unit-cc-agg-fg"
  streaming_feature_group_arn  = "arn:aws:sagemaker:us-east-1:123456789012:feature-group/unit-cc-agg-fg"
  batch_feature_group_name     = "unit-cc-agg-batch-fg"
  batch_feature_group_arn      = "arn:aws:sagemaker:us-east-1:123456789012:feature-group/unit-cc-agg-batch-fg"
  endpoint_name                = "unit-model"
  endpoint_arn                 = "arn:aws:sagemaker:us-east-1:123456789012:endpoint/unit-model"
  predictions_stream_name      = "unit-predictions"
  predictions_stream_arn       = "arn:aws:kinesis:us-east-1:123456789012:stream/unit-predictions"
  kms_key_arn                  = "arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555"
}

run "functions_and_mappings" {
  command = plan

  assert {
    condition     = toset(keys(aws_lambda_function.this)) == toset(["ingest", "score"])
    error_message = "ingest and score functions expected"
  }
  assert {
    condition = alltrue([for f in aws_lambda_function.this :
    f.handler == "app.lambda_handler" && f.runtime == "python3.11" && f.kms_key_arn == var.kms_key_arn && f.tracing_config[0].mode == "Active"])
    error_message = "handler app.lambda_handler, python3.11, KMS-encrypted environment, tracing"
  }
  assert {
    condition     = alltrue([for f in aws_lambda_function.this : f.source_code_hash == filebase64sha256("tests/placeholder.zip")])
    error_message = "source_code_hash must be the zip's hash"
  }
  assert {
    condition = alltrue([for m in aws_lambda_event_source_mapping.this :
      m.function_response_types == toset(["ReportBatchItemFailures"]) &&
      m.bisect_batch_on_function_error == true && m.maximum_retry_attempts == 3 && m.maximum_record_age_in_seconds == 3600 &&
    m.starting_position == "LATEST"])
    error_message = "mappings: aggregates stream, partial batch failures, bisect, bounded retries and age"
  }
  assert {
    condition     = alltrue([for m in aws_lambda_event_source_mapping.this : length(m.destination_config[0].on_failure) == 1])
    error_message = "every mapping needs an on-failure destination"
  }
  assert {
    condition     = aws_sqs_queue.dead_letters.kms_master_key_id == var.kms_key_arn
    error_message = "the dead-letter queue must be KMS-encrypted"
  }
  assert {
    condition     = alltrue([for g in aws_cloudwatch_log_group.this : g.kms_key_id == var.kms_key_arn && g.retention_in_days == 30])
    error_message = "log groups: KMS and retention"
  }
  assert {
    condition     = aws_lambda_function.this["ingest"].environment[0].variables["STREAMING_FEATURE_GROUP"] == "unit-cc-agg-fg"
    error_message = "ingest gets STREAMING_FEATURE_GROUP"
  }
  assert {
    condition = (aws_lambda_function.this["score"].environment[0].variables["ENDPOINT_NAME"] == "unit-model" &&
      aws_lambda_function.this["score"].environment[0].variables["BATCH_FEATURE_GROUP"] == "unit-cc-agg-batch-fg" &&
      aws_lambda_function.this["score"].environment[0].variables["PREDICTIONS_STREAM"] == "unit-predictions" &&
    aws_lambda_function.this["score"].environment[0].variables["FRAUD_THRESHOLD"] == "0.25")
    error_message = "score gets ENDPOINT_NAME, BATCH_FEATURE_GROUP, PREDICTIONS_STREAM, FRAUD_THRESHOLD"
  }
  assert {
    condition = toset(keys(aws_lambda_function.this["ingest"].environment[0].variables)) == toset([
      "POWERTOOLS_SERVICE_NAME", "POWERTOOLS_METRICS_NAMESPACE", "POWERTOOLS_LOG_LEVEL", "DEAD_LETTER_QUEUE_URL",
      "STREAMING_FEATURE_GROUP",
    ])
    error_message = "ingest environment: exactly the names agreed with the handlers"
  }
  assert {
    condition = toset(keys(aws_lambda_function.this["score"].environment[0].variables)) == toset([
      "POWERTOOLS_SERVICE_NAME", "POWERTOOLS_METRICS_NAMESPACE", "POWERTOOLS_LOG_LEVEL", "DEAD_LETTER_QUEUE_URL",
      "BATCH_FEATURE_GROUP", "ENDPOINT_NAME", "FRAUD_THRESHOLD", "PREDICTIONS_STREAM",
    ])
    error_message = "score environment: exactly the names agreed with the handlers"
  }
  assert {
    condition     = alltrue([for f in aws_lambda_function.this : f.environment[0].variables["POWERTOOLS_METRICS_NAMESPACE"] == "unit"])
    error_message = "metrics namespace defaults to name_prefix"
  }
}

# Enhanced fan-out (the default): one consumer per function on the aggregates stream, each the
# source of its function's mapping. The consumer ARN is known only after creation: overridden here.
run "mappings_read_through_their_own_consumers" {
  command = plan

  override_resource {
    target          = aws_kinesis_stream_consumer.this
    override_during = plan
    values = {
      arn = "arn:aws:kinesis:us-east-1:123456789012:stream/unit-aggregates/consumer/unit:1"
    }
  }

  assert {
    condition = toset(keys(aws_kinesis_stream_consumer.this)) == toset(["ingest", "score"]) && alltrue([
    for k, c in aws_kinesis_stream_consumer.this : c.stream_arn == var.source_stream_arn && c.name == "unit-${k}"])
    error_message = "one consumer per function, on the aggregates stream"
  }
  assert {
    condition = alltrue([for k, m in aws_lambda_event_source_mapping.this :
    m.event_source_arn == aws_kinesis_stream_consumer.this[k].arn])
    error_message = "each mapping reads through its own consumer"
  }
}

run "standard_iterators_when_fan_out_is_off" {
  command = plan
  variables {
    enhanced_fan_out = false
  }
  assert {
    condition = length(aws_kinesis_stream_consumer.this) == 0 && alltrue([
    for m in aws_lambda_event_source_mapping.this : m.event_source_arn == var.source_stream_arn])
    error_message = "enhanced_fan_out = false: no consumer, the mappings read the stream itself"
  }
}

run "queue_and_logs_only" {
  command = plan
  variables {
    create_functions             = false
    ingest_zip_path              = null
    score_zip_path               = null
    source_stream_arn            = null
    streaming_feature_group_name = null
    streaming_feature_group_arn  = null
    batch_feature_group_name     = null
    batch_feature_group_arn      = null
    endpoint_name                = null
    endpoint_arn                 = null
    predictions_stream_name      = null
    predictions_stream_arn       = null
  }
  assert {
    condition     = length(aws_lambda_function.this) == 0 && length(aws_lambda_event_source_mapping.this) == 0 && length(aws_iam_role.this) == 0 && length(aws_kinesis_stream_consumer.this) == 0
    error_message = "create_functions = false creates no function, mapping or role"
  }
  assert {
    condition     = length(aws_cloudwatch_log_group.this) == 2
    error_message = "log groups exist without the functions"
  }
}

run "rejects_unbounded_retries" {
  command = plan
  variables {
    event_source = { maximum_retry_attempts = -1 }
  }
  expect_failures = [var.event_source]
}

run "rejects_unbounded_record_age" {
  command = plan
  variables {
    event_source = { maximum_record_age_in_seconds = -1 }
  }
  expect_failures = [var.event_source]
}

run "rejects_old_runtime" {
  command = plan
  variables {
    runtime = "python3.9"
  }
  expect_failures = [var.runtime]
}

run "rejects_missing_zip_when_creating" {
  command = plan
  variables {
    score_zip_path = null
  }
  expect_failures = [var.score_zip_path]
}

run "rejects_threshold_out_of_range" {
  command = plan
  variables {
    fraud_threshold = 1.5
  }
  expect_failures = [var.fraud_threshold]
}

run "rejects_batches_beyond_one_batch_get_record" {
  command = plan
  variables {
    event_source = { batch_size = 101 }
  }
  expect_failures = [var.event_source]
}

run "dead_letter_queue_name_is_generated" {
  command = plan
  assert {
    condition     = aws_sqs_queue.dead_letters.name_prefix == "unit-dead-letters-"
    error_message = "the queue name is generated from a prefix (SQS refuses a name deleted < 60 s ago)"
  }
}
