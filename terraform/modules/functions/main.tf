# The two stream functions (ingest: aggregates -> cc-agg-fg; score: features -> endpoint ->
# predictions), their roles, log groups, event source mappings from the aggregates stream and
# the encrypted dead-letter queue. With create_functions = false only the queue and the log
# groups are created (what LocalStack's free edition can serve; its Lambda cannot run code).

data "aws_partition" "current" {}

locals {
  tags      = merge({ "module" = "functions" }, var.tags)
  namespace = coalesce(var.metrics_namespace, var.name_prefix)
  names     = ["ingest", "score"]

  common_environment = {
    POWERTOOLS_METRICS_NAMESPACE = local.namespace
    POWERTOOLS_LOG_LEVEL         = var.log_level
    DEAD_LETTER_QUEUE_URL        = aws_sqs_queue.dead_letters.url
  }

  all_functions = {
    ingest = {
      description = "Writes each aggregates-stream record to the streaming feature group"
      zip_path    = var.ingest_zip_path
      environment = {
        POWERTOOLS_SERVICE_NAME = "fraud-ingest"
        STREAMING_FEATURE_GROUP = var.streaming_feature_group_name
      }
      statements = [
        { sid = "PutStreamingFeatures", actions = ["sagemaker:PutRecord"], resources = [var.streaming_feature_group_arn] },
      ]
    }
    score = {
      description = "Scores each aggregates-stream record with the fraud model and publishes the prediction"
      zip_path    = var.score_zip_path
      environment = {
        POWERTOOLS_SERVICE_NAME = "fraud-score"
        BATCH_FEATURE_GROUP     = var.batch_feature_group_name
        ENDPOINT_NAME           = var.endpoint_name
        FRAUD_THRESHOLD         = tostring(var.fraud_threshold)
        PREDICTIONS_STREAM      = var.predictions_stream_name
      }
      # What functions/common/scoring.py calls: one BatchGetRecord on cc-agg-batch-fg (the
      # streaming features come in the aggregate record itself), InvokeEndpoint, PutRecords.
      statements = [
        { sid = "ReadBatchFeatures", actions = ["sagemaker:BatchGetRecord"], resources = [var.batch_feature_group_arn] },
        { sid = "InvokeFraudModel", actions = ["sagemaker:InvokeEndpoint"], resources = [var.endpoint_arn] },
        { sid = "PublishPredictions", actions = ["kinesis:PutRecords"], resources = [var.predictions_stream_arn] },
      ]
    }
  }
  functions = var.create_functions ? local.all_functions : {}
}

# A generated name: SQS refuses a queue named like one deleted less than 60 s ago
# (QueueDeletedRecently), which a fixed name would hit on a redeploy right after a destroy.
# https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_CreateQueue.html
resource "aws_sqs_queue" "dead_letters" {
  name_prefix                       = "${var.name_prefix}-dead-letters-"
  kms_master_key_id                 = var.kms_key_arn
  kms_data_key_reuse_period_seconds = 300
  message_retention_seconds         = var.dead_letter_retention_seconds
  tags                              = local.tags
}

resource "aws_cloudwatch_log_group" "this" {
  #checkov:skip=CKV_AWS_338:Retention is the log_retention_days variable (30 days by default keeps a demo cheap); raise it for production.
  for_each = toset(local.names)

  name              = "/aws/lambda/${var.name_prefix}-${each.key}"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn
  tags              = local.tags
}

data "aws_iam_policy_document" "assume" {
  statement {
    sid     = "LambdaAssumesRole"
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "this" {
  for_each = local.functions

  name_prefix        = "${var.name_prefix}-${each.key}-"
  description        = "Execution role of the ${var.name_prefix}-${each.key} function"
  assume_role_policy = data.aws_iam_policy_document.assume.json
  tags               = local.tags
}

data "aws_iam_policy_document" "this" {
  for_each = local.functions

  statement {
    sid       = "WriteOwnLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.this[each.key].arn}:*"]
  }

  # What the event source mapping needs on the function's role to read the stream
  # (https://docs.aws.amazon.com/lambda/latest/dg/services-kinesis-create.html) ...
  statement {
    sid = "ReadAggregatesStream"
    actions = [
      "kinesis:DescribeStream", "kinesis:DescribeStreamSummary", "kinesis:GetRecords",
      "kinesis:GetShardIterator", "kinesis:ListShards",
    ]
    resources = [var.source_stream_arn]
  }

  # With enhanced fan-out the mapping reads through the function's own consumer: SubscribeToShard
  # (services-kinesis-create above) and DescribeStreamConsumer, both on the consumer's ARN, the
  # resource type the Service Authorization Reference gives them
  # (https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonkinesisdatastreams.html;
  # https://docs.aws.amazon.com/streams/latest/dev/kcl-iam-permissions.html lists the same pair for EFO).
  dynamic "statement" {
    for_each = var.enhanced_fan_out ? [aws_kinesis_stream_consumer.this[each.key].arn] : []
    content {
      sid       = "ReadThroughOwnConsumer"
      actions   = ["kinesis:SubscribeToShard", "kinesis:DescribeStreamConsumer"]
      resources = [statement.value]
    }
  }

  # ... and to deliver a failed batch to its SQS on-failure destination
  # (https://docs.aws.amazon.com/lambda/latest/dg/kinesis-on-failure-destination.html); the
  # handlers' own dead letters are SendMessage calls too (functions/common/batch.py).
  statement {
    sid       = "DeadLetterBadRecords"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.dead_letters.arn]
  }

  statement {
    sid       = "UseDeploymentKey"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey"]
    resources = [var.kms_key_arn]
  }

  # Business metrics go out as CloudWatch embedded metric format in the logs: no PutMetricData.
  statement {
    sid       = "SendTraces"
    actions   = ["xray:PutTraceSegments", "xray:PutTelemetryRecords"]
    resources = ["*"]
  }

  dynamic "statement" {
    for_each = each.value.statements
    content {
      sid       = statement.value.sid
      actions   = statement.value.actions
      resources = statement.value.resources
    }
  }
}

resource "aws_iam_role_policy" "this" {
  for_each = local.functions

  name   = "${each.key}-least-privilege"
  role   = aws_iam_role.this[each.key].id
  policy = data.aws_iam_policy_document.this[each.key].json
}

resource "aws_lambda_function" "this" {
  #checkov:skip=CKV_AWS_117:The functions only call public AWS APIs (Kinesis, SageMaker, SQS); a VPC would add NAT or endpoint cost and nothing private to reach.
  #checkov:skip=CKV_AWS_272:Code signing needs an AWS Signer profile; the zips are built reproducibly from this repository and hashed by Terraform.
  #checkov:skip=CKV_AWS_115:Concurrency is reserved only when reserved_concurrency >= 0; new accounts (quota 10) cannot reserve any.
  for_each = local.functions

  function_name = "${var.name_prefix}-${each.key}"
  description   = each.value.description
  role          = aws_iam_role.this[each.key].arn
  filename      = each.value.zip_path
  # try(): `terraform destroy` evaluates this too and must not need the zips (nor pip to build them);
  # the precondition below still rejects a missing zip on every plan that creates or updates.
  source_code_hash               = try(filebase64sha256(each.value.zip_path), null)
  handler                        = "app.lambda_handler"
  runtime                        = var.runtime
  architectures                  = ["x86_64"]
  memory_size                    = var.memory_size
  timeout                        = var.timeout
  reserved_concurrent_executions = var.reserved_concurrency
  kms_key_arn                    = var.kms_key_arn

  environment {
    variables = merge(local.common_environment, each.value.environment, var.extra_environment)
  }

  logging_config {
    log_format = "JSON"
    log_group  = aws_cloudwatch_log_group.this[each.key].name
  }

  tracing_config {
    mode = "Active"
  }

  # Asynchronous invocations that fail land in the same queue as failed stream batches.
  dead_letter_config {
    target_arn = aws_sqs_queue.dead_letters.arn
  }

  tags = local.tags

  lifecycle {
    precondition {
      condition     = fileexists(each.value.zip_path)
      error_message = "Function zip ${each.value.zip_path} not found: run `make package-lambdas`."
    }
  }

  depends_on = [aws_iam_role_policy.this]
}

# One enhanced fan-out consumer per function: Kinesis pushes each shard's records to it over
# HTTP/2 (~70 ms average propagation, its own 2 MB/s per shard) where a standard iterator polls
# once a second and shares the shard's 2 MB/s and 5 reads/s with every other reader
# (https://docs.aws.amazon.com/lambda/latest/dg/with-kinesis.html, "Polling and batching streams";
# https://docs.aws.amazon.com/streams/latest/dev/enhanced-consumers.html). The mapping names the
# consumer's ARN as its event source. Cost: see var.enhanced_fan_out.
resource "aws_kinesis_stream_consumer" "this" {
  for_each = var.enhanced_fan_out ? local.functions : {}

  name       = "${var.name_prefix}-${each.key}"
  stream_arn = var.source_stream_arn
}

resource "aws_lambda_event_source_mapping" "this" {
  for_each = local.functions

  function_name                      = aws_lambda_function.this[each.key].arn
  event_source_arn                   = var.enhanced_fan_out ? aws_kinesis_stream_consumer.this[each.key].arn : var.source_stream_arn
  starting_position                  = var.event_source.starting_position
  batch_size                         = var.event_source.batch_size
  maximum_batching_window_in_seconds = var.event_source.maximum_batching_window_in_seconds
  parallelization_factor             = var.event_source.parallelization_factor
  function_response_types            = ["ReportBatchItemFailures"]
  bisect_batch_on_function_error     = true
  maximum_retry_attempts             = var.event_source.maximum_retry_attempts
  maximum_record_age_in_seconds      = var.event_source.maximum_record_age_in_seconds

  destination_config {
    on_failure {
      destination_arn = aws_sqs_queue.dead_letters.arn
    }
  }

  tags = local.tags
}
