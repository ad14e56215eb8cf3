# The key's users get its ARN or id only once the key policy is in place: CloudWatch Logs (and
# the other services) refuse a key whose policy does not allow them yet, so a log group created
# in parallel with the policy fails (hashicorp/terraform-provider-aws#29282). Depending here, at
# the source, makes every consumer of the key wait, whichever module it is in.
output "key_arn" {
  description = "ARN of the customer-managed key (known to callers only after the key policy is applied)."
  value       = try(aws_kms_key.this.arn, null)
  depends_on  = [aws_kms_key_policy.this]
}

output "key_id" {
  description = "Id of the customer-managed key (known to callers only after the key policy is applied)."
  value       = try(aws_kms_key.this.key_id, null)
  depends_on  = [aws_kms_key_policy.this]
}

output "alias_name" {
  description = "Alias of the key."
  value       = try(aws_kms_alias.this.name, null)
}

output "account_id" {
  description = "The AWS account id, read from the key's ARN (no STS call)."
  value       = try(local.account_id, null)
}
