output "key_arn" {
  description = "ARN of the customer-managed key."
  value       = try(aws_kms_key.this.arn, null)
}

output "key_id" {
  description = "Id of the customer-managed key."
  value       = try(aws_kms_key.this.key_id, null)
}

output "alias_name" {
  description = "Alias of the key."
  value       = try(aws_kms_alias.this.name, null)
}

output "account_id" {
  description = "The AWS account id, read from the key's ARN (no STS call)."
  value       = try(local.account_id, null)
}
