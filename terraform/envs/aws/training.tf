# The optional SageMaker training execution role (jobs/training/sagemaker_launch.py --role): it
# reads the data bucket's features/ prefix and writes the artifacts bucket's models/ prefix.

variable "enable_training_role" {
  description = "Create the SageMaker training execution role (output training_role_arn) for jobs/training/sagemaker_launch.py."
  type        = bool
  default     = false
}

output "training_role_arn" {
  description = "ARN of the SageMaker training execution role (null unless enable_training_role)."
  value       = try(module.model_endpoint[0].training_role_arn, null)
}
