variable "name_prefix" {
  description = "Prefix of every resource name; a feature group is named <name_prefix>-<definition name>."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,19}$", var.name_prefix))
    error_message = "name_prefix must be 2-20 characters: a lower-case letter, then lower-case letters, digits or hyphens."
  }
}

variable "definitions_dir" {
  description = "Folder of the feature-group JSON files rendered from the feature definition (features/rendered/feature_groups)."
  type        = string

  validation {
    condition     = length(fileset(var.definitions_dir, "*.json")) > 0
    error_message = "definitions_dir must contain the rendered feature-group JSON files (run `make render`)."
  }
}

variable "online_ttl" {
  description = "Time to live of online-store records of the groups not in online_ttl_by_group, counted from each record's event time (null: records never expire)."
  type = object({
    unit  = string
    value = number
  })
  default = { unit = "Days", value = 8 }

  validation {
    condition     = var.online_ttl == null || try(contains(["Seconds", "Minutes", "Hours", "Days", "Weeks"], var.online_ttl.unit) && var.online_ttl.value >= 1, false)
    error_message = "online_ttl.unit must be Seconds, Minutes, Hours, Days or Weeks and online_ttl.value >= 1."
  }
}

variable "online_ttl_by_group" {
  description = "Online time to live per definition name, over online_ttl (ExpiresAt = EventTime + TTL). Default: cc-agg-batch-fg 30 hours. A snapshot carries its UTC midnight as event time and the daily refresh writes the next one shortly after the next midnight: 24 h keep the current snapshot online until then, 6 h more of grace cover a late or retried refresh. Short on purpose: when a refresh fails, the records lapse by 06:00 UTC and cards score as unknown (caveat, dead letter, alarm) instead of being served a stale snapshot silently."
  type = map(object({
    unit  = string
    value = number
  }))
  default = { "cc-agg-batch-fg" = { unit = "Hours", value = 30 } }

  validation {
    condition     = alltrue([for t in values(var.online_ttl_by_group) : contains(["Seconds", "Minutes", "Hours", "Days", "Weeks"], t.unit) && t.value >= 1])
    error_message = "online_ttl_by_group units must be Seconds, Minutes, Hours, Days or Weeks and values >= 1."
  }
}

variable "table_format" {
  description = "Offline-store table format: Glue (Hive-style Parquet) or Iceberg."
  type        = string
  default     = "Glue"

  validation {
    condition     = contains(["Glue", "Iceberg"], var.table_format)
    error_message = "table_format must be Glue or Iceberg."
  }
}

variable "offline_store_bucket" {
  description = "Name of the S3 bucket holding the offline store."
  type        = string
}

variable "offline_store_prefix" {
  description = "Key prefix of the offline store inside the bucket (ends with /)."
  type        = string
  default     = "feature-store/"

  validation {
    condition     = can(regex("^[a-zA-Z0-9!_.*'()-]+(/[a-zA-Z0-9!_.*'()-]+)*/$", var.offline_store_prefix))
    error_message = "offline_store_prefix must be a relative S3 key prefix ending with /."
  }
}

variable "kms_key_arn" {
  description = "ARN of the customer-managed KMS key for the online and offline stores."
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
