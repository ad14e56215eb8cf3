variable "name_prefix" {
  description = "Prefix of every bucket name; a bucket is named <name_prefix>-<logical name>-<random suffix>."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,19}$", var.name_prefix))
    error_message = "name_prefix must be 2-20 characters: a lower-case letter, then lower-case letters, digits or hyphens."
  }
}

variable "bucket_names" {
  description = "Logical names of the buckets: data (history, features), artifacts (code, model), offline-store (Feature Store offline store)."
  type        = list(string)
  default     = ["data", "artifacts", "offline-store"]

  validation {
    condition     = length(var.bucket_names) > 0 && alltrue([for n in var.bucket_names : can(regex("^[a-z][a-z0-9-]{1,14}$", n))])
    error_message = "bucket_names must be 2-15 characters each: lower-case letters, digits, hyphens."
  }
}

variable "kms_key_arn" {
  description = "ARN of the customer-managed KMS key for SSE-KMS default encryption."
  type        = string

  validation {
    condition     = can(regex("^arn:", var.kms_key_arn))
    error_message = "kms_key_arn must be a KMS key ARN."
  }
}

variable "noncurrent_version_expiration_days" {
  description = "Days after which overwritten or deleted object versions are removed."
  type        = number
  default     = 30

  validation {
    condition     = var.noncurrent_version_expiration_days >= 1
    error_message = "noncurrent_version_expiration_days must be >= 1."
  }
}

variable "force_destroy" {
  description = "Let `terraform destroy` delete non-empty buckets (true for a disposable demo; false to protect data)."
  type        = bool
  default     = true
}

variable "tags" {
  description = "Tags added to every taggable resource (merged over the module's defaults)."
  type        = map(string)
  default     = {}
}

variable "expirations" {
  description = "Objects deleted a number of days after they were written, by bucket (logical name) and key prefix (ending with '/')."
  type = list(object({
    bucket = string
    prefix = string
    days   = number
  }))
  default = []

  validation {
    condition     = alltrue([for e in var.expirations : contains(var.bucket_names, e.bucket) && endswith(e.prefix, "/") && e.days >= 1])
    error_message = "Each expiration needs a bucket from bucket_names, a prefix ending with '/' and days >= 1."
  }
}
