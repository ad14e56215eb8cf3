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
  description = "Create the streaming aggregation app."
  type        = bool
  default     = true
}

variable "enable_model_endpoint" {
  description = "Create the model endpoint."
  type        = bool
  default     = true
}

variable "stream_mode" {
  description = "Kinesis capacity mode. PROVISIONED (the default) keeps the shard count fixed at shard_count, which the Flink app needs: one shard per source subtask (jobs/flink/README.md). ON_DEMAND lets Kinesis add shards (4 at creation), allowed only without the Flink app."
  type        = string
  default     = "PROVISIONED"

  validation {
    condition     = contains(["ON_DEMAND", "PROVISIONED"], var.stream_mode)
    error_message = "stream_mode must be ON_DEMAND or PROVISIONED."
  }
}

variable "shard_count" {
  description = "Shards per stream when stream_mode is PROVISIONED (1 shard: 1 MB/s or 1,000 records/s in). With the Flink app it must equal flink_parallelism. Size it with `python -m bench.capacity --tps N` (docs/capacity.md)."
  type        = number
  default     = 1

  validation {
    condition     = var.shard_count >= 1 && floor(var.shard_count) == var.shard_count
    error_message = "shard_count must be a whole number >= 1."
  }
}

variable "stream_retention_hours" {
  description = "Hours records stay in the streams (24 to 8760)."
  type        = number
  default     = 24
}

variable "online_ttl" {
  description = "Time to live of cc-agg-fg's online records from their event time (null: never expire); cc-agg-batch-fg's is the feature_groups module's online_ttl_by_group (30 hours)."
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

variable "endpoint_max_concurrency" {
  description = "Maximum concurrency of the serverless endpoint; with PROVISIONED streams it must cover shard_count x event_source.parallelization_factor (checked at plan; `python -m bench.capacity --tps N` prints it)."
  type        = number
  default     = 10
}

variable "model_path" {
  description = "Path of the model archive Terraform uploads (null: data/model/model.tar.gz, written by `make train`)."
  type        = string
  default     = null
}

variable "flink_zip_path" {
  description = "Path of the Flink application zip Terraform uploads (null: build/flink-app.zip from `make package-flink`)."
  type        = string
  default     = null
}

variable "batch_job_zip_path" {
  description = "Path of the batch job zip Terraform uploads (null: build/emr/batch-job.zip from `make package-emr`)."
  type        = string
  default     = null
}

variable "batch_deps_zip_path" {
  description = "Path of the daily refresh's dependency archive Terraform uploads (boto3 for EMR's Python; null: build/emr/batch-deps.zip from `make package-emr`)."
  type        = string
  default     = null
}

variable "flink_parallelism" {
  description = "Parallelism of the Flink application (KPUs billed: parallelism, plus one for the application). It must equal shard_count with stream_mode PROVISIONED: each source subtask then reads exactly one shard, so its per-row watermark never passes another shard's backlog (jobs/flink/README.md). Size it with `python -m bench.capacity --tps N` (docs/capacity.md)."
  type        = number
  default     = 1

  validation {
    condition = !(var.enable_streaming_app && var.streaming_engine == "flink") || (
      var.stream_mode == "PROVISIONED" && var.flink_parallelism == var.shard_count
    )
    error_message = "With the Flink app, stream_mode must be PROVISIONED and flink_parallelism must equal shard_count (one shard per source subtask; several shards behind one subtask route on-time rows to the late stream after a backlog, see jobs/flink/README.md)."
  }
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
  description = "Event source mapping settings of both functions (see the functions module). maximum_batching_window_in_seconds 0 invokes as soon as a poll returns records (the freshness budget: `python -m bench.capacity --tps N --latency`); parallelization_factor from `python -m bench.capacity --tps N`."
  type = object({
    starting_position                  = optional(string, "LATEST")
    batch_size                         = optional(number, 100)
    maximum_batching_window_in_seconds = optional(number, 0)
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

variable "emr_release_label" {
  description = "EMR Serverless release of the daily refresh (an emr-7.x release: PySpark on Python 3.9)."
  type        = string
  default     = "emr-7.14.0"
}

variable "enable_predictions_archive" {
  description = "Deliver the predictions stream to the data bucket with Amazon Data Firehose (predictions/dt=YYYY-MM-DD/, GZIP, SSE-KMS); the daily consistency run reads it."
  type        = bool
  default     = true
}

variable "predictions_retention_days" {
  description = "Days the predictions archive (card numbers, feature vectors) is kept; the consistency run compares every day still held, so this is also its window."
  type        = number
  default     = 7

  validation {
    condition     = var.predictions_retention_days >= 2
    error_message = "predictions_retention_days must be >= 2 (the run compares the previous day's predictions)."
  }
}

variable "enable_transactions_archive" {
  description = "Deliver the transactions stream to the data bucket with Amazon Data Firehose (transactions/dt=YYYY-MM-DD/*.json.gz, GZIP, SSE-KMS); the daily refresh reads it with --live beside the labelled history, so the batch features cover the transactions that were served. false: the refresh reads the history alone."
  type        = bool
  default     = true
}

variable "transactions_retention_days" {
  description = "Days the transactions archive is kept (transactions/ and transactions-errors/ expire after it). The archive holds card numbers, kept this long; and it is the only record of served transactions, so the history the refresh reads (beyond the labelled history/) shrinks to this horizon."
  type        = number
  default     = 400

  # The longest window (1 week) of a transaction needs the 7 days before it plus its own day.
  validation {
    condition     = var.transactions_retention_days >= 8
    error_message = "transactions_retention_days must be >= 8 (the 1-week window needs 8 days of transactions)."
  }
}

variable "enable_consistency_check" {
  description = "Run the consistency job (archived predictions vs the refreshed batch features, MatchRate metric and alarms) each morning after the daily refresh; needs enable_predictions_archive."
  type        = bool
  default     = true
}

variable "consistency_schedule_expression" {
  description = "When the consistency run starts, in UTC: after the refresh's start + retry window + execution timeout (02:15 with the defaults)."
  type        = string
  default     = "cron(30 2 * * ? *)"
}

variable "consistency_match_rate_threshold" {
  description = "Alarm when the consistency run's MatchRate (share of served transactions whose features match the batch job's) is below this."
  type        = number
  default     = 0.999
}

variable "consistency_job_zip_path" {
  description = "Path of the consistency run's bundle Terraform uploads (null: build/emr/consistency-job.zip from `make package-emr`)."
  type        = string
  default     = null
}

variable "flink_parallelism_per_kpu" {
  description = "Parallel tasks of the Flink application per KPU (1 to 8; the streaming_app module's parallelism_per_kpu). KPUs billed = ceil(flink_parallelism / flink_parallelism_per_kpu) + 1. 1 (the default) gives each subtask its own KPU; `python -m bench.capacity --tps N` says how many subtasks one KPU can carry at that rate (an estimate: measure before packing) and what it saves (docs/capacity.md)."
  type        = number
  default     = 1

  validation {
    condition     = var.flink_parallelism_per_kpu >= 1 && var.flink_parallelism_per_kpu <= 8 && floor(var.flink_parallelism_per_kpu) == var.flink_parallelism_per_kpu
    error_message = "flink_parallelism_per_kpu must be a whole number between 1 and 8."
  }
}

variable "enhanced_fan_out" {
  description = "Both functions read the aggregates stream through their own enhanced fan-out consumer (records pushed, ~70 ms, instead of a poll a second; the functions module's enhanced_fan_out). Cost: ~$22 a month per shard for the two consumers plus $0.013 per GB read (provisioned-mode prices; `python -m bench.capacity --tps N --latency`, docs/capacity.md). false: standard iterators, the p99 budget grows by ~0.9 s."
  type        = bool
  default     = true
}

variable "consistency_deps_zip_path" {
  description = "Path of the consistency run's dependency archive Terraform uploads (XGBoost, scikit-learn, numpy, scipy, boto3 as CPython 3.9 x86_64 wheels; null: build/emr/consistency-deps.zip from `make package-emr`)."
  type        = string
  default     = null
}
