variable "name_prefix" {
  description = "Prefix of every resource name (lower-case letters, digits, hyphens)."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,19}$", var.name_prefix))
    error_message = "name_prefix must be 2-20 characters: a lower-case letter, then lower-case letters, digits or hyphens."
  }
}

variable "rotation_period_in_days" {
  description = "Days between automatic rotations of the key material."
  type        = number
  default     = 365

  validation {
    condition     = var.rotation_period_in_days >= 90 && var.rotation_period_in_days <= 2560
    error_message = "rotation_period_in_days must be between 90 and 2560 (AWS limits)."
  }
}

variable "deletion_window_in_days" {
  description = "Waiting period before the key is deleted after `terraform destroy`."
  type        = number
  default     = 7

  validation {
    condition     = var.deletion_window_in_days >= 7 && var.deletion_window_in_days <= 30
    error_message = "deletion_window_in_days must be between 7 and 30 (AWS limits)."
  }
}

variable "log_group_prefix" {
  description = "Only log groups whose names start with this may use the key (CloudWatch Logs condition)."
  type        = string
  default     = "/"
}

variable "tags" {
  description = "Tags added to every taggable resource (merged over the module's defaults)."
  type        = map(string)
  default     = {}
}
