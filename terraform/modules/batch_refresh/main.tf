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
  dependencies_uri     = "s3://${var.artifacts_bucket}/${var.dependencies_key}"
  schedule_name        = "${var.name_prefix}-daily-refresh"

  # The job's command line (jobs/batch/emr_entry.py); jobs/batch/launch.py builds the same one.
  entry_point_arguments = [
    "--history", local.history_uri,
    "--output", local.output_uri,
    "--feature-group", var.feature_group_name,
    "--region", local.region,
  ]
  # The bundle holds the packages the entry point imports; the archive boto3 for Python 3.9,
  # unpacked as ./deps. Temporary views only: an in-memory catalog, so the job needs no Glue Data
  # Catalog (EMR's default metastore) nor any grant on it.
  spark_conf = merge({
    "spark.archives"                  = "${local.dependencies_uri}#deps"
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
      sid        = "ListHistoryAndFeatures"
      actions    = ["s3:ListBucket"]
      resources  = [local.data_bucket_arn]
      conditions = [{ test = "StringLike", variable = "s3:prefix", values = [for p in [var.history_prefix, var.features_prefix] : "${p}*"] }]
    },
    {
      sid        = "ReadHistory"
      actions    = ["s3:GetObject"]
      resources  = ["${local.data_bucket_arn}/${var.history_prefix}*"]
      conditions = []
    },
    {
      sid        = "ReadJobCode"
      actions    = ["s3:GetObject"]
      resources  = [for key in [var.entry_point_key, var.bundle_key, var.dependencies_key] : "${local.artifacts_bucket_arn}/${key}"]
      conditions = []
    },
    {
      # Spark's overwrite deletes the previous run's files; the row counts read them back.
      sid        = "WriteFeatures"
      actions    = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload"]
      resources  = ["${local.data_bucket_arn}/${var.features_prefix}*"]
      conditions = []
    },
    {
      sid        = "WriteJobLogs"
      actions    = ["s3:PutObject"]
      resources  = ["${local.data_bucket_arn}/${var.logs_prefix}*"]
      conditions = []
    },
    {
      # SSE-KMS buckets (read and write) and the logs' EncryptionKeyArn.
      sid        = "UseDeploymentKey"
      actions    = ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:DescribeKey"]
      resources  = [var.kms_key_arn]
      conditions = []
    },
    {
      sid        = "LoadBatchFeatureGroup"
      actions    = ["sagemaker:PutRecord"]
      resources  = [var.feature_group_arn]
      conditions = []
    },
  ]

  scheduler_statements = [
    {
      sid        = "StartRefreshJob"
      actions    = ["emr-serverless:StartJobRun"]
      resources  = [aws_emrserverless_application.this.arn]
      conditions = []
    },
    {
      sid        = "PassJobRole"
      actions    = ["iam:PassRole"]
      resources  = [aws_iam_role.job.arn]
      conditions = [{ test = "StringEquals", variable = "iam:PassedToService", values = ["emr-serverless.amazonaws.com"] }]
    },
    {
      # The schedule's input is encrypted with the deployment key; the execution role decrypts it
      # (https://docs.aws.amazon.com/scheduler/latest/UserGuide/encryption-rest.html).
      sid        = "DecryptScheduleInput"
      actions    = ["kms:Decrypt"]
      resources  = [var.kms_key_arn]
      conditions = []
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
  name_prefix        = "${var.name_prefix}-batch-job-"
  description        = "Execution role of the ${var.name_prefix} batch refresh job (EMR Serverless)"
  assume_role_policy = data.aws_iam_policy_document.job_trust.json
  tags               = local.tags
}

resource "aws_iam_role_policy" "job" {
  name   = "batch-job-least-privilege"
  role   = aws_iam_role.job.id
  policy = data.aws_iam_policy_document.this["job"].json
}

resource "aws_iam_role" "scheduler" {
  name_prefix        = "${var.name_prefix}-refresh-sched-"
  description        = "Role EventBridge Scheduler assumes to start the ${var.name_prefix} daily refresh"
  assume_role_policy = data.aws_iam_policy_document.scheduler_trust.json
  tags               = local.tags
}

resource "aws_iam_role_policy" "scheduler" {
  name   = "start-refresh-job"
  role   = aws_iam_role.scheduler.id
  policy = data.aws_iam_policy_document.this["scheduler"].json
}

data "aws_iam_policy_document" "this" {
  for_each = { job = local.job_statements, scheduler = local.scheduler_statements }

  dynamic "statement" {
    for_each = each.value
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

# Only this account's application may use the job role, and only this schedule the scheduler's
# role (confused deputy: https://docs.aws.amazon.com/IAM/latest/UserGuide/confused-deputy.html).
data "aws_iam_policy_document" "job_trust" {
  statement {
    sid     = "EmrServerlessRunsJobs"
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["emr-serverless.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
    condition {
      test     = "ArnLike"
      variable = "aws:SourceArn"
      values   = [aws_emrserverless_application.this.arn]
    }
  }
}

data "aws_iam_policy_document" "scheduler_trust" {
  statement {
    sid     = "SchedulerStartsRefresh"
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["scheduler.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
    condition {
      test     = "ArnLike"
      variable = "aws:SourceArn"
      values   = ["arn:${local.partition}:scheduler:${local.region}:${local.account_id}:schedule/default/${local.schedule_name}"]
    }
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
