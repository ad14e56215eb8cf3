# Deployment artifacts (model.tar.gz, the Flink zip, the batch job's code) uploaded by Terraform
# under content-addressed keys: a changed file gets a new key, so every resource that reads it
# (the endpoint's model, the Flink application) sees a new argument on the next apply and is
# updated; an unchanged file is never re-uploaded.

locals {
  # Missing files (a destroy, or a root that skips one) hash to "absent" instead of failing the plan.
  digests = { for name, path in var.files : name => try(filemd5(path), "absent") }
  keys    = { for name, path in var.files : name => "${var.prefix}${name}/${local.digests[name]}/${basename(path)}" }
}

resource "aws_s3_object" "this" {
  for_each = { for name, path in var.files : name => path if local.digests[name] != "absent" }

  bucket      = var.bucket
  key         = local.keys[each.key]
  source      = each.value
  source_hash = local.digests[each.key]

  server_side_encryption = "aws:kms"
  kms_key_id             = var.kms_key_arn
  tags                   = var.tags
}
