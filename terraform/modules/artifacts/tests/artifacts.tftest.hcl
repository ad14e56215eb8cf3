mock_provider "aws" {}

variables {
  bucket      = "unit-artifacts"
  kms_key_arn = "arn:aws:kms:us-east-1:111122223333:key/unit"
  files = {
    model = "main.tf"
    gone  = "missing/model.tar.gz"
  }
}

run "content_addressed_keys" {
  command = plan

  assert {
    condition     = aws_s3_object.this["model"].key == "artifacts/model/${filemd5("main.tf")}/main.tf"
    error_message = "the key must carry the file's digest, so a changed file gets a new key"
  }
  assert {
    condition     = aws_s3_object.this["model"].source_hash == filemd5("main.tf")
    error_message = "source_hash must be the file's digest (re-upload only when it changes)"
  }
  assert {
    condition     = aws_s3_object.this["model"].server_side_encryption == "aws:kms" && aws_s3_object.this["model"].kms_key_id == var.kms_key_arn
    error_message = "artifacts must be encrypted with the deployment's key"
  }
}

run "missing_file_is_skipped_but_keyed" {
  command = plan

  assert {
    condition     = length(aws_s3_object.this) == 1 && length(output.uploaded) == 1 && output.uploaded[0] == "model"
    error_message = "a missing file must not be uploaded (a destroy needs none of them)"
  }
  assert {
    condition     = output.keys["gone"] == "artifacts/gone/absent/model.tar.gz"
    error_message = "a missing file's key is still reported"
  }
}

run "rejects_bad_names" {
  command = plan
  variables {
    files = { "Model.tar" = "main.tf" }
  }
  expect_failures = [var.files]
}

run "rejects_prefix_without_slash" {
  command = plan
  variables {
    prefix = "artifacts"
  }
  expect_failures = [var.prefix]
}
