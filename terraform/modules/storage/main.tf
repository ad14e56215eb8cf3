# S3 buckets of the deployment (data, artifacts, offline feature store): SSE-KMS with the given
# key, public access blocked, bucket-owner ownership, versioning, lifecycle, TLS-only policy.

data "aws_partition" "current" {}

locals {
  tags = merge({ "module" = "storage" }, var.tags)
}

resource "aws_s3_bucket" "this" {
  #checkov:skip=CKV_AWS_18:Server access logs need an SSE-S3 target bucket, which breaks the all-KMS rule; use CloudTrail S3 data events for audit.
  #checkov:skip=CKV_AWS_144:Cross-region replication doubles storage cost; the data is reproducible from the generator and the batch job.
  #checkov:skip=CKV2_AWS_62:Nothing consumes bucket events in this design.
  for_each = toset(var.bucket_names)

  bucket_prefix = "${var.name_prefix}-${each.key}-"
  force_destroy = var.force_destroy
  tags          = merge(local.tags, { "bucket" = each.key })
}

resource "aws_s3_bucket_ownership_controls" "this" {
  for_each = toset(var.bucket_names)

  bucket = aws_s3_bucket.this[each.key].id
  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_public_access_block" "this" {
  for_each = toset(var.bucket_names)

  bucket                  = aws_s3_bucket.this[each.key].id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_versioning" "this" {
  for_each = toset(var.bucket_names)

  bucket = aws_s3_bucket.this[each.key].id
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "this" {
  for_each = toset(var.bucket_names)

  bucket = aws_s3_bucket.this[each.key].id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = "aws:kms"
      kms_master_key_id = var.kms_key_arn
    }
    bucket_key_enabled = true
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "this" {
  for_each = toset(var.bucket_names)

  bucket = aws_s3_bucket.this[each.key].id

  rule {
    id     = "expire-old-versions"
    status = "Enabled"
    filter {}

    noncurrent_version_expiration {
      noncurrent_days = var.noncurrent_version_expiration_days
    }
    abort_incomplete_multipart_upload {
      days_after_initiation = 7
    }
  }

  # Data kept for a bounded time (the predictions archive: card numbers and feature vectors);
  # an expired object becomes a noncurrent version, removed by the rule above.
  dynamic "rule" {
    for_each = { for e in var.expirations : e.prefix => e if e.bucket == each.key }
    content {
      id     = "expire-${trimsuffix(replace(rule.key, "/", "-"), "-")}"
      status = "Enabled"
      filter {
        prefix = rule.key
      }
      expiration {
        days = rule.value.days
      }
    }
  }

  depends_on = [aws_s3_bucket_versioning.this]
}

data "aws_iam_policy_document" "tls_only" {
  for_each = toset(var.bucket_names)

  statement {
    sid    = "DenyInsecureTransport"
    effect = "Deny"
    # A deny, so the broad action list restricts rather than grants.
    actions   = ["s3:*"]
    resources = [aws_s3_bucket.this[each.key].arn, "${aws_s3_bucket.this[each.key].arn}/*"]
    principals {
      type        = "AWS"
      identifiers = ["*"]
    }
    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_s3_bucket_policy" "this" {
  for_each = toset(var.bucket_names)

  bucket = aws_s3_bucket.this[each.key].id
  policy = data.aws_iam_policy_document.tls_only[each.key].json

  depends_on = [aws_s3_bucket_public_access_block.this]
}
