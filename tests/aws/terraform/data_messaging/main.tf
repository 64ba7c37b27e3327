# make test-aws: the data and messaging modules, applied to a real account under a test prefix, then destroyed.
terraform {
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.100, < 6.0"
    }
  }
}

provider "aws" {
  default_tags {
    tags = { Project = "client-engagement", Environment = "aws-test" }
  }
}

module "data" {
  source              = "../../../../terraform/modules/data"
  prefix              = "ce-awstest"
  deletion_protection = false
}

module "messaging" {
  source      = "../../../../terraform/modules/messaging"
  prefix      = "ce-awstest"
  kms_key_arn = module.data.kms_key_arn
  consumer_timeouts = { # the root module's function timeouts
    email-requests   = 60
    client-signals   = 30
    ses-feedback     = 30
    rescore-segments = 300
    store-webhooks   = 30
  }
}

output "users_table_name" {
  value = module.data.users_table_name
}

output "emails_table_name" {
  value = module.data.emails_table_name
}

output "events_topic_arn" {
  value = module.messaging.events_topic_arn
}

output "email_requests_queue_url" {
  value = module.messaging.queue_urls["email-requests"]
}
