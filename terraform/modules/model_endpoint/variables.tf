variable "name_prefix" {
  description = "Prefix of the resource names (roles)."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,19}$", var.name_prefix))
    error_message = "name_prefix must be 2-20 characters: a lower-case letter, then lower-case letters, digits or hyphens."
  }
}

variable "endpoint_name" {
  description = "Name of the endpoint (the score function's ENDPOINT_NAME)."
  type        = string

  validation {
    condition     = can(regex("^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,40}$", var.endpoint_name))
    error_message = "endpoint_name must be 1-41 letters, digits or single hyphens, starting and ending with a letter or digit."
  }
}

variable "model_data_bucket" {
  description = "Name of the S3 bucket holding model.tar.gz (the artifacts bucket)."
  type        = string
}

variable "model_data_key" {
  description = "Key of the XGBoost model archive in model_data_bucket (uploaded by `make deploy`)."
  type        = string
  default     = "model/model.tar.gz"

  validation {
    condition     = endswith(var.model_data_key, ".tar.gz")
    error_message = "model_data_key must name a .tar.gz object (SageMaker model archive)."
  }
}

variable "xgboost_image_tag" {
  description = "Tag of the prebuilt SageMaker XGBoost image (framework version, e.g. 1.7-1)."
  type        = string
  default     = "1.7-1"

  validation {
    condition     = can(regex("^[0-9]+\\.[0-9]+-[0-9]+$", var.xgboost_image_tag))
    error_message = "xgboost_image_tag must look like 1.7-1."
  }
}

variable "endpoint_type" {
  description = "serverless (pay per request, cold starts) or instances (always-on instances, steady latency)."
  type        = string
  default     = "serverless"

  validation {
    condition     = contains(["serverless", "instances"], var.endpoint_type)
    error_message = "endpoint_type must be serverless or instances."
  }
}

variable "serverless_memory_mb" {
  description = "Memory of a serverless endpoint in MB (1024 to 6144, a multiple of 1024)."
  type        = number
  default     = 2048

  validation {
    condition     = contains([1024, 2048, 3072, 4096, 5120, 6144], var.serverless_memory_mb)
    error_message = "serverless_memory_mb must be 1024, 2048, 3072, 4096, 5120 or 6144."
  }
}

variable "serverless_max_concurrency" {
  description = "Maximum concurrent invocations of a serverless endpoint (requests beyond it are throttled); must cover expected_concurrency."
  type        = number
  default     = 10

  validation {
    condition     = var.serverless_max_concurrency >= 1 && var.serverless_max_concurrency <= 200
    error_message = "serverless_max_concurrency must be between 1 and 200."
  }
}

variable "expected_concurrency" {
  description = "Most concurrent InvokeEndpoint callers (the score function: shards x parallelization factor); a serverless endpoint's max concurrency must cover it (null: not checked)."
  type        = number
  default     = null

  validation {
    condition     = var.expected_concurrency == null || try(var.expected_concurrency >= 1, false)
    error_message = "expected_concurrency must be null or >= 1."
  }
}

variable "instance_type" {
  description = "Instance type with endpoint_type = instances."
  type        = string
  default     = "ml.m5.large"

  validation {
    condition     = startswith(var.instance_type, "ml.")
    error_message = "instance_type must be a SageMaker instance type (ml.*)."
  }
}

variable "instance_count" {
  description = "Initial instance count with endpoint_type = instances."
  type        = number
  default     = 1

  validation {
    condition     = var.instance_count >= 1
    error_message = "instance_count must be >= 1."
  }
}

variable "variant_name" {
  description = "Name of the production variant (alarm dimension VariantName)."
  type        = string
  default     = "AllTraffic"
}

variable "log_retention_days" {
  description = "Retention of the endpoint log group in days."
  type        = number
  default     = 30

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be one of the values CloudWatch Logs accepts (1, 3, 5, 7, 14, 30, 60, 90, ... 3653)."
  }
}

variable "kms_key_arn" {
  description = "ARN of the customer-managed KMS key (endpoint storage and image, model object, log group)."
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

variable "create_training_role" {
  description = "Create the execution role for SageMaker training jobs (jobs/training/sagemaker_launch.py --role)."
  type        = bool
  default     = false
}

variable "training_data_bucket" {
  description = "Bucket holding the training channels (the data bucket; null: model_data_bucket)."
  type        = string
  default     = null
}

variable "training_features_prefix" {
  description = "Key prefix of the training channels in training_data_bucket (ends with /); the role reads only under it."
  type        = string
  default     = "features/"

  validation {
    condition     = can(regex("^[a-zA-Z0-9!_.*'()-]+(/[a-zA-Z0-9!_.*'()-]+)*/$", var.training_features_prefix))
    error_message = "training_features_prefix must be a relative S3 key prefix ending with /."
  }
}

variable "training_models_prefix" {
  description = "Key prefix in model_data_bucket (the artifacts bucket) training jobs write models to (ends with /); the role writes only under it."
  type        = string
  default     = "models/"

  validation {
    condition     = can(regex("^[a-zA-Z0-9!_.*'()-]+(/[a-zA-Z0-9!_.*'()-]+)*/$", var.training_models_prefix))
    error_message = "training_models_prefix must be a relative S3 key prefix ending with /."
  }
}
