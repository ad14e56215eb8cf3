output "application_name" {
  description = "Name of the Flink application."
  value       = try(aws_kinesisanalyticsv2_application.this.name, null)
}

output "application_arn" {
  description = "ARN of the Flink application."
  value       = try(aws_kinesisanalyticsv2_application.this.arn, null)
}

output "role_arn" {
  description = "ARN of the application's service execution role."
  value       = try(aws_iam_role.this.arn, null)
}

output "log_group_name" {
  description = "Log group of the application."
  value       = try(aws_cloudwatch_log_group.this.name, null)
}
