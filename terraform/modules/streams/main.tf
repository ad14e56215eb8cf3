# The Kinesis data streams of the pipeline, one per logical name, all encrypted with the given key.

locals {
  tags = merge({ "module" = "streams" }, var.tags)
}

resource "aws_kinesis_stream" "this" {
  for_each = toset(var.stream_names)

  name             = "${var.name_prefix}-${each.key}"
  retention_period = var.retention_hours
  shard_count      = var.mode == "PROVISIONED" ? var.shard_count : null
  encryption_type  = "KMS"
  kms_key_id       = var.kms_key_arn

  stream_mode_details {
    stream_mode = var.mode
  }

  shard_level_metrics = var.shard_level_metrics
  tags                = merge(local.tags, { "stream" = each.key })
}
