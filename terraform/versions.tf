terraform {
  required_version = ">= 1.11" # write-only arguments (value_wo) and ephemeral resources

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.100, < 6.0" # aws_ssm_parameter.value_wo, ephemeral random passwords
    }
  }

  # State is local by default. For a team, copy backend.tf.example to backend.tf (S3 with locking).
}
