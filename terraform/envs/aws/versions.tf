terraform {
  required_version = ">= 1.9"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.100"
    }
  }

  # State is local by default. For a shared S3 backend, `make deploy BACKEND_CONFIG=backend.hcl`
  # adds backend_override.tf (from backend_s3.tf.example) and passes -backend-config.
  backend "local" {}
}
