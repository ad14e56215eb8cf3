# The whole system in one AWS account: KMS key, buckets, streams, feature groups, the fraud
# model endpoint, the streaming aggregation app (Flink, or the legacy KDA SQL app), the two
# stream functions, monitoring, the daily refresh and consistency run, and the archives of the
# predictions and transactions streams.
# One `terraform apply` creates all of it, the artifacts
# included: module "artifacts" uploads model.tar.gz, the Flink zip and the batch job under
# content-addressed keys, and the endpoint's model and the Flink application read those keys,
# so a new model or new application code changes them on the next plan.

provider "aws" {
  region = var.region

  # Only for offline plans (tests): no credential, account or metadata lookups.
  skip_credentials_validation = var.offline
  skip_requesting_account_id  = var.offline
  skip_metadata_api_check     = var.offline

  default_tags {
    tags = local.tags
  }
}

data "aws_partition" "current" {}

locals {
  repo_root = "${path.module}/../../.."
  rendered  = "${local.repo_root}/features/rendered"
  tags = merge({
    "project"    = "streaming-fraud-features"
    "managed-by" = "terraform"
    "deployment" = var.name_prefix
  }, var.tags)

  # The serving threshold comes from the feature definition unless overridden.
  fraud_threshold = coalesce(var.fraud_threshold, jsondecode(file("${local.rendered}/model_input.json")).serving_threshold)
  endpoint_name   = "${var.name_prefix}-model"
  endpoint_arn    = "arn:${data.aws_partition.current.partition}:sagemaker:${var.region}:${module.kms.account_id}:endpoint/${local.endpoint_name}"
  ingest_zip      = coalesce(var.ingest_zip_path, "${local.repo_root}/build/lambda/ingest.zip")
  score_zip       = coalesce(var.score_zip_path, "${local.repo_root}/build/lambda/score.zip")
  model_path      = coalesce(var.model_path, "${local.repo_root}/data/model/model.tar.gz")
  flink_zip       = coalesce(var.flink_zip_path, "${local.repo_root}/build/flink-app.zip")
  batch_job_zip   = coalesce(var.batch_job_zip_path, "${local.repo_root}/build/emr/batch-job.zip")
  batch_deps_zip  = coalesce(var.batch_deps_zip_path, "${local.repo_root}/build/emr/batch-deps.zip")
  consistency_zip = coalesce(var.consistency_job_zip_path, "${local.repo_root}/build/emr/consistency-job.zip")
  # XGBoost, scikit-learn, numpy, scipy and boto3 for the consistency run's X86_64 workers.
  consistency_deps_zip = coalesce(var.consistency_deps_zip_path, "${local.repo_root}/build/emr/consistency-deps.zip")
  # The consistency run reads the archive: without one it has nothing to compare.
  consistency_enabled = var.enable_consistency_check && var.enable_predictions_archive
  # Kinesis streams Firehose delivers to the data bucket (module stream_archive), by stream: the
  # served predictions (the consistency run's input) and the served transactions (the daily
  # refresh's live history, --live). Both hold card numbers: each expires after its retention.
  stream_archives = {
    for stream, archive in {
      predictions  = { enabled = var.enable_predictions_archive, retention_days = var.predictions_retention_days }
      transactions = { enabled = var.enable_transactions_archive, retention_days = var.transactions_retention_days }
    } : stream => merge(archive, { prefix = "${stream}/", error_prefix = "${stream}-errors/" }) if archive.enabled
  }
  # Where the run publishes MatchRate and the alarms look for it (a custom namespace: not AWS/).
  consistency_namespace = "StreamingFraudFeatures/${var.name_prefix}"
  artifacts             = module.storage.bucket_names["artifacts"]
}

module "kms" {
  source = "../../modules/kms"

  name_prefix = var.name_prefix
  tags        = var.tags
}

module "storage" {
  source = "../../modules/storage"

  name_prefix   = var.name_prefix
  kms_key_arn   = module.kms.key_arn
  force_destroy = var.force_destroy_buckets
  # The archives hold card numbers (and the predictions' feature vectors): kept for a bounded time.
  expirations = flatten([
    for archive in values(local.stream_archives) : [
      for prefix in [archive.prefix, archive.error_prefix] : { bucket = "data", prefix = prefix, days = archive.retention_days }
    ]
  ])
  tags = var.tags
}

# Missing files are skipped (a destroy needs none of them); the resources that read a key
# check on plan that its file exists.
module "artifacts" {
  source = "../../modules/artifacts"

  bucket      = local.artifacts
  kms_key_arn = module.kms.key_arn
  files = {
    model     = local.model_path
    flink-app = local.flink_zip
    batch-job = local.batch_job_zip
    # The daily refresh's boto3 for EMR's Python and its entry point (docs/daily-refresh.md).
    batch-deps = local.batch_deps_zip
    emr-entry  = "${local.repo_root}/jobs/batch/emr_entry.py"
    # The daily consistency run's bundle, third-party packages and entry point.
    consistency-job   = local.consistency_zip
    consistency-deps  = local.consistency_deps_zip
    consistency-entry = "${local.repo_root}/jobs/consistency/emr_entry.py"
  }
  tags = var.tags
}

# Fails the plan (never a destroy: Terraform skips conditions there) when an artifact a created
# resource reads is missing, instead of an endpoint or application that cannot start.
resource "terraform_data" "required_artifacts" {
  lifecycle {
    precondition {
      condition     = !var.enable_model_endpoint || fileexists(local.model_path)
      error_message = "Model archive ${local.model_path} not found: run `make history aggregate train` or pass -var model_path=... (or set enable_model_endpoint = false)."
    }
    precondition {
      condition     = !(var.enable_streaming_app && var.streaming_engine == "flink") || fileexists(local.flink_zip)
      error_message = "Flink application zip ${local.flink_zip} not found: run `make package-flink` (or pass -var flink_zip_path=...)."
    }
  }
}

module "streams" {
  source = "../../modules/streams"

  name_prefix     = var.name_prefix
  mode            = var.stream_mode
  shard_count     = var.shard_count
  retention_hours = var.stream_retention_hours
  kms_key_arn     = module.kms.key_arn
  tags            = var.tags
}

module "feature_groups" {
  source = "../../modules/feature_groups"

  name_prefix          = var.name_prefix
  definitions_dir      = "${local.rendered}/feature_groups"
  online_ttl           = var.online_ttl
  table_format         = var.offline_table_format
  offline_store_bucket = module.storage.bucket_names["offline-store"]
  kms_key_arn          = module.kms.key_arn
  tags                 = var.tags
}

module "model_endpoint" {
  source = "../../modules/model_endpoint"
  count  = var.enable_model_endpoint ? 1 : 0

  name_prefix        = var.name_prefix
  endpoint_name      = local.endpoint_name
  model_data_bucket  = local.artifacts
  model_data_key     = module.artifacts.keys["model"]
  endpoint_type      = var.endpoint_type
  log_retention_days = var.log_retention_days
  kms_key_arn        = module.kms.key_arn
  tags               = var.tags

  # The score function runs up to shards x parallelization factor invocations at once, each with
  # one InvokeEndpoint; a serverless endpoint throttles beyond its max concurrency.
  serverless_max_concurrency = var.endpoint_max_concurrency
  expected_concurrency       = var.stream_mode == "PROVISIONED" ? var.shard_count * var.event_source.parallelization_factor : null
  create_training_role       = var.enable_training_role
  training_data_bucket       = module.storage.bucket_names["data"]
}

module "streaming_app" {
  source = "../../modules/streaming_app"
  count  = var.enable_streaming_app && var.streaming_engine == "flink" ? 1 : 0

  name_prefix        = var.name_prefix
  code_bucket        = local.artifacts
  code_key           = module.artifacts.keys["flink-app"]
  input_stream_arn   = module.streams.arns["transactions"]
  output_stream_arn  = module.streams.arns["aggregates"]
  late_stream_arn    = module.streams.arns["late"]
  parallelism        = var.flink_parallelism
  log_retention_days = var.log_retention_days
  kms_key_arn        = module.kms.key_arn
  tags               = var.tags

  parallelism_per_kpu = var.flink_parallelism_per_kpu
}

module "kda_sql_app" {
  source = "../../modules/kda_sql_app"
  count  = var.enable_streaming_app && var.streaming_engine == "kda_sql" ? 1 : 0

  name_prefix        = var.name_prefix
  sql_path           = "${local.rendered}/kda.sql"
  input_schema_path  = "${local.rendered}/kda_input_schema.json"
  input_stream_arn   = module.streams.arns["transactions"]
  output_stream_arn  = module.streams.arns["aggregates"]
  log_retention_days = var.log_retention_days
  kms_key_arn        = module.kms.key_arn
  tags               = var.tags
}

module "functions" {
  source = "../../modules/functions"

  name_prefix                  = var.name_prefix
  ingest_zip_path              = local.ingest_zip
  score_zip_path               = local.score_zip
  source_stream_arn            = module.streams.arns["aggregates"]
  streaming_feature_group_name = module.feature_groups.names["cc-agg-fg"]
  streaming_feature_group_arn  = module.feature_groups.arns["cc-agg-fg"]
  batch_feature_group_name     = module.feature_groups.names["cc-agg-batch-fg"]
  batch_feature_group_arn      = module.feature_groups.arns["cc-agg-batch-fg"]
  endpoint_name                = local.endpoint_name
  endpoint_arn                 = local.endpoint_arn
  fraud_threshold              = local.fraud_threshold
  predictions_stream_name      = module.streams.names["predictions"]
  predictions_stream_arn       = module.streams.arns["predictions"]
  event_source                 = var.event_source
  enhanced_fan_out             = var.enhanced_fan_out
  log_retention_days           = var.log_retention_days
  kms_key_arn                  = module.kms.key_arn
  tags                         = var.tags
}

module "monitoring" {
  source = "../../modules/monitoring"

  name_prefix        = var.name_prefix
  function_names     = module.functions.function_names
  stream_names       = module.streams.names
  dead_letter_queues = { "dead-letters" = module.functions.dead_letter_queue_name }
  endpoint_name      = var.enable_model_endpoint ? local.endpoint_name : null

  flink_application_name   = try(module.streaming_app[0].application_name, null)
  late_stream_name         = module.streams.names["late"]
  transactions_stream_name = module.streams.names["transactions"]
  aggregates_stream_name   = module.streams.names["aggregates"]
  archive_delivery_streams = { for what, archive in module.stream_archive : what => archive.delivery_stream_name }
  # No scheduled runs (enable_daily_refresh = false disables both schedules): no MatchRate alarms.
  consistency_metric = local.consistency_enabled && var.enable_daily_refresh ? {
    namespace = local.consistency_namespace
    threshold = var.consistency_match_rate_threshold
  } : null
  create_sns_topic = var.create_alarm_topic
  alarm_emails     = var.alarm_emails
  kms_key_arn      = module.kms.key_arn
  tags             = var.tags
}

# Daily refresh of cc-agg-batch-fg: EMR Serverless job started after each UTC midnight.
module "batch_refresh" {
  source = "../../modules/batch_refresh"

  name_prefix        = var.name_prefix
  data_bucket        = module.storage.bucket_names["data"]
  artifacts_bucket   = local.artifacts
  entry_point_key    = module.artifacts.keys["emr-entry"]
  bundle_key         = module.artifacts.keys["batch-job"]
  dependencies_key   = module.artifacts.keys["batch-deps"]
  feature_group_name = module.feature_groups.names["cc-agg-batch-fg"]
  feature_group_arn  = module.feature_groups.arns["cc-agg-batch-fg"]
  kms_key_arn        = module.kms.key_arn
  enable_schedule    = var.enable_daily_refresh
  release_label      = var.emr_release_label
  tags               = var.tags

  # The served transactions, beside the labelled history: features cover what was served.
  live_prefix = try(module.stream_archive["transactions"].prefix, "")

  # Served vs batch features, each morning after the refresh (docs/daily-refresh.md).
  consistency_check = {
    enabled             = local.consistency_enabled
    entry_point_key     = module.artifacts.keys["consistency-entry"]
    bundle_key          = module.artifacts.keys["consistency-job"]
    dependencies_key    = module.artifacts.keys["consistency-deps"]
    model_key           = module.artifacts.keys["model"]
    predictions_prefix  = try(module.stream_archive["predictions"].prefix, "predictions/")
    metric_namespace    = local.consistency_namespace
    schedule_expression = var.consistency_schedule_expression
  }
}

# Served features and transactions land durably: Firehose delivers each archived stream to the data
# bucket by day (<stream>/dt=YYYY-MM-DD/*.json.gz).
module "stream_archive" {
  source   = "../../modules/stream_archive"
  for_each = local.stream_archives

  name_prefix        = var.name_prefix
  name               = each.key
  source_stream_arn  = module.streams.arns[each.key]
  bucket             = module.storage.bucket_names["data"]
  prefix             = each.value.prefix
  error_prefix       = each.value.error_prefix
  log_retention_days = var.log_retention_days
  kms_key_arn        = module.kms.key_arn
  tags               = var.tags
}

# Deployments from before the transactions archive keep their predictions archive: moved, not
# destroyed and created again (https://developer.hashicorp.com/terraform/language/modules/develop/refactoring).
moved {
  from = module.predictions_archive[0]
  to   = module.stream_archive["predictions"]
}
