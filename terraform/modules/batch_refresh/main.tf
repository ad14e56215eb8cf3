# The daily refresh of cc-agg-batch-fg: an EMR Serverless application (Spark) that runs the
# batch job over the history in S3, the job's execution role, and an EventBridge Scheduler
# schedule that starts the job shortly after each UTC midnight. The job writes the features
# under the output prefix and loads the new latest snapshots (online/) into the feature group.
# Optionally (consistency_check) a second job on its own X86_64 application, later each morning:
# the consistency run compares the archived predictions with the refreshed features and publishes
# the match rate as a CloudWatch metric (jobs/consistency/emr_entry.py, docs/daily-refresh.md).

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
  live_uri             = var.live_prefix == "" ? null : "s3://${var.data_bucket}/${var.live_prefix}"
  output_uri           = "s3://${var.data_bucket}/${var.features_prefix}"
  log_uri              = "s3://${var.data_bucket}/${var.logs_prefix}"
  entry_point_uri      = "s3://${var.artifacts_bucket}/${var.entry_point_key}"
  bundle_uri           = "s3://${var.artifacts_bucket}/${var.bundle_key}"
  dependencies_uri     = "s3://${var.artifacts_bucket}/${var.dependencies_key}"
  schedule_name        = "${var.name_prefix}-daily-refresh"
  schedule_names       = var.consistency_check.enabled ? [local.schedule_name, local.consistency.schedule_name] : [local.schedule_name]

  # The job's command line (jobs/batch/emr_entry.py); `python -m jobs.batch.launch --from-terraform` sends it as is.
  # --live: the served transactions (the transactions archive) the job unions with the history.
  entry_point_arguments = concat([
    "--history", local.history_uri,
    "--output", local.output_uri,
    "--feature-group", var.feature_group_name,
    "--region", local.region,
  ], local.live_uri == null ? [] : ["--live", local.live_uri])
  # What the job reads from the data bucket: the history and, if given, the live transactions.
  input_prefixes = compact([var.history_prefix, var.live_prefix])
  # The bundle holds the packages the entry point imports; the archive boto3 for Python 3.9,
  # unpacked as ./deps. Temporary views only: an in-memory catalog, so the job needs no Glue Data
  # Catalog (EMR's default metastore) nor any grant on it.
  sql_conf = {
    "spark.sql.catalogImplementation" = "in-memory"
    "spark.sql.session.timeZone"      = "UTC"
    "spark.sql.ansi.enabled"          = "false"
  }
  spark_conf = merge(local.sql_conf, { "spark.archives" = "${local.dependencies_uri}#deps" }, var.spark_conf)
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

  # The consistency run (the command line of jobs/consistency/emr_entry.py): the archived
  # predictions, the features this module's job writes, the served model, where the report goes
  # and the namespace of the MatchRate metric the alarm (module monitoring) watches.
  cc = var.consistency_check
  consistency = {
    schedule_name    = "${var.name_prefix}-daily-consistency"
    entry_point_uri  = "s3://${var.artifacts_bucket}/${local.cc.entry_point_key}"
    bundle_uri       = "s3://${var.artifacts_bucket}/${local.cc.bundle_key}"
    dependencies_uri = "s3://${var.artifacts_bucket}/${local.cc.dependencies_key}"
    entry_point_arguments = [
      "--predictions", "s3://${var.data_bucket}/${local.cc.predictions_prefix}",
      "--features", local.output_uri,
      "--model", "s3://${var.artifacts_bucket}/${local.cc.model_key}",
      "--out", "s3://${var.data_bucket}/${local.cc.report_prefix}",
      "--metric-namespace", local.cc.metric_namespace,
      # The schedule's own time: the run compares the previous UTC day's partition of the archive and
      # files its report under it (https://docs.aws.amazon.com/scheduler/latest/UserGuide/managing-schedule-context-attributes.html).
      "--scheduled-time", "<aws.scheduler.scheduled-time>",
    ]
  }
  # Its own sizes (consistency_spark_conf: the driver holds a day's scores), its own archive
  # (build/emr/consistency-deps.zip: XGBoost, scikit-learn, numpy, scipy, boto3 as x86_64 CPython 3.9
  # wheels, unpacked as ./deps where emr_entry.py looks). The contract names no --region: the
  # driver's boto3 (CloudWatch, S3) reads it from its environment
  # (spark.emr-serverless.driverEnv.<KEY>: https://docs.aws.amazon.com/emr/latest/EMR-Serverless-UserGuide/jobs-spark.html).
  consistency_spark_conf = merge(local.sql_conf, var.consistency_spark_conf, {
    "spark.archives"                                    = "${local.consistency.dependencies_uri}#deps"
    "spark.emr-serverless.driverEnv.AWS_DEFAULT_REGION" = local.region
  })
  consistency_start_job_run = {
    ApplicationId           = try(aws_emrserverless_application.consistency[0].id, "")
    ExecutionRoleArn        = try(aws_iam_role.consistency_job[0].arn, "")
    ClientToken             = "<aws.scheduler.execution-id>"
    Name                    = local.consistency.schedule_name
    ExecutionTimeoutMinutes = local.cc.execution_timeout_minutes
    JobDriver = {
      SparkSubmit = {
        EntryPoint          = local.consistency.entry_point_uri
        EntryPointArguments = local.consistency.entry_point_arguments
        SparkSubmitParameters = join(" ", concat(
          ["--py-files", local.consistency.bundle_uri],
          [for k in sort(keys(local.consistency_spark_conf)) : "--conf ${k}=${local.consistency_spark_conf[k]}"],
        ))
      }
    }
    ConfigurationOverrides = local.start_job_run.ConfigurationOverrides
  }

  # Least privilege for the consistency job: read the archive, the features and the model, its own
  # code; write the report and its logs; publish in its metric namespace only.
  consistency_job_statements = [
    {
      sid        = "ListConsistencyInputs"
      actions    = ["s3:ListBucket"]
      resources  = [local.data_bucket_arn]
      conditions = [{ test = "StringLike", variable = "s3:prefix", values = [for p in [local.cc.predictions_prefix, var.features_prefix, local.cc.report_prefix] : "${p}*"] }]
    },
    {
      sid        = "ReadPredictionsAndFeatures"
      actions    = ["s3:GetObject"]
      resources  = [for p in [local.cc.predictions_prefix, var.features_prefix] : "${local.data_bucket_arn}/${p}*"]
      conditions = []
    },
    {
      sid        = "ReadModelAndCode"
      actions    = ["s3:GetObject"]
      resources  = [for key in [local.cc.model_key, local.cc.entry_point_key, local.cc.bundle_key, local.cc.dependencies_key] : "${local.artifacts_bucket_arn}/${key}"]
      conditions = []
    },
    {
      sid        = "WriteReport"
      actions    = ["s3:PutObject", "s3:AbortMultipartUpload"]
      resources  = ["${local.data_bucket_arn}/${local.cc.report_prefix}*"]
      conditions = []
    },
    {
      sid        = "WriteConsistencyLogs"
      actions    = ["s3:PutObject"]
      resources  = ["${local.data_bucket_arn}/${var.logs_prefix}*"]
      conditions = []
    },
    {
      sid        = "UseDeploymentKeyForConsistency"
      actions    = ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:DescribeKey"]
      resources  = [var.kms_key_arn]
      conditions = []
    },
    {
      # PutMetricData has no resource type: Resource "*", limited to the run's namespace
      # (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/iam-cw-condition-keys-namespace.html).
      sid        = "PublishMatchRate"
      actions    = ["cloudwatch:PutMetricData"]
      resources  = ["*"]
      conditions = [{ test = "StringEquals", variable = "cloudwatch:namespace", values = [local.cc.metric_namespace] }]
    },
  ]

  consistency_scheduler_statements = [
    {
      sid        = "StartConsistencyJob"
      actions    = ["emr-serverless:StartJobRun"]
      resources  = [try(aws_emrserverless_application.consistency[0].arn, "")]
      conditions = []
    },
    {
      sid        = "PassConsistencyJobRole"
      actions    = ["iam:PassRole"]
      resources  = [try(aws_iam_role.consistency_job[0].arn, "")]
      conditions = [{ test = "StringEquals", variable = "iam:PassedToService", values = ["emr-serverless.amazonaws.com"] }]
    },
    {
      sid        = "DecryptConsistencyScheduleInput"
      actions    = ["kms:Decrypt"]
      resources  = [var.kms_key_arn]
      conditions = []
    },
  ]

  # Least privilege for the job: read the history and its own code, write the features and its
  # logs, use the deployment key, write records to the batch feature group only.
  job_statements = [
    {
      sid        = "ListHistoryAndFeatures"
      actions    = ["s3:ListBucket"]
      resources  = [local.data_bucket_arn]
      conditions = [{ test = "StringLike", variable = "s3:prefix", values = [for p in concat(local.input_prefixes, [var.features_prefix]) : "${p}*"] }]
    },
    {
      sid        = "ReadHistory"
      actions    = ["s3:GetObject"]
      resources  = [for p in local.input_prefixes : "${local.data_bucket_arn}/${p}*"]
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
  assume_role_policy = data.aws_iam_policy_document.job_trust["job"].json
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
  assume_role_policy = data.aws_iam_policy_document.scheduler_trust[local.schedule_name].json
  tags               = local.tags
}

resource "aws_iam_role_policy" "scheduler" {
  name   = "start-refresh-job"
  role   = aws_iam_role.scheduler.id
  policy = data.aws_iam_policy_document.this["scheduler"].json
}

data "aws_iam_policy_document" "this" {
  for_each = merge(
    { job = local.job_statements, scheduler = local.scheduler_statements },
    { for k, v in { consistency_job = local.consistency_job_statements, consistency_scheduler = local.consistency_scheduler_statements } : k => v if local.cc.enabled },
  )

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

# Only this account's application may use its job role, and only this schedule the scheduler's
# role (confused deputy: https://docs.aws.amazon.com/IAM/latest/UserGuide/confused-deputy.html).
data "aws_iam_policy_document" "job_trust" {
  for_each = merge(
    { job = aws_emrserverless_application.this.arn },
    local.cc.enabled ? { consistency_job = try(aws_emrserverless_application.consistency[0].arn, "") } : {},
  )

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
      values   = [each.value]
    }
  }
}

# One per schedule: each scheduler role trusts its own schedule only.
data "aws_iam_policy_document" "scheduler_trust" {
  for_each = toset(local.schedule_names)

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
      values   = ["arn:${local.partition}:scheduler:${local.region}:${local.account_id}:schedule/default/${each.key}"]
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

# The consistency run: its own application, job role (trusting that application's runs), scheduler
# role and schedule, later in the morning than the refresh can end (variable validation).
#
# X86_64, not the refresh's Graviton: the run's dependency archive is built for x86_64
# (packager.emr_job.EMR_BINARY_PLATFORM; the lock is compiled for x86_64-manylinux_2_28), the
# binaries the test suite installs and scores with on this architecture. A separate application
# keeps the refresh on ARM64 and gives the run its own maximum capacity (a 16 GB driver) without
# raising the refresh's, and neither run waits for the other's workers.
resource "aws_emrserverless_application" "consistency" {
  count = local.cc.enabled ? 1 : 0

  name          = "${var.name_prefix}-consistency"
  release_label = var.release_label
  type          = "spark"
  architecture  = "X86_64"

  auto_start_configuration {
    enabled = true
  }
  auto_stop_configuration {
    enabled              = true
    idle_timeout_minutes = var.idle_timeout_minutes
  }
  maximum_capacity {
    cpu    = local.cc.maximum_capacity.cpu
    memory = local.cc.maximum_capacity.memory
    disk   = local.cc.maximum_capacity.disk
  }

  tags = local.tags
}

resource "aws_iam_role" "consistency_job" {
  count = local.cc.enabled ? 1 : 0

  name_prefix        = "${var.name_prefix}-consistency-job-"
  description        = "Execution role of the ${var.name_prefix} daily consistency run (EMR Serverless)"
  assume_role_policy = data.aws_iam_policy_document.job_trust["consistency_job"].json
  tags               = local.tags
}

resource "aws_iam_role_policy" "consistency_job" {
  count = local.cc.enabled ? 1 : 0

  name   = "consistency-job-least-privilege"
  role   = aws_iam_role.consistency_job[0].id
  policy = data.aws_iam_policy_document.this["consistency_job"].json
}

resource "aws_iam_role" "consistency_scheduler" {
  count = local.cc.enabled ? 1 : 0

  name_prefix        = "${var.name_prefix}-consist-sched-"
  description        = "Role EventBridge Scheduler assumes to start the ${var.name_prefix} daily consistency run"
  assume_role_policy = data.aws_iam_policy_document.scheduler_trust[local.consistency.schedule_name].json
  tags               = local.tags
}

resource "aws_iam_role_policy" "consistency_scheduler" {
  count = local.cc.enabled ? 1 : 0

  name   = "start-consistency-job"
  role   = aws_iam_role.consistency_scheduler[0].id
  policy = data.aws_iam_policy_document.this["consistency_scheduler"].json
}

resource "aws_scheduler_schedule" "consistency" {
  count = local.cc.enabled ? 1 : 0

  name        = local.consistency.schedule_name
  description = "Compares the archived predictions with the refreshed features on EMR Serverless and publishes MatchRate in ${local.cc.metric_namespace}"
  state       = var.enable_schedule ? "ENABLED" : "DISABLED"

  schedule_expression          = local.cc.schedule_expression
  schedule_expression_timezone = "UTC"
  flexible_time_window {
    mode = "OFF"
  }
  kms_key_arn = var.kms_key_arn

  target {
    arn      = "arn:${local.partition}:scheduler:::aws-sdk:emrserverless:startJobRun"
    role_arn = aws_iam_role.consistency_scheduler[0].arn
    input    = jsonencode(local.consistency_start_job_run)

    retry_policy {
      maximum_event_age_in_seconds = var.start_retry_seconds
      maximum_retry_attempts       = 10
    }
  }
}
