variable "name_prefix" {
  description = "Prefix of every resource name; the application is <name_prefix>-aggregation-sql."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,19}$", var.name_prefix))
    error_message = "name_prefix must be 2-20 characters: a lower-case letter, then lower-case letters, digits or hyphens."
  }
}

variable "sql_path" {
  description = "Path of the application SQL rendered from the definition (features/rendered/kda.sql)."
  type        = string

  validation {
    condition     = endswith(var.sql_path, ".sql") && fileexists(var.sql_path)
    error_message = "sql_path must be an existing .sql file (run `make render`)."
  }
}

variable "input_schema_path" {
  description = "Path of the JSON input schema rendered from the definition (features/rendered/kda_input_schema.json)."
  type        = string

  validation {
    condition     = endswith(var.input_schema_path, ".json") && fileexists(var.input_schema_path)
    error_message = "input_schema_path must be an existing .json file (run `make render`)."
  }
}

variable "input_stream_arn" {
  description = "ARN of the transactions stream (input)."
  type        = string
}

variable "output_stream_arn" {
  description = "ARN of the aggregates stream (output)."
  type        = string
}

variable "input_parallelism" {
  description = "In-application input streams (1 keeps every card's rows in one window)."
  type        = number
  default     = 1

  validation {
    condition     = var.input_parallelism >= 1 && var.input_parallelism <= 64
    error_message = "input_parallelism must be between 1 and 64."
  }
}

variable "starting_position" {
  description = "Where the application starts reading the transactions stream."
  type        = string
  default     = "NOW"

  validation {
    condition     = contains(["NOW", "TRIM_HORIZON", "LAST_STOPPED_POINT"], var.starting_position)
    error_message = "starting_position must be NOW, TRIM_HORIZON or LAST_STOPPED_POINT."
  }
}

variable "start_application" {
  description = "Start the application after creating it."
  type        = bool
  default     = true
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

variable "kms_key_arn" {
  description = "ARN of the customer-managed KMS key (streams and log group)."
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
