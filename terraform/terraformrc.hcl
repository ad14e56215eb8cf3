# Terraform CLI configuration for this repository (make and the tests set TF_CLI_CONFIG_FILE to it).
# hashicorp/aws comes only from the offline filesystem mirror; nothing else is used.
provider_installation {
  filesystem_mirror {
    path    = "/opt/tf-plugins"
    include = ["registry.terraform.io/hashicorp/aws"]
  }
  direct {
    exclude = ["registry.terraform.io/hashicorp/aws"]
  }
}
