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
  description = "Where the source starts reading the transactions stream the first time."
  type        = string
  default     = "LATEST"

  validation {
    condition     = contains(["LATEST", "TRIM_HORIZON", "AT_TIMESTAMP"], var.starting_position)
    error_message = "starting_position must be LATEST, TRIM_HORIZON or AT_TIMESTAMP."
  }
}

variable "extra_properties" {
  description = "Extra entries of the FlinkApplicationProperties group (e.g. dedup.ttl, source.init.timestamp)."
  type        = map(string)
  default     = {}
}

variable "parallelism" {
  description = "Initial parallelism of the job."
  type        = number
  default     = 1

  validation {
    condition     = var.parallelism >= 1 && floor(var.parallelism) == var.parallelism
    error_message = "parallelism must be a whole number >= 1."
  }
}

variable "parallelism_per_kpu" {
  description = "Parallel tasks per KPU (1 vCPU, 4 GB); with parallelism it sets the KPUs billed."
  type        = number
  default     = 1

  validation {
    condition     = var.parallelism_per_kpu >= 1 && var.parallelism_per_kpu <= 8
    error_message = "parallelism_per_kpu must be between 1 and 8."
  }
}

variable "autoscaling" {
  description = "Let the service scale parallelism with load."
  type        = bool
  default     = true
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
  description = "Start the application after creating it (false: create it stopped)."
  type        = bool
  default     = true
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
