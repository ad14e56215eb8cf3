# The fraud model behind a SageMaker endpoint: the region's prebuilt XGBoost image (looked up,
# never a hard-coded account), the model artifact from S3, a serverless or instance-backed
# endpoint configuration, and an execution role limited to this model's object and image.

data "aws_partition" "current" {}
data "aws_region" "current" {}

data "aws_sagemaker_prebuilt_ecr_image" "xgboost" {
  repository_name = "sagemaker-xgboost"
  image_tag       = var.xgboost_image_tag
}

locals {
  tags       = merge({ "module" = "model_endpoint" }, var.tags)
  partition  = data.aws_partition.current.partition
  region     = data.aws_region.current.name
  serverless = var.endpoint_type == "serverless"
  # Instance types with local NVMe storage reject a volume KMS key (it is hardware-encrypted).
  local_storage = !local.serverless && can(regex("^ml\\.[a-z]+[0-9]+[a-z]*d[a-z]*\\.", var.instance_type))
  model_arn     = "arn:${local.partition}:s3:::${var.model_data_bucket}/${var.model_data_key}"
  # The image lives in an AWS-owned registry account: its id is the first label of the host name.
  image_account = split(".", data.aws_sagemaker_prebuilt_ecr_image.xgboost.registry_path)[0]
  account_id    = split(":", aws_cloudwatch_log_group.this.arn)[4]
}

resource "aws_cloudwatch_log_group" "this" {
  #checkov:skip=CKV_AWS_338:Retention is the log_retention_days variable (30 days by default keeps a demo cheap); raise it for production.
  name              = "/aws/sagemaker/Endpoints/${var.endpoint_name}"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn
  tags              = local.tags
}

data "aws_iam_policy_document" "assume" {
  statement {
    sid     = "SageMakerAssumesRole"
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["sagemaker.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "this" {
  name_prefix        = "${var.name_prefix}-model-"
  description        = "Execution role of the ${var.endpoint_name} model"
  assume_role_policy = data.aws_iam_policy_document.assume.json
  tags               = local.tags
}

# What the XGBoost container needs wherever it runs (the endpoint's model, a training job).
data "aws_iam_policy_document" "xgboost_container" {
  statement {
    sid       = "PullXgboostImage"
    actions   = ["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]
    resources = ["arn:${local.partition}:ecr:${local.region}:${local.image_account}:repository/sagemaker-xgboost"]
  }

  statement {
    sid       = "EcrLogin"
    actions   = ["ecr:GetAuthorizationToken"]
    resources = ["*"]
  }

  statement {
    sid       = "PublishContainerMetrics"
    actions   = ["cloudwatch:PutMetricData"]
    resources = ["*"]
    condition {
      test     = "StringLike"
      variable = "cloudwatch:namespace"
      values   = ["/aws/sagemaker/*"]
    }
  }
}

data "aws_iam_policy_document" "this" {
  source_policy_documents = [data.aws_iam_policy_document.xgboost_container.json]

  statement {
    sid       = "ReadModelArtifact"
    actions   = ["s3:GetObject"]
    resources = [local.model_arn]
  }

  statement {
    sid       = "WriteEndpointLogs"
    actions   = ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:DescribeLogStreams", "logs:PutLogEvents"]
    resources = [aws_cloudwatch_log_group.this.arn, "${aws_cloudwatch_log_group.this.arn}:*"]
  }

  statement {
    sid       = "UseDeploymentKey"
    actions   = ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:DescribeKey", "kms:CreateGrant"]
    resources = [var.kms_key_arn]
  }
}

resource "aws_iam_role_policy" "this" {
  name   = "model-least-privilege"
  role   = aws_iam_role.this.id
  policy = data.aws_iam_policy_document.this.json
}

resource "aws_sagemaker_model" "this" {
  #checkov:skip=CKV_AWS_370:Serverless Inference does not support network isolation (the default endpoint is serverless); instance-backed models keep it on.
  execution_role_arn = aws_iam_role.this.arn
  # Serverless Inference does not support network isolation (nor VPC configuration):
  # https://docs.aws.amazon.com/sagemaker/latest/dg/serverless-endpoints.html (feature exclusions).
  # Instance-backed endpoints keep the container isolated: it only reads its model from S3.
  enable_network_isolation = !local.serverless

  primary_container {
    image          = data.aws_sagemaker_prebuilt_ecr_image.xgboost.registry_path
    model_data_url = "s3://${var.model_data_bucket}/${var.model_data_key}"
    mode           = "SingleModel"
  }

  tags = local.tags

  lifecycle {
    create_before_destroy = true
  }

  depends_on = [aws_iam_role_policy.this]
}

resource "aws_sagemaker_endpoint_configuration" "this" {
  name_prefix = "${var.endpoint_name}-"
  kms_key_arn = local.local_storage ? null : var.kms_key_arn

  production_variants {
    variant_name           = var.variant_name
    model_name             = aws_sagemaker_model.this.name
    initial_instance_count = local.serverless ? null : var.instance_count
    instance_type          = local.serverless ? null : var.instance_type

    dynamic "serverless_config" {
      for_each = local.serverless ? [1] : []
      content {
        memory_size_in_mb = var.serverless_memory_mb
        max_concurrency   = var.serverless_max_concurrency
      }
    }
  }

  tags = local.tags

  lifecycle {
    create_before_destroy = true

    # Every concurrent caller beyond max_concurrency is throttled; the score function's
    # throttled InvokeEndpoint fails its batch, which is retried and then dead-lettered.
    precondition {
      condition     = !local.serverless || var.expected_concurrency == null || var.serverless_max_concurrency >= coalesce(var.expected_concurrency, 0)
      error_message = "serverless_max_concurrency (${var.serverless_max_concurrency}) is below the callers' possible concurrency (${coalesce(var.expected_concurrency, 0)}: shards x parallelization factor of the score function); raise it or lower the callers'."
    }
  }
}

resource "aws_sagemaker_endpoint" "this" {
  name                 = var.endpoint_name
  endpoint_config_name = aws_sagemaker_endpoint_configuration.this.name
  tags                 = local.tags
}

# --- optional training execution role ------------------------------------------------------------
# The role jobs/training/sagemaker_launch.py passes to CreateTrainingJob: read the training
# channels under the data bucket's features prefix, write the model under the artifacts bucket's
# models prefix, pull the same XGBoost image, write the job's logs and metrics, use the key.
# What a training job's role needs:
# https://docs.aws.amazon.com/sagemaker/latest/dg/sagemaker-roles.html#sagemaker-roles-createtrainingjob-perms

locals {
  training        = var.create_training_role ? { role = true } : {}
  data_bucket_arn = "arn:${local.partition}:s3:::${coalesce(var.training_data_bucket, var.model_data_bucket)}"
  output_bucket   = "arn:${local.partition}:s3:::${var.model_data_bucket}"
  training_logs   = "arn:${local.partition}:logs:${local.region}:${local.account_id}:log-group:/aws/sagemaker/TrainingJobs"
}

resource "aws_iam_role" "training" {
  for_each = local.training

  name_prefix        = "${var.name_prefix}-training-"
  description        = "Execution role of ${var.name_prefix} SageMaker training jobs (XGBoost)"
  assume_role_policy = data.aws_iam_policy_document.assume.json
  tags               = local.tags
}

data "aws_iam_policy_document" "training" {
  for_each = local.training

  source_policy_documents = [data.aws_iam_policy_document.xgboost_container.json]

  statement {
    sid       = "ListTrainingFeatures"
    actions   = ["s3:ListBucket"]
    resources = [local.data_bucket_arn]
    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = ["${var.training_features_prefix}*"]
    }
  }

  statement {
    sid       = "ReadTrainingFeatures"
    actions   = ["s3:GetObject"]
    resources = ["${local.data_bucket_arn}/${var.training_features_prefix}*"]
  }

  statement {
    sid       = "WriteTrainedModels"
    actions   = ["s3:PutObject"]
    resources = ["${local.output_bucket}/${var.training_models_prefix}*"]
  }

  statement {
    sid       = "WriteTrainingLogs"
    actions   = ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:DescribeLogStreams", "logs:PutLogEvents"]
    resources = [local.training_logs, "${local.training_logs}:*"]
  }

  statement {
    sid       = "UseDeploymentKeyForTraining"
    actions   = ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:DescribeKey", "kms:CreateGrant"]
    resources = [var.kms_key_arn]
  }
}

resource "aws_iam_role_policy" "training" {
  for_each = local.training

  name   = "training-least-privilege"
  role   = aws_iam_role.training[each.key].id
  policy = data.aws_iam_policy_document.training[each.key].json
}
