locals {
  sender_domain = split("@", var.sender_email)[1]
}

# The sending domain: add the DKIM records this outputs to its DNS, then SES verifies it.
resource "aws_sesv2_email_identity" "this" {
  email_identity         = local.sender_domain
  configuration_set_name = aws_sesv2_configuration_set.this.configuration_set_name
  tags                   = var.tags
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
