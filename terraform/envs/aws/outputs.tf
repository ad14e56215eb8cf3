output "region" {
  description = "Region of the deployment."
  value       = var.region
}

output "kms_key_arn" {
  description = "ARN of the deployment's KMS key."
  value       = try(module.kms.key_arn, null)
}

output "buckets" {
  description = "Bucket names by logical name (data, artifacts, offline-store)."
  value       = try(module.storage.bucket_names, {})
}

output "artifacts_bucket" {
  description = "Name of the artifacts bucket (model.tar.gz, flink-app.zip)."
  value       = try(local.artifacts, null)
}

output "streams" {
  description = "Kinesis stream names by logical name."
  value       = try(module.streams.names, {})
}

output "feature_groups" {
  description = "Feature group names by definition name."
  value       = try(module.feature_groups.names, {})
}

output "functions" {
  description = "Lambda function names by role."
  value       = try(module.functions.function_names, {})
}

output "dead_letter_queue_url" {
  description = "URL of the dead-letter queue."
  value       = try(module.functions.dead_letter_queue_url, null)
}

output "endpoint_name" {
  description = "Name of the model endpoint (null when not created)."
  value       = try(module.model_endpoint[0].endpoint_name, null)
}

output "streaming_app" {
  description = "Name of the streaming aggregation application (null when not created)."
  value       = try(coalesce(try(module.streaming_app[0].application_name, null), try(module.kda_sql_app[0].application_name, null)), null)
}

output "dashboard" {
  description = "Name of the CloudWatch dashboard."
  value       = try(module.monitoring.dashboard_name, null)
}

output "alarm_topic_arn" {
  description = "ARN of the alarm SNS topic."
  value       = try(module.monitoring.sns_topic_arn, null)
}

output "model_data_key" {
  description = "Key make deploy uploads model.tar.gz to."
  value       = var.model_data_key
}

output "flink_app_key" {
  description = "Key make deploy uploads flink-app.zip to."
  value       = var.flink_app_key
}

output "batch_refresh" {
  description = "The daily refresh: EMR Serverless application id, job role ARN, schedule name and the job's S3 locations (jobs/batch/launch.py --from-terraform)."
  value = try(merge(module.batch_refresh.job, {
    application_id = module.batch_refresh.application_id
    job_role_arn   = module.batch_refresh.job_role_arn
    schedule_name  = module.batch_refresh.schedule_name
    enabled        = var.enable_daily_refresh
    start_job_run  = module.batch_refresh.start_job_run
  }), null)
}
