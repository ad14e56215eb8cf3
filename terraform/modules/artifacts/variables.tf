variable "bucket" {
  description = "Name of the bucket the artifacts are uploaded to."
  type        = string
}

variable "files" {
  description = "Artifacts to upload: logical name (the key's first segment) => local file path. A missing file is skipped."
  type        = map(string)

  validation {
    condition     = alltrue([for name in keys(var.files) : can(regex("^[a-z0-9][a-z0-9-]*$", name))])
    error_message = "Artifact names must be lower-case letters, digits and hyphens (they become S3 key segments)."
  }
}

variable "prefix" {
  description = "Key prefix of every artifact (empty, or ending in '/')."
  type        = string
  default     = "artifacts/"

  validation {
    condition     = var.prefix == "" || endswith(var.prefix, "/")
    error_message = "prefix must be empty or end with '/'."
  }
}

variable "kms_key_arn" {
  description = "ARN of the KMS key the objects are encrypted with (SSE-KMS)."
  type        = string
}

variable "tags" {
  description = "Tags added to every object."
  type        = map(string)
  default     = {}
}
