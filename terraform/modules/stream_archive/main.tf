# A stream archive: an Amazon Data Firehose stream that reads one Kinesis stream and delivers every
# record to S3 under <prefix>dt=YYYY-MM-DD/, one JSON object per line in GZIP objects named
# *.json.gz, SSE-KMS with the deployment's key. Failed deliveries land under the error prefix,
# partitioned the same way, and are logged to an encrypted log group. envs/aws archives the
# predictions stream (the daily consistency run reads it) and the transactions stream (the daily
# refresh reads it as its live history), one instance each.

data "aws_partition" "current" {}

locals {
  tags = merge({ "module" = "stream_archive", "archive" = var.name }, var.tags)

  # Region and account come from the key's ARN: no STS call, so plans work offline.
  partition  = data.aws_partition.current.partition
  region     = split(":", var.kms_key_arn)[3]
  account_id = split(":", var.kms_key_arn)[4]

  name            = "${var.name_prefix}-${var.name}-archive"
  stream_arn      = "arn:${local.partition}:firehose:${local.region}:${local.account_id}:deliverystream/${local.name}"
  bucket_arn      = "arn:${local.partition}:s3:::${var.bucket}"
  log_group_name  = "/aws/kinesisfirehose/${local.name}"
  log_stream_name = "DestinationDelivery"

  # Day partitions from the records' approximate arrival time, in UTC
  # (https://docs.aws.amazon.com/firehose/latest/dev/s3-prefixes.html#timestamp-namespace); the
  # error prefix must be set once the prefix holds an expression, and says why a record failed.
  prefix              = "${var.prefix}dt=!{timestamp:yyyy-MM-dd}/"
  error_output_prefix = "${var.error_prefix}!{firehose:error-output-type}/dt=!{timestamp:yyyy-MM-dd}/"

  # Object names end <uuid><file extension>; FileExtension overrides the default (.gz for GZIP)
  # (https://docs.aws.amazon.com/firehose/latest/dev/s3-object-name.html,
  # https://docs.aws.amazon.com/firehose/latest/APIReference/API_ExtendedS3DestinationConfiguration.html),
  # so Spark and DuckDB tell JSON lines and their compression from the name alone.
  file_extension = ".json.gz"

  # Least privilege of the role Firehose assumes, after "Grant Firehose access to an Amazon S3
  # destination" and "... when a Kinesis data stream is the source"
  # (https://docs.aws.amazon.com/firehose/latest/dev/controlling-access.html). A consumer of an
  # SSE-KMS stream decrypts with the stream's ARN as encryption context
  # (https://docs.aws.amazon.com/streams/latest/dev/permissions-user-key-KMS.html).
  statements = [
    {
      sid        = "ReadSourceStream"
      actions    = ["kinesis:DescribeStream", "kinesis:GetShardIterator", "kinesis:GetRecords", "kinesis:ListShards"]
      resources  = [var.source_stream_arn]
      conditions = []
    },
    {
      # The stream is SSE-KMS with the deployment's key: reading it decrypts through Kinesis only.
      sid       = "DecryptSourceStream"
      actions   = ["kms:Decrypt"]
      resources = [var.kms_key_arn]
      conditions = [
        { test = "StringEquals", variable = "kms:ViaService", values = ["kinesis.${local.region}.amazonaws.com"] },
        { test = "StringEquals", variable = "kms:EncryptionContext:aws:kinesis:arn", values = [var.source_stream_arn] },
      ]
    },
    {
      sid        = "FindArchiveBucket"
      actions    = ["s3:GetBucketLocation", "s3:ListBucketMultipartUploads"]
      resources  = [local.bucket_arn]
      conditions = []
    },
    {
      sid        = "ListArchive"
      actions    = ["s3:ListBucket"]
      resources  = [local.bucket_arn]
      conditions = [{ test = "StringLike", variable = "s3:prefix", values = ["${var.prefix}*", "${var.error_prefix}*"] }]
    },
    {
      sid        = "WriteArchive"
      actions    = ["s3:PutObject", "s3:GetObject", "s3:AbortMultipartUpload"]
      resources  = ["${local.bucket_arn}/${var.prefix}*", "${local.bucket_arn}/${var.error_prefix}*"]
      conditions = []
    },
    {
      # SSE-KMS of the delivered objects, through S3 only. With S3 Bucket Keys (module storage)
      # the encryption context is the bucket's ARN, otherwise the object's.
      sid       = "EncryptArchive"
      actions   = ["kms:GenerateDataKey", "kms:Decrypt"]
      resources = [var.kms_key_arn]
      conditions = [
        { test = "StringEquals", variable = "kms:ViaService", values = ["s3.${local.region}.amazonaws.com"] },
        { test = "StringLike", variable = "kms:EncryptionContext:aws:s3:arn", values = [local.bucket_arn, "${local.bucket_arn}/${var.prefix}*", "${local.bucket_arn}/${var.error_prefix}*"] },
      ]
    },
    {
      sid        = "LogDeliveryErrors"
      actions    = ["logs:PutLogEvents"]
      resources  = ["${aws_cloudwatch_log_group.this.arn}:log-stream:${local.log_stream_name}"]
      conditions = []
    },
  ]
}

resource "aws_cloudwatch_log_group" "this" {
  #checkov:skip=CKV_AWS_338:Retention is the log_retention_days variable (30 days by default keeps a demo cheap); raise it for production.
  name              = local.log_group_name
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn
  tags              = local.tags
}

resource "aws_cloudwatch_log_stream" "this" {
  name           = local.log_stream_name
  log_group_name = aws_cloudwatch_log_group.this.name
}

resource "aws_iam_role" "this" {
  # IAM appends 26 characters to a name_prefix and a role name holds 64: the prefix is at most 38
  # (20 + 1 + 4 + 9 here). Four letters of the name keep the predictions archive's role name of
  # earlier releases (<name_prefix>-pred-archive-): no role replaced on upgrade.
  name_prefix        = "${var.name_prefix}-${substr(var.name, 0, 4)}-archive-"
  description        = "Role Amazon Data Firehose assumes to archive the ${var.name_prefix} ${var.name} stream to S3"
  assume_role_policy = data.aws_iam_policy_document.trust.json
  tags               = local.tags
}

resource "aws_iam_role_policy" "this" {
  name   = "archive-${var.name}-least-privilege"
  role   = aws_iam_role.this.id
  policy = data.aws_iam_policy_document.this.json
}

data "aws_iam_policy_document" "this" {
  dynamic "statement" {
    for_each = local.statements
    content {
      sid       = statement.value.sid
      actions   = statement.value.actions
      resources = statement.value.resources
      dynamic "condition" {
        for_each = statement.value.conditions
        content {
          test     = condition.value.test
          variable = condition.value.variable
          values   = condition.value.values
        }
      }
    }
  }
}

# Only this account's delivery stream of this name may assume the role (confused deputy:
# https://docs.aws.amazon.com/IAM/latest/UserGuide/confused-deputy.html).
data "aws_iam_policy_document" "trust" {
  statement {
    sid     = "FirehoseArchivesStream"
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["firehose.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
    condition {
      test     = "ArnLike"
      variable = "aws:SourceArn"
      values   = [local.stream_arn]
    }
  }
}

resource "aws_kinesis_firehose_delivery_stream" "this" {
  name        = local.name
  destination = "extended_s3"

  # A Kinesis source keeps its own encryption at rest (the stream's SSE-KMS): Firehose's
  # DeliveryStreamEncryptionConfiguration applies to Direct PUT streams only.
  kinesis_source_configuration {
    kinesis_stream_arn = var.source_stream_arn
    role_arn           = aws_iam_role.this.arn
  }

  extended_s3_configuration {
    role_arn            = aws_iam_role.this.arn
    bucket_arn          = local.bucket_arn
    prefix              = local.prefix
    error_output_prefix = local.error_output_prefix
    compression_format  = "GZIP"
    file_extension      = local.file_extension
    kms_key_arn         = var.kms_key_arn
    buffering_size      = var.buffering_size_mb
    buffering_interval  = var.buffering_interval_seconds

    # Records are single JSON objects without a trailing newline: one per line in the objects.
    processing_configuration {
      enabled = true
      processors {
        type = "AppendDelimiterToRecord"
      }
    }

    cloudwatch_logging_options {
      enabled         = true
      log_group_name  = aws_cloudwatch_log_group.this.name
      log_stream_name = aws_cloudwatch_log_stream.this.name
    }
  }

  tags = local.tags

  # The role's policy must exist before Firehose checks it can read the stream.
  depends_on = [aws_iam_role_policy.this]
}
