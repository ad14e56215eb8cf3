output "delivery_stream_name" {
  description = "Name of the Firehose delivery stream."
  value       = try(aws_kinesis_firehose_delivery_stream.this.name, null)
}

output "delivery_stream_arn" {
  description = "ARN of the Firehose delivery stream."
  value       = try(aws_kinesis_firehose_delivery_stream.this.arn, null)
}

output "role_arn" {
  description = "ARN of the role Firehose assumes (reads the stream, writes the archive)."
  value       = try(aws_iam_role.this.arn, null)
}

output "prefix" {
  description = "Key prefix of the archive in the bucket (objects under <prefix>dt=YYYY-MM-DD/)."
  value       = try(var.prefix, null)
}

output "uri" {
  description = "s3:// URI of the archive (predictions: the consistency job's --predictions; transactions: the refresh's --live)."
  value       = try("s3://${var.bucket}/${var.prefix}", null)
}

output "file_extension" {
  description = "How the names of the archive's objects end (.json.gz: JSON lines, GZIP)."
  value       = try(local.file_extension, null)
}

output "log_group_name" {
  description = "Log group of delivery errors."
  value       = try(aws_cloudwatch_log_group.this.name, null)
}
