mock_provider "aws" {
  mock_data "aws_partition" {
    defaults = {
      partition = "aws"
    }
  }
  mock_data "aws_iam_policy_document" {
    defaults = {
      json = "{\"Version\":\"2012-10-17\",\"Statement\":[]}"
    }
  }
  mock_resource "aws_emrserverless_application" {
    defaults = {
      id  = "00fabc123def4567"
      arn = "arn:aws:emr-serverless:us-east-1:123456789012:/applications/00fabc123def4567"
    }
  }
  mock_resource "aws_iam_role" {
    defaults = {
      arn = "arn:aws:iam::123456789012:role/unit-batch-job-1"
    }
  }
}

variables {
  name_prefix        = "unit"
  data_bucket        = "unit-data-1"
  artifacts_bucket   = "unit-artifacts-1"
  entry_point_key    = "artifacts/emr-entry/0123/emr_entry.py"
  bundle_key         = "artifacts/batch-job/4567/batch-job.zip"
  dependencies_key   = "artifacts/batch-deps/89ab/batch-deps.zip"
  feature_group_name = "unit-cc-agg-batch-fg"
  feature_group_arn  = "arn:aws:sagemaker:us-east-1:123456789012:feature-group/unit-cc-agg-batch-fg"
  kms_key_arn        = "arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555"
}

run "application_and_schedule" {
  command = apply

  assert {
    condition = (aws_emrserverless_application.this.type == "spark" && aws_emrserverless_application.this.release_label == "emr-7.14.0" &&
      aws_emrserverless_application.this.auto_start_configuration[0].enabled && aws_emrserverless_application.this.auto_stop_configuration[0].enabled &&
    aws_emrserverless_application.this.auto_stop_configuration[0].idle_timeout_minutes == 15)
    error_message = "a Spark application on emr-7.x that starts on a job and stops when idle"
  }
  assert {
    condition     = aws_emrserverless_application.this.maximum_capacity[0].cpu == "8 vCPU"
    error_message = "a small maximum capacity"
  }
  assert {
    condition = (aws_scheduler_schedule.this.schedule_expression == "cron(15 0 * * ? *)" && aws_scheduler_schedule.this.schedule_expression_timezone == "UTC" &&
    aws_scheduler_schedule.this.flexible_time_window[0].mode == "OFF" && aws_scheduler_schedule.this.state == "ENABLED")
    error_message = "enabled, 00:15 UTC, no flexible window"
  }
  assert {
    condition     = aws_scheduler_schedule.this.target[0].arn == "arn:aws:scheduler:::aws-sdk:emrserverless:startJobRun"
    error_message = "the universal target of EMR Serverless StartJobRun"
  }
  # The scheduled request equals the one jobs/batch/launch.py builds for the same values
  # (tests/batch/test_emr_entry.py compares the launcher with the same file).
  assert {
    condition     = jsondecode(aws_scheduler_schedule.this.target[0].input) == jsondecode(file("tests/start_job_run.json"))
    error_message = "StartJobRun input differs from tests/start_job_run.json"
  }
  assert {
    condition = ({ for st in data.aws_iam_policy_document.this["scheduler"].statement : st.sid => [st.actions, st.resources] } == {
      StartRefreshJob      = [toset(["emr-serverless:StartJobRun"]), toset([aws_emrserverless_application.this.arn])]
      PassJobRole          = [toset(["iam:PassRole"]), toset([aws_iam_role.job.arn])]
      DecryptScheduleInput = [toset(["kms:Decrypt"]), toset([var.kms_key_arn])]
    })
    error_message = "the scheduler may start runs of this application and pass the job role, nothing else"
  }
  assert {
    condition     = [for st in data.aws_iam_policy_document.this["job"].statement : st.resources if st.sid == "LoadBatchFeatureGroup"][0] == toset([var.feature_group_arn])
    error_message = "PutRecord on the batch feature group only"
  }
  assert {
    condition = ([for st in data.aws_iam_policy_document.this["job"].statement : st.resources if st.sid == "ReadHistory"][0] == toset(["arn:aws:s3:::unit-data-1/history/*"]) &&
    [for st in data.aws_iam_policy_document.this["job"].statement : st.resources if st.sid == "WriteFeatures"][0] == toset(["arn:aws:s3:::unit-data-1/features/*"]))
    error_message = "read history/, write features/"
  }
  assert {
    condition     = data.aws_iam_policy_document.job_trust["job"].statement[0].principals == toset([{ type = "Service", identifiers = toset(["emr-serverless.amazonaws.com"]) }])
    error_message = "the job role is assumed by EMR Serverless"
  }
}

# The served transactions (module stream_archive's transactions archive): one more input, read only.
run "reads_the_live_transactions" {
  command = apply

  variables {
    live_prefix = "transactions/"
  }

  assert {
    condition = (jsondecode(aws_scheduler_schedule.this.target[0].input).JobDriver.SparkSubmit.EntryPointArguments ==
    concat(jsondecode(file("tests/start_job_run.json")).JobDriver.SparkSubmit.EntryPointArguments, ["--live", "s3://unit-data-1/transactions/"]))
    error_message = "the scheduled run gets --live s3://<data>/transactions/ after the other arguments"
  }
  assert {
    condition     = [for st in data.aws_iam_policy_document.this["job"].statement : st.resources if st.sid == "ReadHistory"][0] == toset(["arn:aws:s3:::unit-data-1/history/*", "arn:aws:s3:::unit-data-1/transactions/*"])
    error_message = "the job reads history/ and transactions/"
  }
  assert {
    condition     = [for st in data.aws_iam_policy_document.this["job"].statement : toset(one(st.condition).values) if st.sid == "ListHistoryAndFeatures"][0] == toset(["history/*", "transactions/*", "features/*"])
    error_message = "the job lists history/, transactions/ and features/"
  }
  assert {
    condition     = output.job.live == "s3://unit-data-1/transactions/"
    error_message = "the job output names the live input"
  }
}

run "rejects_a_live_prefix_without_a_trailing_slash" {
  command = plan

  variables {
    live_prefix = "transactions"
  }

  expect_failures = [var.live_prefix]
}

run "schedule_can_be_turned_off" {
  command = plan

  variables {
    enable_schedule = false
  }

  assert {
    condition     = aws_scheduler_schedule.this.state == "DISABLED"
    error_message = "enable_schedule = false disables the schedule"
  }
}

run "rejects_a_release_other_than_emr_7" {
  command = plan

  variables {
    release_label = "emr-6.15.0"
  }

  expect_failures = [var.release_label]
}

run "rejects_a_schedule_outside_the_hour_after_midnight" {
  command = plan

  variables {
    schedule_expression = "cron(0 12 * * ? *)"
  }

  expect_failures = [var.schedule_expression]
}

run "consistency_run_after_the_refresh" {
  command = apply

  variables {
    consistency_check = {
      enabled          = true
      entry_point_key  = "artifacts/consistency-entry/cdef/emr_entry.py"
      bundle_key       = "artifacts/consistency-job/0123/consistency-job.zip"
      dependencies_key = "artifacts/consistency-deps/cdef/consistency-deps.zip"
      model_key        = "artifacts/model/4567/model.tar.gz"
      metric_namespace = "unit/consistency"
    }
  }

  assert {
    condition = (aws_scheduler_schedule.consistency[0].schedule_expression == "cron(30 2 * * ? *)" && aws_scheduler_schedule.consistency[0].state == "ENABLED" &&
    aws_scheduler_schedule.consistency[0].target[0].arn == "arn:aws:scheduler:::aws-sdk:emrserverless:startJobRun")
    error_message = "the consistency run starts at 02:30 UTC through the StartJobRun universal target"
  }
  assert {
    condition = jsondecode(aws_scheduler_schedule.consistency[0].target[0].input).JobDriver.SparkSubmit.EntryPointArguments == [
      "--predictions", "s3://unit-data-1/predictions/", "--features", "s3://unit-data-1/features/",
      "--model", "s3://unit-artifacts-1/artifacts/model/4567/model.tar.gz", "--out", "s3://unit-data-1/consistency/",
      "--metric-namespace", "unit/consistency", "--scheduled-time", "<aws.scheduler.scheduled-time>",
    ]
    error_message = "the job's arguments follow the contract (jobs/consistency/emr_entry.py)"
  }
  assert {
    condition     = jsondecode(aws_scheduler_schedule.consistency[0].target[0].input).ApplicationId == aws_emrserverless_application.consistency[0].id
    error_message = "the consistency run uses its own application"
  }
  assert {
    condition     = aws_emrserverless_application.consistency[0].architecture == "X86_64" && aws_emrserverless_application.this.architecture == "ARM64"
    error_message = "the consistency run's application is X86_64 (its wheels); the refresh stays on Graviton"
  }
  assert {
    condition = strcontains(jsondecode(aws_scheduler_schedule.consistency[0].target[0].input).JobDriver.SparkSubmit.SparkSubmitParameters,
    "--conf spark.archives=s3://unit-artifacts-1/artifacts/consistency-deps/cdef/consistency-deps.zip#deps --conf spark.driver.cores=4 --conf spark.driver.memory=16g ")
    error_message = "the consistency run unpacks its own dependency archive as ./deps, on a 16 GB driver"
  }
  assert {
    condition = ({ for st in data.aws_iam_policy_document.this["consistency_scheduler"].statement : st.sid => [st.actions, st.resources] } == {
      StartConsistencyJob             = [toset(["emr-serverless:StartJobRun"]), toset([aws_emrserverless_application.consistency[0].arn])]
      PassConsistencyJobRole          = [toset(["iam:PassRole"]), toset([aws_iam_role.consistency_job[0].arn])]
      DecryptConsistencyScheduleInput = [toset(["kms:Decrypt"]), toset([var.kms_key_arn])]
    })
    error_message = "the consistency scheduler may start runs of this application and pass the consistency job role, nothing else"
  }
  assert {
    condition = (jsonencode([for st in data.aws_iam_policy_document.this["consistency_job"].statement : [for c in st.condition : [c.test, c.variable, tolist(c.values)]] if st.sid == "PublishMatchRate"]) ==
    jsonencode([[["StringEquals", "cloudwatch:namespace", ["unit/consistency"]]]]))
    error_message = "PutMetricData only in the run's namespace"
  }
  assert {
    condition     = length(data.aws_iam_policy_document.scheduler_trust) == 2
    error_message = "one trust document per schedule"
  }
}

run "rejects_a_consistency_run_before_the_refresh_can_end" {
  command = plan

  variables {
    consistency_check = {
      enabled             = true
      entry_point_key     = "e.py"
      bundle_key          = "b.zip"
      dependencies_key    = "d.zip"
      model_key           = "model.tar.gz"
      metric_namespace    = "unit/consistency"
      schedule_expression = "cron(0 1 * * ? *)"
    }
  }

  expect_failures = [var.consistency_check]
}

run "rejects_a_consistency_metric_in_an_aws_namespace" {
  command = plan

  variables {
    consistency_check = {
      enabled          = true
      entry_point_key  = "e.py"
      bundle_key       = "b.zip"
      dependencies_key = "d.zip"
      model_key        = "model.tar.gz"
      metric_namespace = "AWS/Consistency"
    }
  }

  expect_failures = [var.consistency_check]
}

run "rejects_a_consistency_archive_set_in_spark_conf" {
  command = plan

  variables {
    consistency_check = {
      enabled          = true
      entry_point_key  = "e.py"
      bundle_key       = "b.zip"
      dependencies_key = "d.zip"
      model_key        = "model.tar.gz"
      metric_namespace = "unit/consistency"
    }
    consistency_spark_conf = { "spark.archives" = "s3://elsewhere/deps.zip#deps" }
  }

  expect_failures = [var.consistency_spark_conf]
}
