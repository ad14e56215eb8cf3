variable "name_prefix" {
  description = "Prefix of every resource name; functions are <name_prefix>-ingest and <name_prefix>-score."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,19}$", var.name_prefix))
    error_message = "name_prefix must be 2-20 characters: a lower-case letter, then lower-case letters, digits or hyphens."
  }
}

variable "create_functions" {
  description = "Create the functions, roles and event source mappings (false: only the dead-letter queue and log groups, e.g. for LocalStack)."
  type        = bool
  default     = true
}

variable "ingest_zip_path" {
  description = "Path of the ingest function zip built by `make package` (build/lambda/ingest.zip)."
  type        = string
  default     = null

  validation {
    condition     = !var.create_functions || try(endswith(var.ingest_zip_path, ".zip"), false)
    error_message = "ingest_zip_path must be the path of a .zip file when create_functions is true."
  }
}

variable "score_zip_path" {
  description = "Path of the score function zip built by `make package` (build/lambda/score.zip)."
  type        = string
  default     = null

  validation {
    condition     = !var.create_functions || try(endswith(var.score_zip_path, ".zip"), false)
    error_message = "score_zip_path must be the path of a .zip file when create_functions is true."
  }
}

variable "runtime" {
  description = "Lambda Python runtime (the project is built and tested on Python 3.11)."
  type        = string
  default     = "python3.11"

  validation {
    condition     = contains(["python3.11", "python3.12"], var.runtime)
    error_message = "runtime must be python3.11 or python3.12."
  }
}

variable "memory_size" {
  description = "Memory of each function in MB (CPU scales with it)."
  type        = number
  default     = 256

  validation {
    condition     = var.memory_size >= 128 && var.memory_size <= 10240
    error_message = "memory_size must be between 128 and 10240 MB."
  }
}

variable "timeout" {
  description = "Timeout of one invocation in seconds (one batch of stream records)."
  type        = number
  default     = 60

  validation {
    condition     = var.timeout >= 1 && var.timeout <= 900
    error_message = "timeout must be between 1 and 900 seconds."
  }
}

variable "reserved_concurrency" {
  description = "Reserved concurrent executions per function (-1: unreserved; new accounts cannot reserve)."
  type        = number
  default     = -1

  validation {
    condition     = var.reserved_concurrency >= -1
    error_message = "reserved_concurrency must be -1 (unreserved) or >= 0."
  }
}

variable "source_stream_arn" {
  description = "ARN of the aggregates stream both functions consume."
  type        = string
  default     = null

  validation {
    condition     = !var.create_functions || var.source_stream_arn != null
    error_message = "source_stream_arn is required when create_functions is true."
  }
}

variable "event_source" {
  description = "Event source mapping settings shared by both functions (retries, record age and batching). maximum_batching_window_in_seconds 0 (the default) invokes as soon as a poll returns records: a window adds up to its length to every prediction's latency (`python -m bench.capacity --latency`). Concurrency per function = shards x parallelization_factor (`python -m bench.capacity --tps N`)."
  type = object({
    starting_position                  = optional(string, "LATEST")
    batch_size                         = optional(number, 100)
    maximum_batching_window_in_seconds = optional(number, 0)
    parallelization_factor             = optional(number, 1)
    maximum_retry_attempts             = optional(number, 3)
    maximum_record_age_in_seconds      = optional(number, 3600)
  })
  default = {}

  validation {
    condition     = contains(["LATEST", "TRIM_HORIZON"], var.event_source.starting_position)
    error_message = "event_source.starting_position must be LATEST or TRIM_HORIZON."
  }
  validation {
    # The score function reads a batch's cards with one BatchGetRecord, which carries at most 100
    # records (https://docs.aws.amazon.com/sagemaker/latest/dg/feature-store-quotas.html).
    condition     = var.event_source.batch_size >= 1 && var.event_source.batch_size <= 100
    error_message = "event_source.batch_size must be between 1 and 100 (one BatchGetRecord call reads at most 100 records)."
  }
  validation {
    condition     = var.event_source.maximum_batching_window_in_seconds >= 0 && var.event_source.maximum_batching_window_in_seconds <= 300
    error_message = "event_source.maximum_batching_window_in_seconds must be between 0 and 300."
  }
  validation {
    condition     = var.event_source.parallelization_factor >= 1 && var.event_source.parallelization_factor <= 10
    error_message = "event_source.parallelization_factor must be between 1 and 10."
  }
  validation {
    # Bounded: -1 (infinite retries) would block a shard behind one poison batch.
    condition     = var.event_source.maximum_retry_attempts >= 0 && var.event_source.maximum_retry_attempts <= 10000
    error_message = "event_source.maximum_retry_attempts must be between 0 and 10000 (bounded retries)."
  }
  validation {
    # Bounded: -1 (no limit) would keep retrying records until the stream expires them.
    condition     = var.event_source.maximum_record_age_in_seconds >= 60 && var.event_source.maximum_record_age_in_seconds <= 604800
    error_message = "event_source.maximum_record_age_in_seconds must be between 60 and 604800 (bounded age)."
  }
}

variable "enhanced_fan_out" {
  description = "Map each function to its own enhanced fan-out consumer of the aggregates stream (aws_kinesis_stream_consumer) instead of a standard iterator: records are pushed, ~70 ms average propagation instead of a poll a second (https://docs.aws.amazon.com/streams/latest/dev/enhanced-consumers.html), the largest cut of the event-to-prediction budget after the Flink sink's flush (`python -m bench.capacity --tps N --latency`). Cost: $0.015 per consumer-shard-hour, ~$11 a month per function and shard (~$22 for the two), plus $0.013 per GB they read (us-east-1 prices read 2026-12-06, https://aws.amazon.com/kinesis/data-streams/pricing/): ~$59 a month at 1,000 tx/s. false: standard iterators, no extra charge."
  type        = bool
  default     = true
}

variable "streaming_feature_group_name" {
  description = "Name of the streaming feature group (cc-agg-fg) the ingest function writes."
  type        = string
  default     = null

  validation {
    condition     = !var.create_functions || var.streaming_feature_group_name != null
    error_message = "streaming_feature_group_name is required when create_functions is true."
  }
}

variable "streaming_feature_group_arn" {
  description = "ARN of the streaming feature group."
  type        = string
  default     = null

  validation {
    condition     = !var.create_functions || var.streaming_feature_group_arn != null
    error_message = "streaming_feature_group_arn is required when create_functions is true."
  }
}

variable "batch_feature_group_name" {
  description = "Name of the batch feature group (cc-agg-batch-fg) the score function reads."
  type        = string
  default     = null

  validation {
    condition     = !var.create_functions || var.batch_feature_group_name != null
    error_message = "batch_feature_group_name is required when create_functions is true."
  }
}

variable "batch_feature_group_arn" {
  description = "ARN of the batch feature group."
  type        = string
  default     = null

  validation {
    condition     = !var.create_functions || var.batch_feature_group_arn != null
    error_message = "batch_feature_group_arn is required when create_functions is true."
  }
}

variable "endpoint_name" {
  description = "Name of the SageMaker endpoint serving the fraud model."
  type        = string
  default     = null

  validation {
    condition     = !var.create_functions || var.endpoint_name != null
    error_message = "endpoint_name is required when create_functions is true."
  }
}

variable "endpoint_arn" {
  description = "ARN of the SageMaker endpoint (scopes sagemaker:InvokeEndpoint)."
  type        = string
  default     = null

  validation {
    condition     = !var.create_functions || var.endpoint_arn != null
    error_message = "endpoint_arn is required when create_functions is true."
  }
}

variable "fraud_threshold" {
  description = "Probability at or above which a transaction is flagged as fraud."
  type        = number
  default     = 0.25

  validation {
    condition     = var.fraud_threshold > 0 && var.fraud_threshold < 1
    error_message = "fraud_threshold must be strictly between 0 and 1."
  }
}

variable "predictions_stream_name" {
  description = "Name of the Kinesis stream the score function writes one prediction record to per transaction."
  type        = string
  default     = null

  validation {
    condition     = !var.create_functions || var.predictions_stream_name != null
    error_message = "predictions_stream_name is required when create_functions is true."
  }
}

variable "predictions_stream_arn" {
  description = "ARN of the predictions stream (scopes kinesis:PutRecord)."
  type        = string
  default     = null

  validation {
    condition     = !var.create_functions || var.predictions_stream_arn != null
    error_message = "predictions_stream_arn is required when create_functions is true."
  }
}

variable "metrics_namespace" {
  description = "CloudWatch namespace of the business metrics (null: name_prefix)."
  type        = string
  default     = null
}

variable "log_level" {
  description = "Log level of the functions (Powertools)."
  type        = string
  default     = "INFO"

  validation {
    condition     = contains(["DEBUG", "INFO", "WARNING", "ERROR"], var.log_level)
    error_message = "log_level must be DEBUG, INFO, WARNING or ERROR."
  }
}

variable "extra_environment" {
  description = "Extra environment variables for both functions (merged last)."
  type        = map(string)
  default     = {}
}

variable "log_retention_days" {
  description = "Retention of the function log groups in days."
  type        = number
  default     = 30

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be one of the values CloudWatch Logs accepts (1, 3, 5, 7, 14, 30, 60, 90, ... 3653)."
  }
}

variable "dead_letter_retention_seconds" {
  description = "How long dead letters stay in the queue (60 s to 14 days)."
  type        = number
  default     = 1209600

  validation {
    condition     = var.dead_letter_retention_seconds >= 60 && var.dead_letter_retention_seconds <= 1209600
    error_message = "dead_letter_retention_seconds must be between 60 and 1209600."
  }
}

variable "kms_key_arn" {
  description = "ARN of the customer-managed KMS key (queue, log groups, function environment)."
  type        = string

  validation {
    condition     = can(regex("^arn:", var.kms_key_arn))
    error_message = "kms_key_arn must be a KMS key ARN."
  }
}

variable "tags" {
  description = "Tags added to every taggable resource (merged over the module's defaults)."
  type        = map(string)
  default     = {}
}
