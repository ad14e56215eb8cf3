variable "endpoint" {
  description = "LocalStack gateway URL (loopback only)."
  type        = string
  default     = "http://127.0.0.1:4566"

  validation {
    condition     = can(regex("^https?://(127\\.0\\.0\\.1|localhost)(:[0-9]+)?/?$", var.endpoint))
    error_message = "endpoint must be a loopback URL such as http://127.0.0.1:4566."
  }
}

variable "region" {
  description = "Region LocalStack emulates."
  type        = string
  default     = "us-east-1"
}

variable "localstack_access_key" {
  description = "LocalStack's dummy access key (any value works)."
  type        = string
  default     = "test"
}

variable "localstack_secret_key" {
  description = "LocalStack's dummy secret key (any value works)."
  type        = string
  default     = "test"
  sensitive   = true
}

variable "name_prefix" {
  description = "Prefix of every resource name."
  type        = string
  default     = "fraud-local"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,19}$", var.name_prefix))
    error_message = "name_prefix must be 2-20 characters: a lower-case letter, then lower-case letters, digits or hyphens."
  }
}

variable "shard_count" {
  description = "Shards per stream."
  type        = number
  default     = 1
}

variable "tags" {
  description = "Extra tags on every resource."
  type        = map(string)
  default     = {}
}

variable "model_path" {
  description = "model.tar.gz to upload (null: <repo>/data/model/model.tar.gz; skipped when missing)."
  type        = string
  default     = null
}

variable "flink_zip_path" {
  description = "Flink application zip to upload (null: <repo>/build/flink-app.zip; skipped when missing)."
  type        = string
  default     = null
}

variable "batch_job_zip_path" {
  description = "Batch job zip to upload (null: <repo>/build/emr/batch-job.zip; skipped when missing)."
  type        = string
  default     = null
}
