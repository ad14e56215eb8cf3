variable "name_prefix" {
  description = "Prefix of every alarm, topic and dashboard name."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,19}$", var.name_prefix))
    error_message = "name_prefix must be 2-20 characters: a lower-case letter, then lower-case letters, digits or hyphens."
  }
}

variable "function_names" {
  description = "Lambda function names by role (ingest, score): iterator-age and error alarms each."
  type        = map(string)
  default     = {}
}

variable "stream_names" {
  description = "Kinesis stream names by logical name, shown on the dashboard."
  type        = map(string)
  default     = {}
}

variable "dead_letter_queues" {
  description = "Dead-letter queue names by logical name (the alarm's key): an alarm each when it holds any message."
  type        = map(string)
  default     = {}
}

variable "flink_application_name" {
  description = "Name of the Managed Service for Apache Flink application (not-running, downtime, failed-checkpoint and source-lag alarms); null: none."
  type        = string
  default     = null
}

variable "millis_behind_latest_threshold_ms" {
  description = "Alarm when the Flink source's millisBehindLatest (how far it lags the transactions stream) exceeds this, in ms."
  type        = number
  default     = 60000

  validation {
    condition     = var.millis_behind_latest_threshold_ms > 0
    error_message = "millis_behind_latest_threshold_ms must be > 0."
  }
}

variable "late_stream_name" {
  description = "Name of the late-records stream (alarm on any row: a transaction left unaggregated); null: no alarm."
  type        = string
  default     = null
}

variable "transactions_stream_name" {
  description = "Name of the transactions stream (with aggregates_stream_name: the aggregates-quiet alarm)."
  type        = string
  default     = null
}

variable "aggregates_stream_name" {
  description = "Name of the aggregates stream (alarm when it stays quiet while transactions arrive); null: no alarm."
  type        = string
  default     = null
}

variable "endpoint_name" {
  description = "Name of the SageMaker endpoint (5xx and latency alarms); null: no endpoint alarms."
  type        = string
  default     = null
}

variable "variant_name" {
  description = "Production variant of the endpoint."
  type        = string
  default     = "AllTraffic"
}

variable "iterator_age_threshold_ms" {
  description = "Alarm when a function's iterator age (how far it lags the stream) exceeds this, in ms."
  type        = number
  default     = 60000

  validation {
    condition     = var.iterator_age_threshold_ms > 0
    error_message = "iterator_age_threshold_ms must be > 0."
  }
}

variable "model_latency_threshold_ms" {
  description = "Alarm when the endpoint's average model latency exceeds this, in ms."
  type        = number
  default     = 200

  validation {
    condition     = var.model_latency_threshold_ms > 0
    error_message = "model_latency_threshold_ms must be > 0."
  }
}

variable "period_seconds" {
  description = "Alarm evaluation period in seconds."
  type        = number
  default     = 60

  validation {
    condition     = contains([10, 30], var.period_seconds) || (var.period_seconds >= 60 && var.period_seconds % 60 == 0)
    error_message = "period_seconds must be 10, 30 or a multiple of 60."
  }
}

variable "evaluation_periods" {
  description = "Consecutive breaching periods before an alarm fires."
  type        = number
  default     = 3

  validation {
    condition     = var.evaluation_periods >= 1
    error_message = "evaluation_periods must be >= 1."
  }
}

variable "create_sns_topic" {
  description = "Create an encrypted SNS topic the alarms notify."
  type        = bool
  default     = true
}

variable "alarm_emails" {
  description = "E-mail addresses subscribed to the alarm topic (each must confirm)."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for e in var.alarm_emails : can(regex("^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$", e))])
    error_message = "alarm_emails must be e-mail addresses."
  }
}

variable "alarm_actions" {
  description = "Extra ARNs notified by every alarm (e.g. an existing SNS topic)."
  type        = list(string)
  default     = []
}

variable "kms_key_arn" {
  description = "ARN of the customer-managed KMS key encrypting the SNS topic."
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

variable "consistency_metric" {
  description = "The daily consistency run's metric (namespace it publishes MatchRate in, alarm threshold): an alarm when a run falls below the threshold, one when no run published for 26 hours, and a dashboard widget; null: none."
  type = object({
    namespace = string
    name      = optional(string, "MatchRate")
    threshold = optional(number, 0.999)
  })
  default = null

  validation {
    condition     = var.consistency_metric == null || try(var.consistency_metric.threshold > 0 && var.consistency_metric.threshold <= 1 && !startswith(var.consistency_metric.namespace, "AWS/"), false)
    error_message = "consistency_metric.threshold must be in (0, 1] (a share of transactions) and the namespace must not start with AWS/."
  }
}

variable "archive_delivery_streams" {
  description = "Firehose streams archiving a Kinesis stream, by what they archive (predictions, transactions): an alarm <what>-archive-freshness each when its DeliveryToS3.DataFreshness exceeds archive_freshness_threshold_seconds."
  type        = map(string)
  default     = {}
}

variable "archive_freshness_threshold_seconds" {
  description = "Alarm when the oldest record not yet delivered to an archive is older than this (Firehose recommends the buffering limit, at most 900 s)."
  type        = number
  default     = 900

  validation {
    condition     = var.archive_freshness_threshold_seconds >= 60
    error_message = "archive_freshness_threshold_seconds must be >= 60 (Firehose buffers for up to 900 s)."
  }
}
