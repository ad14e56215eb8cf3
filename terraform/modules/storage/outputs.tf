output "bucket_names" {
  description = "Bucket names by logical name."
  value       = try({ for k, b in aws_s3_bucket.this : k => b.id }, {})
}

output "bucket_arns" {
  description = "Bucket ARNs by logical name."
  value       = try({ for k, b in aws_s3_bucket.this : k => b.arn }, {})
}
