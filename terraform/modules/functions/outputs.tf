output "function_names" {
  description = "Function names by role (ingest, score); empty when create_functions is false."
  value       = try({ for k, f in aws_lambda_function.this : k => f.function_name }, {})
}

output "function_arns" {
  description = "Function ARNs by role."
  value       = try({ for k, f in aws_lambda_function.this : k => f.arn }, {})
}

output "role_arns" {
  description = "Execution role ARNs by function."
  value       = try({ for k, r in aws_iam_role.this : k => r.arn }, {})
}

output "event_source_mapping_ids" {
  description = "Event source mapping UUIDs by function."
  value       = try({ for k, m in aws_lambda_event_source_mapping.this : k => m.uuid }, {})
}

output "log_group_names" {
  description = "Log group names by function."
  value       = try({ for k, g in aws_cloudwatch_log_group.this : k => g.name }, {})
}

output "dead_letter_queue_url" {
  description = "URL of the dead-letter queue (bad records with their reason, failed batches' metadata)."
  value       = try(aws_sqs_queue.dead_letters.url, null)
}

output "dead_letter_queue_arn" {
  description = "ARN of the dead-letter queue."
  value       = try(aws_sqs_queue.dead_letters.arn, null)
}

output "dead_letter_queue_name" {
  description = "Name of the dead-letter queue."
  value       = try(aws_sqs_queue.dead_letters.name, null)
}
