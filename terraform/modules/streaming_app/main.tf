# The streaming aggregation app on Managed Service for Apache Flink (runtime FLINK-1_20): a
# PyFlink job read from the artifacts bucket, reading the transactions stream and writing the
# aggregates and late-records streams, with checkpoints, snapshots and CloudWatch logging.

data "aws_partition" "current" {}
data "aws_region" "current" {}

locals {
  tags       = merge({ "module" = "streaming_app" }, var.tags)
  name       = "${var.name_prefix}-aggregation"
  partition  = data.aws_partition.current.partition
  bucket_arn = "arn:${local.partition}:s3:::${var.code_bucket}"
  # The account id comes from the log group's ARN: no STS call, so plans work offline.
  account_id = split(":", aws_cloudwatch_log_group.this.arn)[4]
}

resource "aws_cloudwatch_log_group" "this" {
  #checkov:skip=CKV_AWS_338:Retention is the log_retention_days variable (30 days by default keeps a demo cheap); raise it for production.
  name              = "/aws/kinesis-analytics/${local.name}"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn
  tags              = local.tags
}

resource "aws_cloudwatch_log_stream" "this" {
  name           = "application"
  log_group_name = aws_cloudwatch_log_group.this.name
}

data "aws_iam_policy_document" "assume" {
  statement {
    sid     = "FlinkServiceAssumesRole"
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["kinesisanalytics.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "this" {
  name_prefix        = "${var.name_prefix}-flink-"
  description        = "Service execution role of the ${local.name} Flink application"
  assume_role_policy = data.aws_iam_policy_document.assume.json
  tags               = local.tags
}

data "aws_iam_policy_document" "this" {
  statement {
    sid       = "ReadApplicationCode"
    actions   = ["s3:GetObject", "s3:GetObjectVersion"]
    resources = ["${local.bucket_arn}/${var.code_key}"]
  }

  statement {
    sid = "ReadTransactions"
    actions = [
      "kinesis:DescribeStream", "kinesis:DescribeStreamSummary", "kinesis:DescribeStreamConsumer",
      "kinesis:GetRecords", "kinesis:GetShardIterator", "kinesis:ListShards",
    ]
    resources = [var.input_stream_arn]
  }

  statement {
    sid       = "WriteAggregatesAndLateRecords"
    actions   = ["kinesis:DescribeStream", "kinesis:DescribeStreamSummary", "kinesis:ListShards", "kinesis:PutRecord", "kinesis:PutRecords"]
    resources = [var.output_stream_arn, var.late_stream_arn]
  }

  statement {
    sid       = "UseDeploymentKey"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey"]
    resources = [var.kms_key_arn]
  }

  statement {
    sid       = "WriteApplicationLogs"
    actions   = ["logs:DescribeLogStreams", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.this.arn}:*"]
  }

  statement {
    sid       = "FindApplicationLogGroup"
    actions   = ["logs:DescribeLogGroups"]
    resources = ["arn:${local.partition}:logs:${data.aws_region.current.name}:${local.account_id}:log-group:*"]
  }
}

resource "aws_iam_role_policy" "this" {
  name   = "flink-least-privilege"
  role   = aws_iam_role.this.id
  policy = data.aws_iam_policy_document.this.json
}

resource "aws_kinesisanalyticsv2_application" "this" {
  name                   = local.name
  description            = "Per-card sliding-window aggregation (Flink SQL) from the feature definition"
  runtime_environment    = "FLINK-1_20"
  service_execution_role = aws_iam_role.this.arn
  start_application      = var.start_application

  application_configuration {
    application_code_configuration {
      code_content_type = "ZIPFILE"
      code_content {
        s3_content_location {
          bucket_arn = local.bucket_arn
          file_key   = var.code_key
        }
      }
    }

    environment_properties {
      property_group {
        property_group_id = "kinesis.analytics.flink.run.options"
        property_map = {
          python  = var.python_main
          jarfile = var.jarfile
        }
      }

      property_group {
        property_group_id = "FlinkApplicationProperties"
        property_map = merge(
          {
            "input.stream.arn"     = var.input_stream_arn
            "output.stream.arn"    = var.output_stream_arn
            "late.stream.arn"      = var.late_stream_arn
            "aws.region"           = data.aws_region.current.name
            "source.init.position" = var.starting_position
          },
          var.starting_timestamp == null ? {} : { "source.init.timestamp" = var.starting_timestamp },
          var.extra_properties,
        )
      }
    }

    flink_application_configuration {
      checkpoint_configuration {
        configuration_type            = "CUSTOM"
        checkpointing_enabled         = true
        checkpoint_interval           = var.checkpoint_interval_ms
        min_pause_between_checkpoints = var.min_pause_between_checkpoints_ms
      }

      monitoring_configuration {
        configuration_type = "CUSTOM"
        log_level          = var.log_level
        metrics_level      = "APPLICATION"
      }

      parallelism_configuration {
        configuration_type   = "CUSTOM"
        auto_scaling_enabled = var.autoscaling
        parallelism          = var.parallelism
        parallelism_per_kpu  = var.parallelism_per_kpu
      }
    }

    application_snapshot_configuration {
      snapshots_enabled = true
    }

    run_configuration {
      # Applied on every start: the first one (no snapshot yet) and the restart that an update
      # of code_key (a new content-addressed key) triggers on a running application.
      application_restore_configuration {
        application_restore_type = var.restore_type
      }
      flink_run_configuration {
        allow_non_restored_state = false
      }
    }
  }

  cloudwatch_logging_options {
    log_stream_arn = aws_cloudwatch_log_stream.this.arn
  }

  tags = local.tags

  depends_on = [aws_iam_role_policy.this]
}
