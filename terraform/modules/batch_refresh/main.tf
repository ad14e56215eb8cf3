# The daily refresh of cc-agg-batch-fg: an EMR Serverless application (Spark) that runs the
# batch job over the history in S3, the job's execution role, and an EventBridge Scheduler
# schedule that starts the job shortly after each UTC midnight. The job writes the features
# under the output prefix and loads the new latest snapshots (online/) into the feature group.

data "aws_partition" "current" {}

locals {
  tags = merge({ "module" = "batch_refresh" }, var.tags)

  # Region and account come from the key's ARN: no STS call, so plans work offline.
  partition  = data.aws_partition.current.partition
  region     = split(":", var.kms_key_arn)[3]
  account_id = split(":", var.kms_key_arn)[4]

  data_bucket_arn      = "arn:${local.partition}:s3:::${var.data_bucket}"
  artifacts_bucket_arn = "arn:${local.partition}:s3:::${var.artifacts_bucket}"
  history_uri          = "s3://${var.data_bucket}/${var.history_prefix}"
  output_uri           = "s3://${var.data_bucket}/${var.features_prefix}"
  log_uri              = "s3://${var.data_bucket}/${var.logs_prefix}"
  entry_point_uri      = "s3://${var.artifacts_bucket}/${var.entry_point_key}"
  bundle_uri           = "s3://${var.artifacts_bucket}/${var.bundle_key}"
  schedule_name        = "${var.name_prefix}-daily-refresh"

  # The job's command line (jobs/batch/emr_entry.py); jobs/batch/launch.py builds the same one.
  entry_point_arguments = [
    "--history", local.history_uri,
    "--output", local.output_uri,
    "--feature-group", var.feature_group_name,
    "--region", local.region,
  ]
  # The bundle holds the packages the entry point imports. Temporary views only: an in-memory
  # catalog, so the job needs no Glue Data Catalog (EMR's default metastore) nor any grant on it.
  spark_conf = merge({
    "spark.sql.catalogImplementation" = "in-memory"
    "spark.sql.session.timeZone"      = "UTC"
    "spark.sql.ansi.enabled"          = "false"
  }, var.spark_conf)
  spark_submit_parameters = join(" ", concat(
    ["--py-files", local.bundle_uri],
    [for k in sort(keys(local.spark_conf)) : "--conf ${k}=${local.spark_conf[k]}"],
  ))

  # StartJobRun request of one scheduled run, in the AWS SDK's member names (universal target
  # input, https://docs.aws.amazon.com/scheduler/latest/UserGuide/managing-targets-universal.html;
  # members: https://docs.aws.amazon.com/emr-serverless/latest/APIReference/API_StartJobRun.html).
  # ClientToken is the schedule's execution id: a retry of one invocation starts no second run
  # (https://docs.aws.amazon.com/scheduler/latest/UserGuide/managing-schedule-context-attributes.html).
  start_job_run = {
    ApplicationId           = aws_emrserverless_application.this.id
    ExecutionRoleArn        = aws_iam_role.job.arn
    ClientToken             = "<aws.scheduler.execution-id>"
    Name                    = local.schedule_name
    ExecutionTimeoutMinutes = var.execution_timeout_minutes
    JobDriver = {
      SparkSubmit = {
        EntryPoint            = local.entry_point_uri
        EntryPointArguments   = local.entry_point_arguments
        SparkSubmitParameters = local.spark_submit_parameters
      }
    }
    ConfigurationOverrides = {
      MonitoringConfiguration = {
        S3MonitoringConfiguration = {
          LogUri           = local.log_uri
          EncryptionKeyArn = var.kms_key_arn
        }
      }
    }
  }

  # Least privilege for the job: read the history and its own code, write the features and its
  # logs, use the deployment key, write records to the batch feature group only.
  job_statements = [
    {
      sid       = "ListHistoryAndFeatures"
      actions   = ["s3:ListBucket"]
      resources = [local.data_bucket_arn]
      condition = { StringLike = { "s3:prefix" = [for p in [var.history_prefix, var.features_prefix] : "${p}*"] } }
    },
    {
      sid       = "ReadHistory"
      actions   = ["s3:GetObject"]
      resources = ["${local.data_bucket_arn}/${var.history_prefix}*"]
      condition = null
    },
    {
      sid       = "ReadJobCode"
      actions   = ["s3:GetObject"]
      resources = ["${local.artifacts_bucket_arn}/${var.entry_point_key}", "${local.artifacts_bucket_arn}/${var.bundle_key}"]
      condition = null
    },
    {
      # Spark's overwrite deletes the previous run's files; the row counts read them back.
      sid       = "WriteFeatures"
      actions   = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload"]
      resources = ["${local.data_bucket_arn}/${var.features_prefix}*"]
      condition = null
    },
    {
      sid       = "WriteJobLogs"
      actions   = ["s3:PutObject"]
      resources = ["${local.data_bucket_arn}/${var.logs_prefix}*"]
      condition = null
    },
    {
      # SSE-KMS buckets (read and write) and the logs' EncryptionKeyArn.
      sid       = "UseDeploymentKey"
      actions   = ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:DescribeKey"]
      resources = [var.kms_key_arn]
      condition = null
    },
    {
      sid       = "LoadBatchFeatureGroup"
      actions   = ["sagemaker:PutRecord"]
      resources = [var.feature_group_arn]
      condition = null
    },
  ]

  scheduler_statements = [
    {
      sid       = "StartRefreshJob"
      actions   = ["emr-serverless:StartJobRun"]
      resources = [aws_emrserverless_application.this.arn]
      condition = null
    },
    {
      sid       = "PassJobRole"
      actions   = ["iam:PassRole"]
      resources = [aws_iam_role.job.arn]
      condition = { StringEquals = { "iam:PassedToService" = "emr-serverless.amazonaws.com" } }
    },
    {
      # The schedule's input is encrypted with the deployment key; the execution role decrypts it
      # (https://docs.aws.amazon.com/scheduler/latest/UserGuide/encryption-rest.html).
      sid       = "DecryptScheduleInput"
      actions   = ["kms:Decrypt"]
      resources = [var.kms_key_arn]
      condition = null
    },
  ]
}

resource "aws_emrserverless_application" "this" {
  name          = "${var.name_prefix}-batch"
  release_label = var.release_label
  type          = "spark"
  architecture  = var.architecture

  # Workers start on a job and stop after the idle timeout: nothing is billed between runs.
  auto_start_configuration {
    enabled = true
  }
  auto_stop_configuration {
    enabled              = true
    idle_timeout_minutes = var.idle_timeout_minutes
  }
  maximum_capacity {
    cpu    = var.maximum_capacity.cpu
    memory = var.maximum_capacity.memory
    disk   = var.maximum_capacity.disk
  }

  tags = local.tags
}

resource "aws_iam_role" "job" {
  name_prefix = "${var.name_prefix}-batch-job-"
  description = "Execution role of the ${var.name_prefix} batch refresh job (EMR Serverless)"
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid       = "EmrServerlessRunsJobs"
      Effect    = "Allow"
      Action    = "sts:AssumeRole"
      Principal = { Service = "emr-serverless.amazonaws.com" }
      # Only this account's application may use the role (confused deputy).
      Condition = {
        StringEquals = { "aws:SourceAccount" = local.account_id }
        ArnLike      = { "aws:SourceArn" = aws_emrserverless_application.this.arn }
      }
    }]
  })
  tags = local.tags
}

resource "aws_iam_role_policy" "job" {
  name   = "batch-job-least-privilege"
  role   = aws_iam_role.job.id
  policy = jsonencode({ Version = "2012-10-17", Statement = [for s in local.job_statements : local.render[s.sid]] })
}

resource "aws_iam_role" "scheduler" {
  name_prefix = "${var.name_prefix}-refresh-sched-"
  description = "Role EventBridge Scheduler assumes to start the ${var.name_prefix} daily refresh"
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid       = "SchedulerStartsRefresh"
      Effect    = "Allow"
      Action    = "sts:AssumeRole"
      Principal = { Service = "scheduler.amazonaws.com" }
      Condition = {
        StringEquals = { "aws:SourceAccount" = local.account_id }
        ArnLike      = { "aws:SourceArn" = "arn:${local.partition}:scheduler:${local.region}:${local.account_id}:schedule/default/${local.schedule_name}" }
      }
    }]
  })
  tags = local.tags
}

resource "aws_iam_role_policy" "scheduler" {
  name   = "start-refresh-job"
  role   = aws_iam_role.scheduler.id
  policy = jsonencode({ Version = "2012-10-17", Statement = [for s in local.scheduler_statements : local.render[s.sid]] })
}

locals {
  # Statement objects in IAM's JSON form; Condition only where one is set.
  render = {
    for s in concat(local.job_statements, local.scheduler_statements) : s.sid => merge(
      { Sid = s.sid, Effect = "Allow", Action = s.actions, Resource = s.resources },
      { for k, v in { Condition = s.condition } : k => v if v != null },
    )
  }
}

resource "aws_scheduler_schedule" "this" {
  name        = local.schedule_name
  description = "Runs the batch job on EMR Serverless after each UTC midnight and reloads ${var.feature_group_name}"
  state       = var.enable_schedule ? "ENABLED" : "DISABLED"

  # Snapshots are taken at UTC midnights (DESIGN.md): the schedule runs in UTC, at a fixed time.
  schedule_expression          = var.schedule_expression
  schedule_expression_timezone = "UTC"
  flexible_time_window {
    mode = "OFF"
  }
  kms_key_arn = var.kms_key_arn

  target {
    arn      = "arn:${local.partition}:scheduler:::aws-sdk:emrserverless:startJobRun"
    role_arn = aws_iam_role.scheduler.arn
    input    = jsonencode(local.start_job_run)

    retry_policy {
      maximum_event_age_in_seconds = var.start_retry_seconds
      maximum_retry_attempts       = 10
    }
  }
}
