output "application_name" {
  description = "Name of the KDA SQL application."
  value       = try(aws_kinesis_analytics_application.this.name, null)
}

output "application_arn" {
  description = "ARN of the KDA SQL application."
  value       = try(aws_kinesis_analytics_application.this.arn, null)
}

output "role_arn" {
  description = "ARN of the application's role."
  value       = try(aws_iam_role.this.arn, null)
}
