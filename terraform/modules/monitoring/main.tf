# CloudWatch dashboard and alarms of the pipeline: stream lag (iterator age) and errors of both
# functions, dead-letter depth, endpoint 5xx errors and latency; alarms notify an optional
# KMS-encrypted SNS topic and any extra actions.

data "aws_region" "current" {}

locals {
  tags = merge({ "module" = "monitoring" }, var.tags)

  endpoint_dimensions = { EndpointName = var.endpoint_name, VariantName = var.variant_name }

  function_alarms = merge(
    { for k, f in var.function_names : "${k}-iterator-age" => {
      description = "The ${f} function falls behind the aggregates stream"
      namespace   = "AWS/Lambda", metric = "IteratorAge", statistic = "Maximum"
      threshold   = var.iterator_age_threshold_ms, dimensions = { FunctionName = f }
    } },
    { for k, f in var.function_names : "${k}-errors" => {
      description = "The ${f} function failed whole invocations"
      namespace   = "AWS/Lambda", metric = "Errors", statistic = "Sum"
      threshold   = 0, dimensions = { FunctionName = f }
    } },
  )
  queue_alarms = var.dead_letter_queue_name == null ? {} : {
    "dead-letters" = {
      description = "Records were dead-lettered (bad records or exhausted retries)"
      namespace   = "AWS/SQS", metric = "ApproximateNumberOfMessagesVisible", statistic = "Maximum"
      threshold   = 0, dimensions = { QueueName = var.dead_letter_queue_name }
    }
  }
  endpoint_alarms = var.endpoint_name == null ? {} : {
    "endpoint-5xx" = {
      description = "The fraud model endpoint returned 5xx errors"
      namespace   = "AWS/SageMaker", metric = "Invocation5XXErrors", statistic = "Sum"
      threshold   = 0, dimensions = local.endpoint_dimensions
    }
    "endpoint-latency" = {
      description = "The fraud model endpoint is slow (ModelLatency, microseconds)"
      namespace   = "AWS/SageMaker", metric = "ModelLatency", statistic = "Average"
      threshold   = var.model_latency_threshold_ms * 1000, dimensions = local.endpoint_dimensions
    }
  }
  alarms = merge(local.function_alarms, local.queue_alarms, local.endpoint_alarms)

  alarm_actions = concat(aws_sns_topic.alarms[*].arn, var.alarm_actions)

  widgets = concat(
    [for metric in ["IteratorAge", "Errors", "Invocations", "Duration"] : {
      type = "metric", width = 12, height = 6
      properties = {
        title   = "Lambda ${metric}", region = data.aws_region.current.name, view = "timeSeries", stat = metric == "IteratorAge" ? "Maximum" : (metric == "Duration" ? "p99" : "Sum")
        metrics = [for f in values(var.function_names) : ["AWS/Lambda", metric, "FunctionName", f]]
      }
    }],
    var.dead_letter_queue_name == null ? [] : [{
      type = "metric", width = 12, height = 6
      properties = {
        title   = "Dead letters", region = data.aws_region.current.name, view = "timeSeries", stat = "Maximum"
        metrics = [["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", var.dead_letter_queue_name]]
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
  evaluation_periods  = var.evaluation_periods
  threshold           = each.value.threshold
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
  tags                = local.tags
}

resource "aws_cloudwatch_dashboard" "this" {
  dashboard_name = "${var.name_prefix}-pipeline"
  dashboard_body = jsonencode({ widgets = local.widgets })
}
