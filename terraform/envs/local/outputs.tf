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

output "artifact_keys" {
  description = "Content-addressed S3 key of each artifact (logical name => key)."
  value       = module.artifacts.keys
}

output "artifacts_uploaded" {
  description = "Logical names of the artifacts uploaded to the artifacts bucket."
  value       = module.artifacts.uploaded
}

# The same keys on every root; "" where this root has no such thing (the endpoint:
# the local stand-in, local_aws.endpoint, serves the model instead).
output "deployment" {
  description = "What the deploy flow, the feature loader, the simulator and the smoke test read (same keys as envs/aws)."
  value = {
    region                  = var.region
    name_prefix             = var.name_prefix
    transactions_stream     = module.streams.names["transactions"]
    aggregates_stream       = module.streams.names["aggregates"]
    predictions_stream      = module.streams.names["predictions"]
    late_stream             = module.streams.names["late"]
    dead_letter_queue_url   = module.functions.dead_letter_queue_url
    data_bucket             = module.storage.bucket_names["data"]
    artifacts_bucket        = module.storage.bucket_names["artifacts"]
    batch_feature_group     = local.feature_groups["cc-agg-batch-fg"]
    streaming_feature_group = local.feature_groups["cc-agg-fg"]
    endpoint_name           = ""
    kms_key_arn             = module.kms.key_arn
  }
}
