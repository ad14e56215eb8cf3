output "endpoint" {
  description = "LocalStack gateway URL the resources live behind."
  value       = var.endpoint
}

output "kms_key_arn" {
  description = "ARN of the KMS key."
  value       = try(module.kms.key_arn, null)
}

output "streams" {
  description = "Kinesis stream names by logical name (transactions, aggregates, late, predictions)."
  value       = try(module.streams.names, {})
}

output "stream_arns" {
  description = "Kinesis stream ARNs by logical name."
  value       = try(module.streams.arns, {})
}

output "buckets" {
  description = "Bucket names by logical name (data, artifacts, offline-store)."
  value       = try(module.storage.bucket_names, {})
}

output "dead_letter_queue_url" {
  description = "URL of the dead-letter queue."
  value       = try(module.functions.dead_letter_queue_url, null)
}

output "log_group_names" {
  description = "Function log group names by function."
  value       = try(module.functions.log_group_names, {})
}
