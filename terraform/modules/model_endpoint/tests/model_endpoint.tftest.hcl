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
  mock_data "aws_sagemaker_prebuilt_ecr_image" {
    defaults = {
      registry_path = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"
    }
  }
}

variables {
  name_prefix       = "unit"
  endpoint_name     = "unit-model"
  model_data_bucket = "unit-artifacts"
  kms_key_arn       = "arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555"
}

run "serverless_by_default" {
  command = plan

  assert {
    condition     = length(aws_sagemaker_endpoint_configuration.this.production_variants[0].serverless_config) == 1
    error_message = "serverless_config expected by default"
  }
  assert {
    condition     = aws_sagemaker_endpoint_configuration.this.production_variants[0].instance_type == null
    error_message = "a serverless variant has no instance type"
  }
  assert {
    condition     = aws_sagemaker_endpoint_configuration.this.kms_key_arn == var.kms_key_arn
    error_message = "the endpoint configuration must be KMS-encrypted"
  }
  assert {
    condition     = aws_sagemaker_model.this.primary_container[0].image == data.aws_sagemaker_prebuilt_ecr_image.xgboost.registry_path
    error_message = "the model runs the region's prebuilt XGBoost image"
  }
  assert {
    condition     = aws_sagemaker_model.this.primary_container[0].model_data_url == "s3://unit-artifacts/model/model.tar.gz"
    error_message = "the model data comes from the artifacts bucket"
  }
  assert {
    condition     = aws_sagemaker_model.this.enable_network_isolation == false
    error_message = "Serverless Inference does not support network isolation"
  }
}

run "instances" {
  command = plan
  variables {
    endpoint_type  = "instances"
    instance_type  = "ml.m5.large"
    instance_count = 2
  }
  assert {
    condition = (length(aws_sagemaker_endpoint_configuration.this.production_variants[0].serverless_config) == 0 &&
    aws_sagemaker_endpoint_configuration.this.production_variants[0].initial_instance_count == 2)
    error_message = "instances mode: no serverless_config, instance count set"
  }
}

run "local_nvme_instances_take_no_key" {
  command = plan
  variables {
    endpoint_type = "instances"
    instance_type = "ml.m5d.large"
  }
  assert {
    condition     = aws_sagemaker_endpoint_configuration.this.kms_key_arn == null
    error_message = "instance types with local storage reject a KMS key"
  }
}

run "rejects_unknown_endpoint_type" {
  command = plan
  variables {
    endpoint_type = "gpu"
  }
  expect_failures = [var.endpoint_type]
}

run "rejects_odd_serverless_memory" {
  command = plan
  variables {
    serverless_memory_mb = 1500
  }
  expect_failures = [var.serverless_memory_mb]
}

run "serverless_concurrency_covers_the_callers" {
  command = plan
  variables {
    serverless_max_concurrency = 5
    expected_concurrency       = 6
  }
  expect_failures = [aws_sagemaker_endpoint_configuration.this]
}

run "instances_take_any_callers" {
  command = plan
  variables {
    endpoint_type        = "instances"
    expected_concurrency = 50
  }
  assert {
    condition     = aws_sagemaker_model.this.enable_network_isolation == true
    error_message = "instance-backed models keep network isolation"
  }
}

run "training_role_off_by_default" {
  command = plan
  assert {
    condition     = length(aws_iam_role.training) == 0 && output.training_role_arn == null
    error_message = "no training role unless create_training_role"
  }
}

run "training_role" {
  command = plan
  variables {
    create_training_role = true
    training_data_bucket = "unit-data"
  }
  assert {
    condition     = length(aws_iam_role.training) == 1 && startswith(aws_iam_role.training["role"].name_prefix, "unit-training-")
    error_message = "create_training_role creates the role"
  }
}
