locals {
  sender_domain = split("@", var.sender_email)[1]
  identity      = var.create_identity ? aws_sesv2_email_identity.this[0] : data.aws_sesv2_email_identity.shared[0]
}

data "aws_partition" "current" {}
data "aws_region" "current" {}
data "aws_caller_identity" "current" {}

# The sending domain is one SES identity per account and region, whatever the environments: the environment with
# create_identity = true creates it (add the DKIM records it outputs to the domain's DNS), the others look it up,
# so destroying one of them leaves it, and every other environment's sending, as it is. No default configuration
# set is attached to it: each environment names its own on every send.
resource "aws_sesv2_email_identity" "this" {
  count          = var.create_identity ? 1 : 0
  email_identity = local.sender_domain
  tags           = var.tags
}

data "aws_sesv2_email_identity" "shared" {
  count          = var.create_identity ? 0 : 1
  email_identity = local.sender_domain
}

moved {
  from = aws_sesv2_email_identity.this
  to   = aws_sesv2_email_identity.this[0]
}

resource "aws_sesv2_configuration_set" "this" {
  configuration_set_name = "${var.prefix}-emails"

  delivery_options {
    tls_policy = "REQUIRE"
  }

  reputation_options {
    reputation_metrics_enabled = true # Reputation.BounceRate and ComplaintRate, which the alarms watch
  }

  sending_options {
    sending_enabled = true
  }

  suppression_options {
    suppressed_reasons = ["BOUNCE", "COMPLAINT"] # SES's own list too, besides ours
  }

  tags = var.tags
}

resource "aws_sesv2_configuration_set_event_destination" "feedback" {
  configuration_set_name = aws_sesv2_configuration_set.this.configuration_set_name
  event_destination_name = "bounces-and-complaints"

  event_destination {
    enabled              = true
    matching_event_types = ["BOUNCE", "COMPLAINT"]

    sns_destination {
      topic_arn = var.feedback_topic_arn
    }
  }
}
