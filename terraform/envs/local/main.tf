# What LocalStack's free edition serves, for the integration tests: the KMS key, the streams,
# the buckets, the dead-letter queue and the function log groups (LocalStack cannot run Lambda
# code without Docker, and answers 501 for SageMaker, Kinesis Analytics and Glue).

provider "aws" {
  region = var.region
  #checkov:skip=CKV_AWS_41:LocalStack's fixed dummy credentials ("test"), never real keys.
  access_key = var.localstack_access_key
  secret_key = var.localstack_secret_key

  skip_credentials_validation = true
  skip_requesting_account_id  = true
  skip_metadata_api_check     = true
  s3_use_path_style           = true

  endpoints {
    cloudwatch = var.endpoint
    iam        = var.endpoint
    kinesis    = var.endpoint
    kms        = var.endpoint
    logs       = var.endpoint
    s3         = var.endpoint
    sqs        = var.endpoint
    sts        = var.endpoint
  }

  default_tags {
    tags = local.tags
  }
}

locals {
  tags = merge({
    "project"    = "streaming-fraud-features"
    "managed-by" = "terraform"
    "deployment" = var.name_prefix
  }, var.tags)
}

module "kms" {
  source = "../../modules/kms"

  name_prefix = var.name_prefix
  tags        = var.tags
}

module "storage" {
  source = "../../modules/storage"

  name_prefix = var.name_prefix
  kms_key_arn = module.kms.key_arn
  tags        = var.tags
}

module "streams" {
  source = "../../modules/streams"

  name_prefix = var.name_prefix
  mode        = "PROVISIONED"
  shard_count = var.shard_count
  kms_key_arn = module.kms.key_arn
  tags        = var.tags
}

# Only the dead-letter queue and the log groups: LocalStack cannot run the functions.
module "functions" {
  source = "../../modules/functions"

  name_prefix      = var.name_prefix
  create_functions = false
  kms_key_arn      = module.kms.key_arn
  tags             = var.tags
}

# The deployment artifacts, uploaded by Terraform under content-addressed keys as envs/aws does:
# the model, the Flink zip and the batch job's zip when they exist. Nothing on
# LocalStack runs them (no SageMaker, Managed Flink or EMR Serverless in its free edition); the
# uploads and their keys are what this root rehearses.
module "artifacts" {
  source = "../../modules/artifacts"

  bucket = module.storage.bucket_names["artifacts"]
  files = {
    model     = coalesce(var.model_path, "${local.repo_root}/data/model/model.tar.gz")
    flink-app = coalesce(var.flink_zip_path, "${local.repo_root}/build/flink-app.zip")
    batch-job = coalesce(var.batch_job_zip_path, "${local.repo_root}/build/emr/batch-job.zip")
  }
  kms_key_arn = module.kms.key_arn
  tags        = var.tags
}

locals {
  repo_root = "${path.module}/../../.."
  # Feature group names as the local Feature Store serves them (profiles.localstack: "<prefix>-<group>").
  feature_groups = { for name in ["cc-agg-fg", "cc-agg-batch-fg"] : name => "${var.name_prefix}-${name}" }
}
