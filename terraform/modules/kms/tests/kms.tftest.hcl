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
}

run "key_rotates" {
  command = plan

  assert {
    condition     = aws_kms_key.this.enable_key_rotation == true
    error_message = "the key must rotate"
  }
  assert {
    condition     = aws_kms_alias.this.name == "alias/unit"
    error_message = "alias must be alias/<name_prefix>"
  }
}

run "rejects_short_rotation" {
  command = plan
  variables {
    rotation_period_in_days = 30
  }
  expect_failures = [var.rotation_period_in_days]
}

run "rejects_bad_prefix" {
  command = plan
  variables {
    name_prefix = "Bad_Prefix"
  }
  expect_failures = [var.name_prefix]
}
