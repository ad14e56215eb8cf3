# CloudWatch dashboard and alarms of the pipeline: stream lag (iterator age) and errors of both
# functions, dead-letter depth, endpoint 5xx errors and latency, the Flink application (stopped or
# failing, failing checkpoints, source lag), rows on the late stream, and an aggregates stream that
# went quiet while transactions arrive, and the daily consistency run's match rate (below its
# threshold, or not published); alarms notify an optional KMS-encrypted SNS topic and any
# extra actions. docs/operations.md says what each alarm means and what to do.

data "aws_region" "current" {}

locals {
  tags = merge({ "module" = "monitoring" }, var.tags)

  endpoint_dimensions = { EndpointName = var.endpoint_name, VariantName = var.variant_name }
  flink               = var.flink_application_name == null ? {} : { app = { Application = var.flink_application_name } }
  quiet               = var.aggregates_stream_name != null && var.transactions_stream_name != null ? { quiet = true } : {}

  # Each alarm entry: metric, statistic, threshold, comparison, how missing data counts, periods.

  function_alarms = merge(
    { for k, f in var.function_names : "${k}-iterator-age" => {
      description = "The ${f} function falls behind the aggregates stream"
      namespace   = "AWS/Lambda", metric = "IteratorAge", statistic = "Maximum"
      threshold   = var.iterator_age_threshold_ms, dimensions = { FunctionName = f }
      comparison  = "GreaterThanThreshold", missing = "notBreaching", periods = var.evaluation_periods
    } },
    { for k, f in var.function_names : "${k}-errors" => {
      description = "The ${f} function failed whole invocations"
      namespace   = "AWS/Lambda", metric = "Errors", statistic = "Sum"
      threshold   = 0, dimensions = { FunctionName = f }
      comparison  = "GreaterThanThreshold", missing = "notBreaching", periods = var.evaluation_periods
    } },
  )
  # Keyed by the logical name: a generated queue name is unknown until apply.
  queue_alarms = { for k, q in var.dead_letter_queues : k => {
    description = "Records were dead-lettered (bad records, unknown cards, exhausted retries)"
    namespace   = "AWS/SQS", metric = "ApproximateNumberOfMessagesVisible", statistic = "Maximum"
    threshold   = 0, dimensions = { QueueName = q }
    comparison  = "GreaterThanThreshold", missing = "notBreaching", periods = var.evaluation_periods
  } }
  endpoint_alarms = var.endpoint_name == null ? {} : {
    "endpoint-5xx" = {
      description = "The fraud model endpoint returned 5xx errors"
      namespace   = "AWS/SageMaker", metric = "Invocation5XXErrors", statistic = "Sum"
      threshold   = 0, dimensions = local.endpoint_dimensions
      comparison  = "GreaterThanThreshold", missing = "notBreaching", periods = var.evaluation_periods
    }
    "endpoint-latency" = {
      description = "The fraud model endpoint is slow (ModelLatency, microseconds)"
      namespace   = "AWS/SageMaker", metric = "ModelLatency", statistic = "Average"
      threshold   = var.model_latency_threshold_ms * 1000, dimensions = local.endpoint_dimensions
      comparison  = "GreaterThanThreshold", missing = "notBreaching", periods = var.evaluation_periods
    }
  }
  # Managed Service for Apache Flink's metrics and its recommended alarms:
  # https://docs.aws.amazon.com/managed-flink/latest/java/metrics-dimensions.html
  # https://docs.aws.amazon.com/managed-flink/latest/java/monitoring-metrics-alarms.html
  flink_alarms = merge([for k, d in local.flink : {
    # A running application reports uptime every minute; a stopped (or never started) one reports
    # nothing, so silence is the failure here: missing data breaches.
    "flink-not-running" = {
      description = "The Flink application is not running (no uptime reported, or uptime 0): no aggregates are produced"
      namespace   = "AWS/KinesisAnalytics", metric = "uptime", statistic = "Maximum"
      threshold   = 0, dimensions = d
      comparison  = "LessThanOrEqualToThreshold", missing = "breaching", periods = var.evaluation_periods
    }
    "flink-downtime" = {
      description = "The Flink application is failing and restarting (downtime > 0): it processes nothing meanwhile"
      namespace   = "AWS/KinesisAnalytics", metric = "downtime", statistic = "Maximum"
      threshold   = 0, dimensions = d
      comparison  = "GreaterThanThreshold", missing = "notBreaching", periods = var.evaluation_periods
    }
    "flink-source-behind" = {
      description = "The Flink application falls behind the transactions stream (millisBehindLatest)"
      namespace   = "AWS/KinesisAnalytics", metric = "millisBehindLatest", statistic = "Maximum"
      threshold   = var.millis_behind_latest_threshold_ms, dimensions = d
      comparison  = "GreaterThanThreshold", missing = "notBreaching", periods = var.evaluation_periods
    }
  }]...)
  # Any row on the late stream is a transaction that was never aggregated: one period is enough.
  late_alarms = var.late_stream_name == null ? {} : {
    "late-rows" = {
      description = "Transactions arrived behind the watermark and went to the late stream, unaggregated"
      namespace   = "AWS/Kinesis", metric = "IncomingRecords", statistic = "Sum"
      threshold   = 0, dimensions = { StreamName = var.late_stream_name }
      comparison  = "GreaterThanThreshold", missing = "notBreaching", periods = 1
    }
  }
  # The two inputs of the aggregates-quiet composite alarm (no actions of their own): silence of
  # the aggregates stream breaches, but only matters while transactions arrive.
  quiet_inputs = merge([for k in keys(local.quiet) : {
    "transactions-arriving" = {
      description = "Input of aggregates-quiet: transactions arrive"
      namespace   = "AWS/Kinesis", metric = "IncomingRecords", statistic = "Sum"
      threshold   = 0, dimensions = { StreamName = var.transactions_stream_name }
      comparison  = "GreaterThanThreshold", missing = "notBreaching", periods = var.evaluation_periods
    }
    "aggregates-silent" = {
      description = "Input of aggregates-quiet: no aggregates written (missing data breaches)"
      namespace   = "AWS/Kinesis", metric = "IncomingRecords", statistic = "Sum"
      threshold   = 1, dimensions = { StreamName = var.aggregates_stream_name }
      comparison  = "LessThanThreshold", missing = "breaching", periods = var.evaluation_periods
    }
  }]...)
  alarms = merge(local.function_alarms, local.queue_alarms, local.endpoint_alarms, local.flink_alarms, local.late_alarms)

  alarm_actions = concat(aws_sns_topic.alarms[*].arn, var.alarm_actions)

  # The daily consistency run publishes one MatchRate per run (no dimensions). Day-long period
  # (Period x EvaluationPeriods up to 7 days for periods of an hour or more:
  # https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutMetricAlarm.html):
  # a run below the threshold keeps the alarm on for the day; no run for 26 hours (a failed or
  # disabled run) is an alarm of its own, missing hours breaching.
  consistency = var.consistency_metric == null ? {} : { (var.consistency_metric.name) = var.consistency_metric }
  consistency_alarms = merge(concat([for name, m in local.consistency : {
    "consistency-match-rate" = {
      description = "Served features differ from the batch job's: the daily consistency run's ${name} fell below ${m.threshold} (REPORT.md under the report prefix says which features and why)"
      namespace   = m.namespace, metric = name, statistic = "Minimum", threshold = m.threshold, dimensions = {}
      comparison  = "LessThanThreshold", missing = "notBreaching", period = 86400, periods = 1
    }
    "consistency-missing" = {
      description = "No ${name} for 26 hours: the daily consistency run failed, was disabled or did not publish"
      namespace   = m.namespace, metric = name, statistic = "SampleCount", threshold = 1, dimensions = {}
      comparison  = "LessThanThreshold", missing = "breaching", period = 3600, periods = 26
    }
    }], [for what, stream in var.archive_delivery_streams : {
    # What the runs read (the refresh the transactions, the consistency run the predictions):
    # Firehose recommends alarming when DeliveryToS3.DataFreshness (age of the oldest record not yet
    # in S3) exceeds the buffering limit, at most 15 minutes
    # (https://docs.aws.amazon.com/firehose/latest/dev/firehose-cloudwatch-metrics-best-practices.html).
    # Firehose publishes every 5 minutes.
    "${what}-archive-freshness" = {
      description = "The ${what} archive falls behind: Firehose has not delivered records for more than ${var.archive_freshness_threshold_seconds} s"
      namespace   = "AWS/Firehose", metric = "DeliveryToS3.DataFreshness", statistic = "Maximum"
      threshold   = var.archive_freshness_threshold_seconds, dimensions = { DeliveryStreamName = stream }
      comparison  = "GreaterThanThreshold", missing = "notBreaching", period = 300, periods = 3
    }
  }])...)

  widgets = concat(
    [for metric in ["IteratorAge", "Errors", "Invocations", "Duration"] : {
      type = "metric", width = 12, height = 6
      properties = {
        title   = "Lambda ${metric}", region = data.aws_region.current.name, view = "timeSeries", stat = metric == "IteratorAge" ? "Maximum" : (metric == "Duration" ? "p99" : "Sum")
        metrics = [for f in values(var.function_names) : ["AWS/Lambda", metric, "FunctionName", f]]
      }
    }],
    length(var.dead_letter_queues) == 0 ? [] : [{
      type = "metric", width = 12, height = 6
      properties = {
        title   = "Dead letters", region = data.aws_region.current.name, view = "timeSeries", stat = "Maximum"
        metrics = [for q in values(var.dead_letter_queues) : ["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", q]]
      }
    }],
    [for k, d in local.flink : {
      type = "metric", width = 12, height = 6
      properties = {
        title = "Flink application", region = data.aws_region.current.name, view = "timeSeries", stat = "Maximum"
        metrics = [
          ["AWS/KinesisAnalytics", "uptime", "Application", d.Application],
          ["AWS/KinesisAnalytics", "downtime", "Application", d.Application],
          ["AWS/KinesisAnalytics", "numberOfFailedCheckpoints", "Application", d.Application],
          ["AWS/KinesisAnalytics", "millisBehindLatest", "Application", d.Application, { yAxis = "right" }],
        ]
      }
    }],
    var.endpoint_name == null ? [] : [{
      type = "metric", width = 12, height = 6
      properties = {
        title = "Endpoint invocations, errors and latency", region = data.aws_region.current.name, view = "timeSeries", stat = "Sum"
        metrics = [
          ["AWS/SageMaker", "Invocations", "EndpointName", var.endpoint_name, "VariantName", var.variant_name],
          ["AWS/SageMaker", "Invocation5XXErrors", "EndpointName", var.endpoint_name, "VariantName", var.variant_name],
          ["AWS/SageMaker", "ModelLatency", "EndpointName", var.endpoint_name, "VariantName", var.variant_name, { stat = "Average", yAxis = "right" }],
        ]
      }
    }],
    [for name, m in local.consistency : {
      type = "metric", width = 12, height = 6
      properties = {
        title   = "Served vs batch features: ${name} (daily)", region = data.aws_region.current.name, view = "timeSeries", stat = "Minimum", period = 86400
        metrics = [[m.namespace, name]]
        annotations = {
          horizontal = [{ label = "alarm below", value = m.threshold }]
        }
      }
    }],
    [for s in values(var.stream_names) : {
      type = "metric", width = 8, height = 6
      properties = {
        title   = "Stream ${s}", region = data.aws_region.current.name, view = "timeSeries", stat = "Sum"
        metrics = [["AWS/Kinesis", "IncomingRecords", "StreamName", s], ["AWS/Kinesis", "GetRecords.IteratorAgeMilliseconds", "StreamName", s, { stat = "Maximum", yAxis = "right" }]]
      }
    }],
  )
}

resource "aws_sns_topic" "alarms" {
  count = var.create_sns_topic ? 1 : 0

  name              = "${var.name_prefix}-alarms"
  kms_master_key_id = var.kms_key_arn
  tags              = local.tags
}

resource "aws_sns_topic_subscription" "email" {
  for_each = var.create_sns_topic ? toset(var.alarm_emails) : toset([])

  topic_arn = aws_sns_topic.alarms[0].arn
  protocol  = "email"
  endpoint  = each.key
}

resource "aws_cloudwatch_metric_alarm" "this" {
  for_each = local.alarms

  alarm_name          = "${var.name_prefix}-${each.key}"
  alarm_description   = each.value.description
  namespace           = each.value.namespace
  metric_name         = each.value.metric
  statistic           = each.value.statistic
  dimensions          = each.value.dimensions
  period              = var.period_seconds
  threshold           = each.value.threshold
  comparison_operator = each.value.comparison
  evaluation_periods  = each.value.periods
  treat_missing_data  = each.value.missing
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
  tags                = local.tags
}

# numberOfFailedCheckpoints counts since the application started: its rate is what fails now.
resource "aws_cloudwatch_metric_alarm" "failed_checkpoints" {
  for_each = local.flink

  alarm_name          = "${var.name_prefix}-flink-failed-checkpoints"
  alarm_description   = "The Flink application's checkpoints fail: a restart would replay from an old checkpoint or lose state"
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  evaluation_periods  = var.evaluation_periods
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
  tags                = local.tags

  metric_query {
    id          = "rate"
    expression  = "RATE(failed)"
    label       = "Failed checkpoints per second"
    return_data = true
  }
  metric_query {
    id = "failed"
    metric {
      namespace   = "AWS/KinesisAnalytics"
      metric_name = "numberOfFailedCheckpoints"
      dimensions  = each.value
      period      = var.period_seconds
      stat        = "Maximum"
    }
  }
}

resource "aws_cloudwatch_metric_alarm" "consistency" {
  for_each = local.consistency_alarms

  alarm_name          = "${var.name_prefix}-${each.key}"
  alarm_description   = each.value.description
  namespace           = each.value.namespace
  metric_name         = each.value.metric
  statistic           = each.value.statistic
  dimensions          = each.value.dimensions
  period              = each.value.period
  threshold           = each.value.threshold
  comparison_operator = each.value.comparison
  evaluation_periods  = each.value.periods
  datapoints_to_alarm = each.value.periods
  treat_missing_data  = each.value.missing
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
  tags                = local.tags
}

resource "aws_cloudwatch_metric_alarm" "quiet_inputs" {
  for_each = local.quiet_inputs

  alarm_name          = "${var.name_prefix}-${each.key}"
  alarm_description   = each.value.description
  namespace           = each.value.namespace
  metric_name         = each.value.metric
  statistic           = each.value.statistic
  dimensions          = each.value.dimensions
  period              = var.period_seconds
  threshold           = each.value.threshold
  comparison_operator = each.value.comparison
  evaluation_periods  = each.value.periods
  treat_missing_data  = each.value.missing
  tags                = local.tags
}

# Transactions arrive but no aggregate comes out: the Flink job is stuck, or writes nowhere.
resource "aws_cloudwatch_composite_alarm" "aggregates_quiet" {
  for_each = local.quiet

  alarm_name        = "${var.name_prefix}-aggregates-quiet"
  alarm_description = "Transactions arrive but the aggregates stream stays quiet: nothing is scored"
  alarm_rule        = "ALARM(\"${aws_cloudwatch_metric_alarm.quiet_inputs["transactions-arriving"].alarm_name}\") AND ALARM(\"${aws_cloudwatch_metric_alarm.quiet_inputs["aggregates-silent"].alarm_name}\")"
  alarm_actions     = local.alarm_actions
  ok_actions        = local.alarm_actions
  tags              = local.tags
}

resource "aws_cloudwatch_dashboard" "this" {
  dashboard_name = "${var.name_prefix}-pipeline"
  dashboard_body = jsonencode({ widgets = local.widgets })
}
