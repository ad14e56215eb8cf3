output "names" {
  description = "Feature group names by definition name (cc-agg-fg, cc-agg-batch-fg)."
  value       = try({ for k, g in aws_sagemaker_feature_group.this : k => g.feature_group_name }, {})
}

output "arns" {
  description = "Feature group ARNs by definition name."
  value       = try({ for k, g in aws_sagemaker_feature_group.this : k => g.arn }, {})
}

output "definitions" {
  description = "The decoded feature-group definitions by name, as read from definitions_dir."
  value       = try(local.definitions, {})
}

output "glue_database" {
  description = "Glue database of the offline-store tables."
  value       = try(aws_glue_catalog_database.this.name, null)
}

output "role_arn" {
  description = "ARN of the role Feature Store uses for the offline store."
  value       = try(aws_iam_role.this.arn, null)
}
