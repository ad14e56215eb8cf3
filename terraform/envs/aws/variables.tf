variable "region" {
  description = "AWS region to deploy to."
  type        = string
  default     = "us-east-1"

  validation {
    condition     = can(regex("^[a-z]{2}(-gov)?-[a-z]+-[0-9]$", var.region))
    error_message = "region must be an AWS region name such as us-east-1."
  }
}

variable "name_prefix" {
  description = "Prefix of every resource name (2-20 lower-case letters, digits, hyphens); deploy twice with different prefixes for two stacks."
  type        = string
  default     = "fraud"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,19}$", var.name_prefix))
    error_message = "name_prefix must be 2-20 characters: a lower-case letter, then lower-case letters, digits or hyphens."
  }
}

variable "tags" {
  description = "Extra tags on every resource (merged over project, managed-by and deployment)."
  type        = map(string)
  default     = {}
}

variable "offline" {
  description = "Skip credential, account and metadata checks (offline plans in tests only; never for a real deploy)."
  type        = bool
  default     = false
}

variable "streaming_engine" {
  description = "Streaming aggregation engine: flink (Managed Service for Apache Flink) or kda_sql (legacy KDA SQL: AWS accepts no new applications since 2025-10-15)."
  type        = string
  default     = "flink"

  validation {
    condition     = contains(["flink", "kda_sql"], var.streaming_engine)
    error_message = "streaming_engine must be flink or kda_sql."
  }
}

variable "enable_streaming_app" {
  description = "Create the streaming aggregation app (false until its code is uploaded; `make deploy` handles this)."
  type        = bool
  default     = true
}

variable "enable_model_endpoint" {
  description = "Create the model endpoint (false until model.tar.gz is uploaded; `make deploy` handles this)."
  type        = bool
  default     = true
}

variable "stream_mode" {
  description = "Kinesis capacity mode: ON_DEMAND or PROVISIONED."
  type        = string
  default     = "ON_DEMAND"

  validation {
    condition     = contains(["ON_DEMAND", "PROVISIONED"], var.stream_mode)
    error_message = "stream_mode must be ON_DEMAND or PROVISIONED."
  }
}

variable "shard_count" {
  description = "Shards per stream when stream_mode is PROVISIONED."
  type        = number
  default     = 1
}

variable "stream_retention_hours" {
  description = "Hours records stay in the streams (24 to 8760)."
  type        = number
  default     = 24
}

variable "online_ttl" {
  description = "Time to live of online feature records (null: never expire)."
  type = object({
    unit  = string
    value = number
  })
  default = { unit = "Days", value = 8 }
}

variable "offline_table_format" {
  description = "Offline-store table format of cc-agg-batch-fg: Glue or Iceberg."
  type        = string
  default     = "Glue"
}

variable "endpoint_type" {
  description = "Model endpoint: serverless (pay per request) or instances (always on)."
  type        = string
  default     = "serverless"
}

variable "model_data_key" {
  description = "Key of model.tar.gz in the artifacts bucket (uploaded by `make deploy`)."
  type        = string
  default     = "model/model.tar.gz"
}

variable "flink_app_key" {
  description = "Key of the Flink application zip in the artifacts bucket (uploaded by `make deploy`)."
  type        = string
  default     = "flink/flink-app.zip"
}

variable "flink_parallelism" {
  description = "Initial parallelism of the Flink application."
  type        = number
  default     = 1
}

variable "ingest_zip_path" {
  description = "Path of the ingest function zip (null: build/lambda/ingest.zip from `make package`)."
  type        = string
  default     = null
}

variable "score_zip_path" {
  description = "Path of the score function zip (null: build/lambda/score.zip from `make package`)."
  type        = string
  default     = null
}

variable "fraud_threshold" {
  description = "Probability at or above which a transaction is flagged (null: the definition's serving threshold)."
  type        = number
  default     = null
}

variable "event_source" {
  description = "Event source mapping settings of both functions (see the functions module)."
  type = object({
    starting_position                  = optional(string, "LATEST")
    batch_size                         = optional(number, 100)
    maximum_batching_window_in_seconds = optional(number, 1)
    parallelization_factor             = optional(number, 1)
    maximum_retry_attempts             = optional(number, 3)
    maximum_record_age_in_seconds      = optional(number, 3600)
  })
  default = {}
}

variable "log_retention_days" {
  description = "Retention of every log group in days."
  type        = number
  default     = 30
}

variable "force_destroy_buckets" {
  description = "Let `make destroy` delete non-empty buckets."
  type        = bool
  default     = true
}

variable "create_alarm_topic" {
  description = "Create an encrypted SNS topic for the alarms."
  type        = bool
  default     = true
}

variable "alarm_emails" {
  description = "E-mail addresses subscribed to the alarm topic."
  type        = list(string)
  default     = []
}

variable "enable_daily_refresh" {
  description = "Refresh cc-agg-batch-fg after each UTC midnight (EMR Serverless job started by EventBridge Scheduler); false disables the schedule."
  type        = bool
  default     = true
}

variable "batch_job_zip_path" {
  description = "Path of the batch job's bundle (null: build/emr/batch-job.zip from `make package-emr`)."
  type        = string
  default     = null
}

variable "emr_release_label" {
  description = "EMR Serverless release of the daily refresh (an emr-7.x release: PySpark on Python 3.9)."
  type        = string
  default     = "emr-7.14.0"
}
