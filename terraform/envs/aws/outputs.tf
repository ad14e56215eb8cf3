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
  description = "Name of the artifacts bucket (model.tar.gz, the Flink zip, the batch job; see artifact_keys)."
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

output "artifact_keys" {
  description = "Content-addressed S3 key of each artifact in the artifacts bucket (model, flink-app, batch-job)."
  value       = try(module.artifacts.keys, {})
}

output "deployment" {
  description = "Names the deploy flow, feature loader, simulator and smoke test read (same keys on every root; \"\" where the root has no such thing)."
  value = {
    region                  = var.region
    name_prefix             = var.name_prefix
    transactions_stream     = try(module.streams.names["transactions"], "")
    aggregates_stream       = try(module.streams.names["aggregates"], "")
    predictions_stream      = try(module.streams.names["predictions"], "")
    late_stream             = try(module.streams.names["late"], "")
    dead_letter_queue_url   = try(module.functions.dead_letter_queue_url, "")
    data_bucket             = try(module.storage.bucket_names["data"], "")
    artifacts_bucket        = try(local.artifacts, "")
    batch_feature_group     = try(module.feature_groups.names["cc-agg-batch-fg"], "")
    streaming_feature_group = try(module.feature_groups.names["cc-agg-fg"], "")
    endpoint_name           = var.enable_model_endpoint ? local.endpoint_name : ""
    kms_key_arn             = try(module.kms.key_arn, "")
  }
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

output "predictions_archive" {
  description = "The predictions archive (null when not created): Firehose delivery stream name and the s3:// URI of its day partitions (dt=YYYY-MM-DD/)."
  value = try({
    delivery_stream = module.stream_archive["predictions"].delivery_stream_name
    uri             = module.stream_archive["predictions"].uri
  }, null)
}

output "transactions_archive" {
  description = "The transactions archive, the daily refresh's --live input (null when not created): Firehose delivery stream name and the s3:// URI of its day partitions (dt=YYYY-MM-DD/)."
  value = try({
    delivery_stream = module.stream_archive["transactions"].delivery_stream_name
    uri             = module.stream_archive["transactions"].uri
  }, null)
}

output "consistency" {
  description = "The daily consistency run (null when not enabled): job role, schedule, arguments, metric namespace and its StartJobRun request."
  value       = try(module.batch_refresh.consistency, null)
}
