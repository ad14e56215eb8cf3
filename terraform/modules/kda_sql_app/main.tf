# The legacy Kinesis Data Analytics (SQL) application of the seed design, generated from the
# feature definition: the SQL (features/rendered/kda.sql) and the JSON input schema of the
# transactions stream (features/rendered/kda_input_schema.json) are rendered by
# features/kda_sql.py. AWS has accepted no new KDA SQL applications since 2025-10-15.

locals {
  tags   = merge({ "module" = "kda_sql_app" }, var.tags)
  name   = "${var.name_prefix}-aggregation-sql"
  schema = jsondecode(file(var.input_schema_path))
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
    sid     = "KinesisAnalyticsAssumesRole"
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["kinesisanalytics.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "this" {
  name_prefix        = "${var.name_prefix}-kda-"
  description        = "Role of the ${local.name} KDA SQL application"
  assume_role_policy = data.aws_iam_policy_document.assume.json
  tags               = local.tags
}

data "aws_iam_policy_document" "this" {
  statement {
    sid       = "ReadTransactions"
    actions   = ["kinesis:DescribeStream", "kinesis:DescribeStreamSummary", "kinesis:GetRecords", "kinesis:GetShardIterator", "kinesis:ListShards"]
    resources = [var.input_stream_arn]
  }

  statement {
    sid       = "WriteAggregates"
    actions   = ["kinesis:DescribeStream", "kinesis:PutRecord", "kinesis:PutRecords"]
    resources = [var.output_stream_arn]
  }

  statement {
    sid       = "UseDeploymentKey"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey"]
    resources = [var.kms_key_arn]
  }

  statement {
    sid       = "WriteApplicationLogs"
    actions   = ["logs:PutLogEvents", "logs:DescribeLogStreams"]
    resources = ["${aws_cloudwatch_log_group.this.arn}:*"]
  }
}

resource "aws_iam_role_policy" "this" {
  name   = "kda-least-privilege"
  role   = aws_iam_role.this.id
  policy = data.aws_iam_policy_document.this.json
}

resource "aws_kinesis_analytics_application" "this" {
  name              = local.name
  description       = "Per-card sliding-window aggregation (KDA SQL) from the feature definition"
  code              = file(var.sql_path)
  start_application = var.start_application

  inputs {
    name_prefix = local.schema.input_name_prefix

    kinesis_stream {
      resource_arn = var.input_stream_arn
      role_arn     = aws_iam_role.this.arn
    }

    parallelism {
      count = var.input_parallelism
    }

    schema {
      record_encoding = local.schema.record_encoding

      dynamic "record_columns" {
        for_each = local.schema.columns
        content {
          name     = record_columns.value.name
          sql_type = record_columns.value.sql_type
          mapping  = record_columns.value.mapping
        }
      }

      record_format {
        mapping_parameters {
          json {
            record_row_path = local.schema.record_row_path
          }
        }
      }
    }

    starting_position_configuration {
      starting_position = var.starting_position
    }
  }

  outputs {
    name = local.schema.output_stream

    kinesis_stream {
      resource_arn = var.output_stream_arn
      role_arn     = aws_iam_role.this.arn
    }

    schema {
      record_format_type = "JSON"
    }
  }

  cloudwatch_logging_options {
    log_stream_arn = aws_cloudwatch_log_stream.this.arn
    role_arn       = aws_iam_role.this.arn
  }

  tags = local.tags

  depends_on = [aws_iam_role_policy.this]
}
