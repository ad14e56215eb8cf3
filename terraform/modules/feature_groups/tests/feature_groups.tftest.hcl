mock_provider "aws" {
  mock_data "aws_partition" {
    defaults = {
      partition = "aws"
    }
  }
  mock_data "aws_region" {
    defaults = {
      name = "us-east-1"
    }
  }
  mock_data "aws_iam_policy_document" {
    defaults = {
      json = "{\"Version\":\"2012-10-17\",\"Statement\":[]}"
    }
  }
}

variables {
  name_prefix          = "unit"
  definitions_dir      = "../../../features/rendered/feature_groups"
  offline_store_bucket = "unit-offline-store"
  kms_key_arn          = "arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555"
}

run "groups_from_definition" {
  command = plan

  assert {
    condition     = toset(keys(aws_sagemaker_feature_group.this)) == toset(["cc-agg-fg", "cc-agg-batch-fg"])
    error_message = "one feature group per rendered definition"
  }
  assert {
    condition     = length(aws_sagemaker_feature_group.this["cc-agg-fg"].offline_store_config) == 0
    error_message = "cc-agg-fg is online only"
  }
  assert {
    condition     = length(aws_sagemaker_feature_group.this["cc-agg-batch-fg"].offline_store_config) == 1
    error_message = "cc-agg-batch-fg has an offline store"
  }
  assert {
    condition = alltrue([for g in aws_sagemaker_feature_group.this :
    g.online_store_config[0].enable_online_store && g.online_store_config[0].security_config[0].kms_key_id == var.kms_key_arn])
    error_message = "online stores must be enabled and KMS-encrypted"
  }
  assert {
    condition     = aws_sagemaker_feature_group.this["cc-agg-batch-fg"].offline_store_config[0].s3_storage_config[0].kms_key_id == var.kms_key_arn
    error_message = "the offline store must be KMS-encrypted"
  }
  assert {
    condition     = aws_sagemaker_feature_group.this["cc-agg-batch-fg"].offline_store_config[0].table_format == "Glue"
    error_message = "table_format defaults to Glue"
  }
  assert {
    condition     = aws_sagemaker_feature_group.this["cc-agg-fg"].online_store_config[0].ttl_duration[0].unit == "Days" && aws_sagemaker_feature_group.this["cc-agg-fg"].online_store_config[0].ttl_duration[0].value == 8
    error_message = "online TTL comes from online_ttl"
  }
  assert {
    condition     = aws_sagemaker_feature_group.this["cc-agg-batch-fg"].online_store_config[0].ttl_duration[0].unit == "Hours" && aws_sagemaker_feature_group.this["cc-agg-batch-fg"].online_store_config[0].ttl_duration[0].value == 30
    error_message = "cc-agg-batch-fg's TTL comes from online_ttl_by_group: a day and a grace"
  }
  assert {
    condition     = aws_sagemaker_feature_group.this["cc-agg-fg"].feature_group_name == "unit-cc-agg-fg"
    error_message = "feature groups are named <name_prefix>-<definition name>"
  }
}

run "iceberg_and_no_ttl" {
  command = plan
  variables {
    table_format = "Iceberg"
    online_ttl   = null
  }
  assert {
    condition     = aws_sagemaker_feature_group.this["cc-agg-batch-fg"].offline_store_config[0].table_format == "Iceberg"
    error_message = "table_format is passed through"
  }
  assert {
    condition     = length(aws_sagemaker_feature_group.this["cc-agg-fg"].online_store_config[0].ttl_duration) == 0
    error_message = "online_ttl = null sets no TTL"
  }
}

run "rejects_delta_tables" {
  command = plan
  variables {
    table_format = "Delta"
  }
  expect_failures = [var.table_format]
}

run "rejects_bad_ttl_unit" {
  command = plan
  variables {
    online_ttl = { unit = "Months", value = 1 }
  }
  expect_failures = [var.online_ttl]
}

run "rejects_missing_definitions" {
  command = plan
  variables {
    definitions_dir = "."
  }
  expect_failures = [var.definitions_dir]
}
