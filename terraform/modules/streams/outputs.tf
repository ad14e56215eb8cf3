output "arns" {
  description = "Stream ARNs by logical name."
  value       = try({ for k, s in aws_kinesis_stream.this : k => s.arn }, {})
}

output "names" {
  description = "Stream names by logical name."
  value       = try({ for k, s in aws_kinesis_stream.this : k => s.name }, {})
}
