# SageMaker Feature Store feature groups, one per JSON definition rendered from
# features/definition.py (features/rendered/feature_groups/*.json): names, record identifier,
# event time, features and online/offline flags all come from the files, never retyped here.

data "aws_partition" "current" {}
data "aws_region" "current" {}

locals {
  tags = merge({ "module" = "feature_groups" }, var.tags)

  definitions = {
    for f in fileset(var.definitions_dir, "*.json") :
    jsondecode(file("${var.definitions_dir}/${f}")).feature_group_name => jsondecode(file("${var.definitions_dir}/${f}"))
  }
  offline_groups = { for k, d in local.definitions : k => d if d.offline_store }

  partition     = data.aws_partition.current.partition
  region        = data.aws_region.current.name
  database_name = "${replace(var.name_prefix, "-", "_")}_feature_store"
  # The account id comes from the database's ARN: no STS call, so plans work offline.
  account_id   = split(":", aws_glue_catalog_database.this.arn)[4]
  s3_uri       = "s3://${var.offline_store_bucket}/${var.offline_store_prefix}"
  bucket_arn   = "arn:${local.partition}:s3:::${var.offline_store_bucket}"
  glue_catalog = "arn:${local.partition}:glue:${local.region}:${local.account_id}:catalog"
}

resource "aws_glue_catalog_database" "this" {
  name        = local.database_name
  description = "Offline-store tables of the ${var.name_prefix} feature groups"
  tags        = local.tags
}

resource "aws_sagemaker_feature_group" "this" {
  for_each = local.definitions

  feature_group_name             = "${var.name_prefix}-${each.key}"
  description                    = substr(each.value.description, 0, 128)
  record_identifier_feature_name = each.value.record_identifier_feature_name
  event_time_feature_name        = each.value.event_time_feature_name
  role_arn                       = aws_iam_role.this.arn

  dynamic "feature_definition" {
    for_each = each.value.features
    content {
      feature_name = feature_definition.value.name
      feature_type = feature_definition.value.type
    }
  }

  dynamic "online_store_config" {
    for_each = each.value.online_store ? [1] : []
    content {
      enable_online_store = true
      storage_type        = "Standard"

      security_config {
        kms_key_id = var.kms_key_arn
      }

      dynamic "ttl_duration" {
        for_each = [for ttl in [lookup(var.online_ttl_by_group, each.key, var.online_ttl)] : ttl if ttl != null]
        content {
          unit  = ttl_duration.value.unit
          value = ttl_duration.value.value
        }
      }
    }
  }

  dynamic "offline_store_config" {
    for_each = each.value.offline_store ? [1] : []
    content {
      # CreateFeatureGroup: with DisableGlueTableCreation = false and a DataCatalogConfig, Feature
      # Store creates the table under the given names; Iceberg needs it false. (Before 2023 the API
      # refused the pair; the current OfflineStoreConfig reference documents it.)
      # https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_OfflineStoreConfig.html
      disable_glue_table_creation = false
      table_format                = var.table_format

      s3_storage_config {
        s3_uri     = local.s3_uri
        kms_key_id = var.kms_key_arn
      }

      data_catalog_config {
        catalog    = "AwsDataCatalog"
        database   = aws_glue_catalog_database.this.name
        table_name = replace("${var.name_prefix}-${each.key}", "-", "_")
      }
    }
  }

  tags = merge(local.tags, { "feature-group" = each.key })

  depends_on = [aws_iam_role_policy.this]
}

# The role Feature Store assumes to write the offline store (S3 objects and the Glue table).
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
  name_prefix        = "${var.name_prefix}-fs-"
  description        = "Feature Store offline-store writer for ${var.name_prefix}"
  assume_role_policy = data.aws_iam_policy_document.assume.json
  tags               = local.tags
}

data "aws_iam_policy_document" "offline_store" {
  statement {
    sid       = "WriteOfflineStoreObjects"
    actions   = ["s3:PutObject", "s3:GetObject", "s3:DeleteObject", "s3:PutObjectAcl"]
    resources = ["${local.bucket_arn}/${var.offline_store_prefix}*"]
  }

  statement {
    sid       = "ReadOfflineStoreBucket"
    actions   = ["s3:GetBucketAcl", "s3:GetBucketLocation", "s3:ListBucket"]
    resources = [local.bucket_arn]
  }

  statement {
    sid     = "MaintainOfflineStoreTables"
    actions = ["glue:GetDatabase", "glue:GetTable", "glue:CreateTable", "glue:UpdateTable"]
    resources = [
      local.glue_catalog,
      aws_glue_catalog_database.this.arn,
      "arn:${local.partition}:glue:${local.region}:${local.account_id}:table/${local.database_name}/*",
    ]
  }

  statement {
    sid       = "UseDeploymentKey"
    actions   = ["kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey", "kms:CreateGrant"]
    resources = [var.kms_key_arn]
  }
}

resource "aws_iam_role_policy" "this" {
  name   = "offline-store"
  role   = aws_iam_role.this.id
  policy = data.aws_iam_policy_document.offline_store.json
}
