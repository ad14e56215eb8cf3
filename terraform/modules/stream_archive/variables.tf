variable "name_prefix" {
  description = "Prefix of every resource name; the delivery stream is <name_prefix>-<name>-archive."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,19}$", var.name_prefix))
    error_message = "name_prefix must be 2-20 characters: a lower-case letter, then lower-case letters, digits or hyphens."
  }
}

variable "name" {
  description = "What is archived, in the names of the delivery stream (<name_prefix>-<name>-archive), its log group and role: the source stream's logical name (predictions, transactions)."
  type        = string

  # A delivery stream name is 1-64 of [a-zA-Z0-9_.-]
  # (https://docs.aws.amazon.com/firehose/latest/APIReference/API_CreateDeliveryStream.html).
  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,34}$", var.name)) && length("${var.name_prefix}-${var.name}-archive") <= 64
    error_message = "name must be 2-35 characters (a lower-case letter, then lower-case letters, digits or hyphens) and <name_prefix>-<name>-archive at most 64."
  }
}

variable "source_stream_arn" {
  description = "ARN of the Kinesis stream archived (the only stream the delivery role may read)."
  type        = string

  validation {
    condition     = can(regex("^arn:[a-z-]+:kinesis:[a-z0-9-]+:[0-9]{12}:stream/", var.source_stream_arn))
    error_message = "source_stream_arn must be a Kinesis stream ARN."
  }
}

variable "bucket" {
  description = "Name of the bucket the archive is delivered to (the deployment's data bucket: SSE-KMS, public access blocked, lifecycle)."
  type        = string
}

variable "prefix" {
  description = "Key prefix of the archive (e.g. predictions/); objects land under <prefix>dt=YYYY-MM-DD/ (UTC day of arrival). Ends with '/'."
  type        = string

  validation {
    condition     = endswith(var.prefix, "/") && !startswith(var.prefix, "/") && !strcontains(var.prefix, "!{")
    error_message = "prefix must end with '/', not start with one, and hold no !{...} expression (the module adds dt=)."
  }
}

variable "error_prefix" {
  description = "Key prefix of records Firehose failed to deliver (<error_prefix><error type>/dt=YYYY-MM-DD/), e.g. predictions-errors/; ends with '/', outside prefix."
  type        = string

  # Outside the archive's prefix: a reader of the archive never meets a failed record.
  validation {
    condition     = endswith(var.error_prefix, "/") && !startswith(var.error_prefix, "/") && !strcontains(var.error_prefix, "!{") && !startswith(var.error_prefix, var.prefix)
    error_message = "error_prefix must end with '/', not start with one, hold no !{...} expression and not lie under prefix."
  }
}

variable "buffering_interval_seconds" {
  description = "Firehose writes an object at least this often (0 to 900 s): how far the archive may lag the stream."
  type        = number
  default     = 300

  validation {
    condition     = var.buffering_interval_seconds >= 0 && var.buffering_interval_seconds <= 900
    error_message = "buffering_interval_seconds must be between 0 and 900."
  }
}

variable "buffering_size_mb" {
  description = "Firehose writes an object once this much data is buffered (1 to 128 MiB, before GZIP)."
  type        = number
  default     = 64

  validation {
    condition     = var.buffering_size_mb >= 1 && var.buffering_size_mb <= 128
    error_message = "buffering_size_mb must be between 1 and 128."
  }
}

variable "log_retention_days" {
  description = "Retention of the delivery error log group in days."
  type        = number
  default     = 30
}

variable "kms_key_arn" {
  description = "ARN of the deployment's KMS key: the source stream's encryption (read), the archive's SSE-KMS (write), the log group."
  type        = string

  validation {
    condition     = can(regex("^arn:[a-z-]+:kms:[a-z0-9-]+:[0-9]{12}:key/", var.kms_key_arn))
    error_message = "kms_key_arn must be a KMS key ARN (arn:<partition>:kms:<region>:<account>:key/<id>)."
  }
}

variable "tags" {
  description = "Tags added to every taggable resource (merged over the module's defaults)."
  type        = map(string)
  default     = {}
}
