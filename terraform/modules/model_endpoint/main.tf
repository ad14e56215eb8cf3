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

data "aws_iam_policy_document" "this" {
  statement {
    sid       = "ReadModelArtifact"
    actions   = ["s3:GetObject"]
    resources = [local.model_arn]
  }

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
  execution_role_arn       = aws_iam_role.this.arn
  enable_network_isolation = true

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
  }
}

resource "aws_sagemaker_endpoint" "this" {
  name                 = var.endpoint_name
  endpoint_config_name = aws_sagemaker_endpoint_configuration.this.name
  tags                 = local.tags
}
