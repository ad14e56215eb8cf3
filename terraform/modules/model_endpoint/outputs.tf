output "endpoint_name" {
  description = "Name of the endpoint."
  value       = try(aws_sagemaker_endpoint.this.name, null)
}

output "endpoint_arn" {
  description = "ARN of the endpoint."
  value       = try(aws_sagemaker_endpoint.this.arn, null)
}

output "variant_name" {
  description = "Name of the production variant."
  value       = try(var.variant_name, null)
}

output "image_uri" {
  description = "The prebuilt XGBoost image the model runs."
  value       = try(data.aws_sagemaker_prebuilt_ecr_image.xgboost.registry_path, null)
}

output "role_arn" {
  description = "ARN of the model execution role."
  value       = try(aws_iam_role.this.arn, null)
}

output "training_role_arn" {
  description = "ARN of the SageMaker training execution role (null unless create_training_role)."
  value       = try(aws_iam_role.training["role"].arn, null)
}
