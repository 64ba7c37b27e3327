terraform {
  required_version = ">= 1.9"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.80, < 6.0"
    }
  }

  # State is local by default. For a team, copy backend.tf.example to backend.tf (S3 with locking).
}
