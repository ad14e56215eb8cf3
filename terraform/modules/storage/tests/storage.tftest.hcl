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
  name_prefix = "unit"
  kms_key_arn = "arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555"
}

run "buckets_locked_down" {
  command = plan

  assert {
    condition     = toset(keys(aws_s3_bucket.this)) == toset(["data", "artifacts", "offline-store"])
    error_message = "data, artifacts and offline-store buckets expected"
  }
  assert {
    condition = alltrue([for e in aws_s3_bucket_server_side_encryption_configuration.this :
    one(e.rule).apply_server_side_encryption_by_default[0].sse_algorithm == "aws:kms" && one(e.rule).apply_server_side_encryption_by_default[0].kms_master_key_id == var.kms_key_arn])
    error_message = "every bucket must default to SSE-KMS with the given key"
  }
  assert {
    condition = alltrue([for b in aws_s3_bucket_public_access_block.this :
    b.block_public_acls && b.block_public_policy && b.ignore_public_acls && b.restrict_public_buckets])
    error_message = "public access must be blocked on every bucket"
  }
  assert {
    condition     = alltrue([for v in aws_s3_bucket_versioning.this : v.versioning_configuration[0].status == "Enabled"])
    error_message = "versioning must be enabled"
  }
  assert {
    condition     = alltrue([for o in aws_s3_bucket_ownership_controls.this : o.rule[0].object_ownership == "BucketOwnerEnforced"])
    error_message = "ACLs must be disabled (BucketOwnerEnforced)"
  }
  assert {
    condition     = length(aws_s3_bucket_lifecycle_configuration.this) == 3 && length(aws_s3_bucket_policy.this) == 3
    error_message = "every bucket needs a lifecycle configuration and the TLS-only policy"
  }
}

run "rejects_bad_bucket_name" {
  command = plan
  variables {
    bucket_names = ["Data_Bucket"]
  }
  expect_failures = [var.bucket_names]
}

run "expires_a_prefix" {
  command = plan

  variables {
    expirations = [{ bucket = "data", prefix = "predictions/", days = 7 }]
  }

  assert {
    condition = ([for r in aws_s3_bucket_lifecycle_configuration.this["data"].rule : r.expiration[0].days if r.id == "expire-predictions"] == [7] &&
      [for r in aws_s3_bucket_lifecycle_configuration.this["data"].rule : r.filter[0].prefix if r.id == "expire-predictions"] == ["predictions/"] &&
    length(aws_s3_bucket_lifecycle_configuration.this["artifacts"].rule) == 1)
    error_message = "predictions/ of the data bucket expires after 7 days; other buckets keep only the version rule"
  }
}

run "rejects_an_expiration_of_an_unknown_bucket" {
  command = plan

  variables {
    expirations = [{ bucket = "nowhere", prefix = "predictions/", days = 7 }]
  }

  expect_failures = [var.expirations]
}
