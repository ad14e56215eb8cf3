variable "name_prefix" {
  description = "Prefix of every resource name; the application is <name_prefix>-aggregation."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,19}$", var.name_prefix))
    error_message = "name_prefix must be 2-20 characters: a lower-case letter, then lower-case letters, digits or hyphens."
  }
}

variable "code_bucket" {
  description = "Name of the S3 bucket holding the application zip (the artifacts bucket)."
  type        = string
}

variable "code_key" {
  description = "Key of the application zip in code_bucket (uploaded by `make deploy` from build/flink-app.zip)."
  type        = string
  default     = "flink/flink-app.zip"

  validation {
    condition     = endswith(var.code_key, ".zip")
    error_message = "code_key must name a .zip object."
  }
}

variable "python_main" {
  description = "Path of the PyFlink main file inside the zip (run option `python`)."
  type        = string
  default     = "jobs/flink/app.py"

  validation {
    condition     = endswith(var.python_main, ".py") && !startswith(var.python_main, "/")
    error_message = "python_main must be a relative path to a .py file inside the zip."
  }
}

variable "jarfile" {
  description = "Path of the Kinesis SQL connector jar inside the zip (run option `jarfile`)."
  type        = string
  default     = "lib/flink-sql-connector-kinesis.jar"

  validation {
    condition     = endswith(var.jarfile, ".jar") && !startswith(var.jarfile, "/")
    error_message = "jarfile must be a relative path to a .jar file inside the zip."
  }
}

variable "input_stream_arn" {
  description = "ARN of the transactions stream (input)."
  type        = string
}

variable "output_stream_arn" {
  description = "ARN of the aggregates stream (output: transaction + window features)."
  type        = string
}

variable "late_stream_arn" {
  description = "ARN of the late-records stream (rows behind the watermark, with their reason)."
  type        = string
}

variable "starting_position" {
  description = "Where the source starts reading the transactions stream when it has no state (first start, or a start without restore)."
  type        = string
  default     = "LATEST"

  validation {
    condition     = contains(["LATEST", "TRIM_HORIZON", "AT_TIMESTAMP"], var.starting_position)
    error_message = "starting_position must be LATEST, TRIM_HORIZON or AT_TIMESTAMP."
  }
}

variable "starting_timestamp" {
  description = "With starting_position AT_TIMESTAMP (required then): the time to start reading from, as 2026-01-31T00:00:00.000Z (milliseconds and an offset) or epoch seconds (runtime property source.init.timestamp)."
  type        = string
  default     = null

  validation {
    # The connector refuses AT_TIMESTAMP without source.init.timestamp, and only when the job starts.
    condition     = var.starting_position != "AT_TIMESTAMP" || var.starting_timestamp != null
    error_message = "starting_position AT_TIMESTAMP requires starting_timestamp (source.init.timestamp)."
  }

  validation {
    # What connector 5.0 parses: its default source.init.timestamp.format
    # yyyy-MM-dd'T'HH:mm:ss.SSSXXX, else a number of epoch seconds (KinesisStreamsSourceConfigUtil).
    condition     = var.starting_timestamp == null || can(regex("^([0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}(Z|[+-][0-9]{2}:[0-9]{2})|[0-9]+(\\.[0-9]+)?)$", var.starting_timestamp))
    error_message = "starting_timestamp must look like 2026-01-31T00:00:00.000Z (milliseconds and an offset) or be epoch seconds."
  }
}

variable "extra_properties" {
  description = "Extra entries of the FlinkApplicationProperties group (e.g. dedup.ttl, source.idle.timeout)."
  type        = map(string)
  default     = {}

  validation {
    condition     = length(setintersection(keys(var.extra_properties), ["input.stream.arn", "output.stream.arn", "late.stream.arn", "aws.region", "source.init.position", "source.init.timestamp"])) == 0
    error_message = "extra_properties must not set the stream ARNs, aws.region or source.init.*: the module sets them (starting_position, starting_timestamp)."
  }
}

variable "parallelism" {
  description = "Initial parallelism of the job: the shards of the transactions stream, one per source subtask (`python -m bench.capacity --tps N`)."
  type        = number
  default     = 1

  validation {
    condition     = var.parallelism >= 1 && floor(var.parallelism) == var.parallelism
    error_message = "parallelism must be a whole number >= 1."
  }
}

variable "parallelism_per_kpu" {
  description = "Parallel tasks per KPU (1 vCPU, 4 GB); with parallelism it sets the KPUs billed (`python -m bench.capacity --tps N` says how many subtasks a KPU can carry, an estimate)."
  type        = number
  default     = 1

  validation {
    condition     = var.parallelism_per_kpu >= 1 && var.parallelism_per_kpu <= 8
    error_message = "parallelism_per_kpu must be between 1 and 8."
  }
}

variable "autoscaling" {
  description = "Let the service change the parallelism with load. Off by default: the source needs one shard per subtask (parallelism = shards of the transactions stream), which a parallelism the service picks would break, routing on-time rows to the late stream after a backlog (jobs/flink/README.md). Scale by changing the shards and the parallelism together."
  type        = bool
  default     = false
}

variable "checkpoint_interval_ms" {
  description = "Interval between checkpoints in milliseconds (exactly-once state recovery)."
  type        = number
  default     = 60000

  validation {
    condition     = var.checkpoint_interval_ms >= 1000
    error_message = "checkpoint_interval_ms must be >= 1000."
  }
}

variable "min_pause_between_checkpoints_ms" {
  description = "Minimum pause between two checkpoints in milliseconds."
  type        = number
  default     = 5000

  validation {
    condition     = var.min_pause_between_checkpoints_ms >= 0
    error_message = "min_pause_between_checkpoints_ms must be >= 0."
  }
}

variable "log_level" {
  description = "Application log level sent to CloudWatch Logs."
  type        = string
  default     = "INFO"

  validation {
    condition     = contains(["DEBUG", "INFO", "WARN", "ERROR"], var.log_level)
    error_message = "log_level must be DEBUG, INFO, WARN or ERROR."
  }
}

variable "log_retention_days" {
  description = "Retention of the application log group in days."
  type        = number
  default     = 30

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be one of the values CloudWatch Logs accepts (1, 3, 5, 7, 14, 30, 60, 90, ... 3653)."
  }
}

variable "start_application" {
  description = "Run the application after apply: started on creation, restarted with the new code when code_key changes (false: create it stopped)."
  type        = bool
  default     = true
}

variable "restore_type" {
  description = "State the application starts or restarts from: RESTORE_FROM_LATEST_SNAPSHOT (windows and dedup state kept across updates) or SKIP_RESTORE_FROM_SNAPSHOT (start empty, at starting_position: needed once when a change of the SQL makes the last snapshot unreadable)."
  type        = string
  default     = "RESTORE_FROM_LATEST_SNAPSHOT"

  validation {
    condition     = contains(["RESTORE_FROM_LATEST_SNAPSHOT", "SKIP_RESTORE_FROM_SNAPSHOT"], var.restore_type)
    error_message = "restore_type must be RESTORE_FROM_LATEST_SNAPSHOT or SKIP_RESTORE_FROM_SNAPSHOT."
  }
}

variable "kms_key_arn" {
  description = "ARN of the customer-managed KMS key (streams, code bucket and log group)."
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
