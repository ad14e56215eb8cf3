variable "name_prefix" {
  description = "Prefix of every stream name; a stream is named <name_prefix>-<logical name>."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,19}$", var.name_prefix))
    error_message = "name_prefix must be 2-20 characters: a lower-case letter, then lower-case letters, digits or hyphens."
  }
}

variable "stream_names" {
  description = "Logical names of the streams to create (transactions in, aggregates out, late records, predictions)."
  type        = list(string)
  default     = ["transactions", "aggregates", "late", "predictions"]

  validation {
    condition     = length(var.stream_names) > 0 && alltrue([for n in var.stream_names : can(regex("^[a-z][a-z0-9-]{0,40}$", n))])
    error_message = "stream_names must be non-empty lower-case names (letters, digits, hyphens)."
  }
}

variable "mode" {
  description = "Capacity mode: ON_DEMAND (pay per use, scales by itself) or PROVISIONED (fixed shards)."
  type        = string
  default     = "ON_DEMAND"

  validation {
    condition     = contains(["ON_DEMAND", "PROVISIONED"], var.mode)
    error_message = "mode must be ON_DEMAND or PROVISIONED."
  }
}

variable "shard_count" {
  description = "Shards per stream in PROVISIONED mode (ignored ON_DEMAND); size it with `python -m bench.capacity --tps N`."
  type        = number
  default     = 1

  validation {
    condition     = var.shard_count >= 1 && floor(var.shard_count) == var.shard_count
    error_message = "shard_count must be a whole number >= 1."
  }
}

variable "retention_hours" {
  description = "Hours a record stays readable (24 to 8760)."
  type        = number
  default     = 24

  validation {
    condition     = var.retention_hours >= 24 && var.retention_hours <= 8760
    error_message = "retention_hours must be between 24 and 8760."
  }
}

variable "shard_level_metrics" {
  description = "Enhanced shard-level CloudWatch metrics to enable (extra cost)."
  type        = list(string)
  default     = []
}

variable "kms_key_arn" {
  description = "ARN of the customer-managed KMS key that encrypts the streams."
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
