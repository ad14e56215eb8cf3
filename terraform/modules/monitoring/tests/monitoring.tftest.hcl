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
  name_prefix              = "unit"
  function_names           = { ingest = "unit-ingest", score = "unit-score" }
  stream_names             = { aggregates = "unit-aggregates" }
  flink_application_name   = "unit-aggregation"
  late_stream_name         = "unit-late"
  transactions_stream_name = "unit-transactions"
  aggregates_stream_name   = "unit-aggregates"
  dead_letter_queues       = { "dead-letters" = "unit-dead-letters-20250101" }
  endpoint_name            = "unit-model"
  kms_key_arn              = "arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555"
}

run "alarms_and_topic" {
  command = plan

  assert {
    condition = toset(keys(aws_cloudwatch_metric_alarm.this)) == toset([
      "ingest-iterator-age", "score-iterator-age", "ingest-errors", "score-errors",
      "dead-letters", "endpoint-5xx", "endpoint-latency",
      "flink-not-running", "flink-downtime", "flink-source-behind", "late-rows",
    ])
    error_message = "iterator age and errors per function, dead letters, endpoint 5xx and latency, Flink, late rows"
  }
  assert {
    condition     = aws_cloudwatch_metric_alarm.this["flink-not-running"].treat_missing_data == "breaching" && aws_cloudwatch_metric_alarm.this["flink-not-running"].dimensions["Application"] == "unit-aggregation"
    error_message = "a stopped Flink application reports no uptime: missing data must breach"
  }
  assert {
    condition     = length(aws_cloudwatch_metric_alarm.failed_checkpoints) == 1 && length(aws_cloudwatch_composite_alarm.aggregates_quiet) == 1
    error_message = "failed-checkpoint rate and aggregates-quiet alarms"
  }
  assert {
    condition     = aws_cloudwatch_metric_alarm.quiet_inputs["aggregates-silent"].treat_missing_data == "breaching" && length(coalesce(aws_cloudwatch_metric_alarm.quiet_inputs["aggregates-silent"].alarm_actions, [])) == 0
    error_message = "a silent aggregates stream breaches; the composite alarm notifies, not its inputs"
  }
  assert {
    condition     = aws_cloudwatch_metric_alarm.this["score-iterator-age"].metric_name == "IteratorAge" && aws_cloudwatch_metric_alarm.this["score-iterator-age"].dimensions["FunctionName"] == "unit-score"
    error_message = "iterator age alarm watches the function"
  }
  assert {
    condition     = aws_sns_topic.alarms[0].kms_master_key_id == var.kms_key_arn
    error_message = "the alarm topic must be KMS-encrypted"
  }
}

run "no_topic_no_endpoint" {
  command = plan
  variables {
    create_sns_topic       = false
    endpoint_name          = null
    flink_application_name = null
    aggregates_stream_name = null
  }
  assert {
    condition     = length(aws_cloudwatch_metric_alarm.failed_checkpoints) == 0 && length(aws_cloudwatch_composite_alarm.aggregates_quiet) == 0 && !contains(keys(aws_cloudwatch_metric_alarm.this), "flink-not-running")
    error_message = "Flink and quiet alarms are optional"
  }
  assert {
    condition     = length(aws_sns_topic.alarms) == 0 && !contains(keys(aws_cloudwatch_metric_alarm.this), "endpoint-5xx")
    error_message = "topic and endpoint alarms are optional"
  }
}

run "rejects_zero_evaluation_periods" {
  command = plan
  variables {
    evaluation_periods = 0
  }
  expect_failures = [var.evaluation_periods]
}

run "consistency_alarms_and_widget" {
  command = plan

  variables {
    consistency_metric       = { namespace = "unit/consistency" }
    archive_delivery_streams = { predictions = "unit-predictions-archive", transactions = "unit-transactions-archive" }
  }

  assert {
    condition = alltrue([for what in ["predictions", "transactions"] : (
      aws_cloudwatch_metric_alarm.consistency["${what}-archive-freshness"].metric_name == "DeliveryToS3.DataFreshness" &&
      aws_cloudwatch_metric_alarm.consistency["${what}-archive-freshness"].dimensions["DeliveryStreamName"] == "unit-${what}-archive" &&
    aws_cloudwatch_metric_alarm.consistency["${what}-archive-freshness"].threshold == 900)])
    error_message = "alarm when an archive's oldest undelivered record is older than 15 minutes"
  }
  assert {
    condition     = length(aws_cloudwatch_metric_alarm.consistency["consistency-match-rate"].dimensions) == 0
    error_message = "MatchRate has no dimensions"
  }

  assert {
    condition = (aws_cloudwatch_metric_alarm.consistency["consistency-match-rate"].namespace == "unit/consistency" &&
      aws_cloudwatch_metric_alarm.consistency["consistency-match-rate"].metric_name == "MatchRate" &&
      aws_cloudwatch_metric_alarm.consistency["consistency-match-rate"].threshold == 0.999 &&
    aws_cloudwatch_metric_alarm.consistency["consistency-match-rate"].comparison_operator == "LessThanThreshold")
    error_message = "alarm when MatchRate in the run's namespace falls below 0.999"
  }
  assert {
    condition = (aws_cloudwatch_metric_alarm.consistency["consistency-missing"].period * aws_cloudwatch_metric_alarm.consistency["consistency-missing"].evaluation_periods > 86400 &&
    aws_cloudwatch_metric_alarm.consistency["consistency-missing"].treat_missing_data == "breaching")
    error_message = "alarm when no run published for more than a day"
  }
  assert {
    condition     = length([for w in jsondecode(aws_cloudwatch_dashboard.this.dashboard_body).widgets : w if try(w.properties.metrics[0][1], "") == "MatchRate"]) == 1
    error_message = "one MatchRate widget on the dashboard"
  }
}
