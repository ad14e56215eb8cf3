output "alarm_names" {
  description = "Alarm names by key."
  value       = try({ for k, a in aws_cloudwatch_metric_alarm.this : k => a.alarm_name }, {})
}

output "sns_topic_arn" {
  description = "ARN of the alarm topic (null when not created)."
  value       = try(aws_sns_topic.alarms[0].arn, null)
}

output "dashboard_name" {
  description = "Name of the CloudWatch dashboard."
  value       = try(aws_cloudwatch_dashboard.this.dashboard_name, null)
}
