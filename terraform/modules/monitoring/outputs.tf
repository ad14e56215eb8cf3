output "alarm_names" {
  description = "Names of the alarms that notify, by key (metric alarms, the consistency, failed-checkpoint and aggregates-quiet alarms)."
  value = try(merge(
    { for k, a in aws_cloudwatch_metric_alarm.this : k => a.alarm_name },
    { for k, a in aws_cloudwatch_metric_alarm.consistency : k => a.alarm_name },
    { for k, a in aws_cloudwatch_metric_alarm.failed_checkpoints : "flink-failed-checkpoints" => a.alarm_name },
    { for k, a in aws_cloudwatch_composite_alarm.aggregates_quiet : "aggregates-quiet" => a.alarm_name },
  ), {})
}

output "sns_topic_arn" {
  description = "ARN of the alarm topic (null when not created)."
  value       = try(aws_sns_topic.alarms[0].arn, null)
}

output "dashboard_name" {
  description = "Name of the CloudWatch dashboard."
  value       = try(aws_cloudwatch_dashboard.this.dashboard_name, null)
}
