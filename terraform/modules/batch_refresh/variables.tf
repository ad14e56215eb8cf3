variable "name_prefix" {
  description = "Prefix of every resource name (lower-case letters, digits, hyphens)."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,19}$", var.name_prefix))
    error_message = "name_prefix must be 2-20 characters: a lower-case letter, then lower-case letters, digits or hyphens."
  }
}

variable "data_bucket" {
  description = "Name of the bucket holding the history (read), the features (written) and the job's logs."
  type        = string
}

variable "history_prefix" {
  description = "Key prefix of the transaction history (Parquet) the job aggregates; ends with '/'."
  type        = string
  default     = "history/"

  validation {
    condition     = endswith(var.history_prefix, "/") && !startswith(var.history_prefix, "/")
    error_message = "history_prefix must end with '/' and not start with one."
  }
}

variable "live_prefix" {
  description = "Key prefix of the served transactions (JSON lines, *.json.gz under dt=YYYY-MM-DD/: the transactions archive) the job reads with --live beside the history; ends with '/'. \"\" (the default): no live input."
  type        = string
  default     = ""

  validation {
    condition     = var.live_prefix == "" || (endswith(var.live_prefix, "/") && !startswith(var.live_prefix, "/"))
    error_message = "live_prefix must be \"\" or end with '/' and not start with one."
  }
}

variable "features_prefix" {
  description = "Key prefix the job writes its outputs under (training/, snapshots/, online/, _SUCCESS); ends with '/'."
  type        = string
  default     = "features/"

  validation {
    condition     = endswith(var.features_prefix, "/") && !startswith(var.features_prefix, "/")
    error_message = "features_prefix must end with '/' and not start with one."
  }
}

variable "logs_prefix" {
  description = "Key prefix of the job runs' Spark logs (KMS-encrypted); ends with '/'."
  type        = string
  default     = "logs/emr-serverless/"

  validation {
    condition     = endswith(var.logs_prefix, "/") && !startswith(var.logs_prefix, "/")
    error_message = "logs_prefix must end with '/' and not start with one."
  }
}

variable "artifacts_bucket" {
  description = "Name of the bucket holding the job's code (entry point and bundle)."
  type        = string
}

variable "entry_point_key" {
  description = "Key of the job's entry point (jobs/batch/emr_entry.py) in the artifacts bucket."
  type        = string
}

variable "bundle_key" {
  description = "Key of the job's --py-files bundle (build/emr/batch-job.zip) in the artifacts bucket."
  type        = string
}

variable "dependencies_key" {
  description = "Key of the job's third-party packages for Python 3.9 (build/emr/batch-deps.zip, spark.archives) in the artifacts bucket."
  type        = string
}

variable "feature_group_name" {
  description = "Name of the batch feature group (cc-agg-batch-fg) the job loads the latest snapshots into."
  type        = string
}

variable "feature_group_arn" {
  description = "ARN of that feature group (the only one the job may write to)."
  type        = string
}

variable "kms_key_arn" {
  description = "ARN of the deployment's KMS key (buckets, job logs, schedule input); its partition, region and account are used for ARNs."
  type        = string

  validation {
    condition     = can(regex("^arn:[a-z-]+:kms:[a-z0-9-]+:[0-9]{12}:key/", var.kms_key_arn))
    error_message = "kms_key_arn must be a KMS key ARN (arn:<partition>:kms:<region>:<account>:key/<id>)."
  }
}

variable "enable_schedule" {
  description = "Run the refresh every day (false: the schedule exists, disabled; the application and role stay for runs by hand)."
  type        = bool
  default     = true
}

variable "schedule_expression" {
  description = "When the refresh starts, in UTC: shortly after each UTC midnight, when the day's snapshot is due."
  type        = string
  default     = "cron(15 0 * * ? *)"

  validation {
    condition     = can(regex("^cron\\([0-9]{1,2} 0 \\* \\* \\? \\*\\)$", var.schedule_expression))
    error_message = "schedule_expression must be cron(M 0 * * ? *): once a day, in the hour after UTC midnight."
  }
}

variable "start_retry_seconds" {
  description = "How long EventBridge Scheduler keeps retrying a StartJobRun that failed (60 to 86400 seconds)."
  type        = number
  default     = 3600

  validation {
    condition     = var.start_retry_seconds >= 60 && var.start_retry_seconds <= 86400
    error_message = "start_retry_seconds must be between 60 and 86400 (EventBridge Scheduler limits)."
  }
}

variable "release_label" {
  description = "EMR Serverless release (Spark 3.5, Amazon Linux 2023, PySpark on Python 3.9)."
  type        = string
  default     = "emr-7.14.0"

  validation {
    condition     = can(regex("^emr-7\\.[0-9]+\\.[0-9]+$", var.release_label))
    error_message = "release_label must be an emr-7.x release (the job is checked against its Python 3.9)."
  }
}

variable "architecture" {
  description = "CPU architecture of the workers: ARM64 (Graviton, cheaper per vCPU-hour) or X86_64."
  type        = string
  default     = "ARM64"

  validation {
    condition     = contains(["ARM64", "X86_64"], var.architecture)
    error_message = "architecture must be ARM64 or X86_64."
  }
}

variable "maximum_capacity" {
  description = "Most resources the application's workers may hold at once (bounds a run's cost)."
  type = object({
    cpu    = string
    memory = string
    disk   = string
  })
  default = { cpu = "8 vCPU", memory = "32 GB", disk = "100 GB" }
}

variable "idle_timeout_minutes" {
  description = "Minutes without a job after which the application stops (1 to 10080)."
  type        = number
  default     = 15

  validation {
    condition     = var.idle_timeout_minutes >= 1 && var.idle_timeout_minutes <= 10080
    error_message = "idle_timeout_minutes must be between 1 and 10080 (EMR Serverless limits)."
  }
}

variable "execution_timeout_minutes" {
  description = "A run that takes longer is cancelled (it must end well before the next midnight)."
  type        = number
  default     = 60

  validation {
    condition     = var.execution_timeout_minutes >= 5 && var.execution_timeout_minutes <= 720
    error_message = "execution_timeout_minutes must be between 5 and 720."
  }
}

variable "spark_conf" {
  description = "Extra Spark properties of the scheduled run (driver and executor sizes fit maximum_capacity)."
  type        = map(string)
  default = {
    "spark.driver.cores"                   = "2"
    "spark.driver.memory"                  = "6g"
    "spark.executor.cores"                 = "2"
    "spark.executor.memory"                = "6g"
    "spark.dynamicAllocation.maxExecutors" = "2"
  }
}

variable "tags" {
  description = "Tags added to every taggable resource (merged over the module's defaults)."
  type        = map(string)
  default     = {}
}

variable "consistency_check" {
  description = "The daily consistency run on its own X86_64 application (jobs/consistency/emr_entry.py: archived predictions vs the refreshed features, MatchRate published in metric_namespace); its schedule must start after the refresh can have ended (schedule minute + start_retry_seconds + execution_timeout_minutes). enabled = false: none."
  type = object({
    enabled                   = bool
    entry_point_key           = optional(string, "")
    bundle_key                = optional(string, "")
    dependencies_key          = optional(string, "")
    model_key                 = optional(string, "")
    predictions_prefix        = optional(string, "predictions/")
    report_prefix             = optional(string, "consistency/")
    metric_namespace          = optional(string, "")
    schedule_expression       = optional(string, "cron(30 2 * * ? *)")
    execution_timeout_minutes = optional(number, 60)
    # The driver (4 vCPU, ~18 GB) and two executors (2 vCPU, ~7 GB each), with room to spare.
    maximum_capacity = optional(object({
      cpu    = string
      memory = string
      disk   = string
    }), { cpu = "8 vCPU", memory = "48 GB", disk = "100 GB" })
  })
  default = { enabled = false }

  validation {
    condition = !var.consistency_check.enabled || try(
      alltrue([for k in ["entry_point_key", "bundle_key", "dependencies_key", "model_key", "metric_namespace"] : var.consistency_check[k] != ""]) &&
      alltrue([for p in [var.consistency_check.predictions_prefix, var.consistency_check.report_prefix] : endswith(p, "/") && !startswith(p, "/")]) &&
      can(regex("^[A-Za-z0-9._/#:-]{1,255}$", var.consistency_check.metric_namespace)) && !startswith(var.consistency_check.metric_namespace, "AWS/"),
      false
    )
    error_message = "consistency_check needs the four S3 keys, prefixes ending with '/', and a metric namespace of letters, digits and . _ / # : - that does not start with AWS/."
  }

  # Scheduled by time, not chained: the run starts once the refresh has started (its schedule minute,
  # retried for up to start_retry_seconds) and ended (execution_timeout_minutes). Cron fields:
  # https://docs.aws.amazon.com/scheduler/latest/UserGuide/schedule-types.html#cron-based
  validation {
    condition = !var.consistency_check.enabled || try(
      tonumber(regex("^cron\\(([0-9]{1,2}) ([0-9]{1,2}) \\* \\* \\? \\*\\)$", var.consistency_check.schedule_expression)[1]) < 24 &&
      60 * tonumber(regex("^cron\\(([0-9]{1,2}) ([0-9]{1,2}) ", var.consistency_check.schedule_expression)[1]) +
      tonumber(regex("^cron\\(([0-9]{1,2}) ", var.consistency_check.schedule_expression)[0]) >=
      tonumber(regex("^cron\\(([0-9]{1,2}) ", var.schedule_expression)[0]) + ceil(var.start_retry_seconds / 60) + var.execution_timeout_minutes,
      false
    )
    error_message = "consistency_check.schedule_expression must be cron(M H * * ? *), once a day, no earlier than the refresh's start + start_retry_seconds + execution_timeout_minutes."
  }

  validation {
    condition     = var.consistency_check.execution_timeout_minutes >= 5 && var.consistency_check.execution_timeout_minutes <= 720
    error_message = "consistency_check.execution_timeout_minutes must be between 5 and 720."
  }

}

variable "consistency_spark_conf" {
  description = "Spark properties of the consistency run. The driver holds a day's (label, score) pairs for the AUCs, ~6.5 GB at 1,000 tx/s (docs/consistency.md): a 16 GB heap on a 4 vCPU driver, which EMR Serverless sizes 8-30 GB with the heap plus 10% overhead."
  type        = map(string)
  # Worker sizes and the overhead: https://docs.aws.amazon.com/emr/latest/EMR-Serverless-UserGuide/app-behavior.html
  default = {
    "spark.driver.cores"                   = "4"
    "spark.driver.memory"                  = "16g"
    "spark.executor.cores"                 = "2"
    "spark.executor.memory"                = "6g"
    "spark.dynamicAllocation.maxExecutors" = "2"
  }

  # The archive is the module's, not a setting: emr_entry.py looks for ./deps.
  validation {
    condition     = !contains(keys(var.consistency_spark_conf), "spark.archives")
    error_message = "consistency_spark_conf must not set spark.archives (the module passes consistency_check.dependencies_key as #deps)."
  }
}
