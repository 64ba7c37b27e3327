resource "aws_sns_topic" "events" {
  name              = "${var.prefix}-engagement-events"
  kms_master_key_id = var.kms_key_arn
  tags              = var.tags
}

resource "aws_sqs_queue" "email_requests_dlq" {
  name                              = "${var.prefix}-email-requests-dlq"
  message_retention_seconds         = 1209600 # 14 days, the longest SQS keeps a message
  kms_master_key_id                 = var.kms_key_arn
  kms_data_key_reuse_period_seconds = 300
  tags                              = var.tags
}

resource "aws_sqs_queue" "email_requests" {
  name                              = "${var.prefix}-email-requests"
  visibility_timeout_seconds        = var.email_requests_visibility_timeout
  message_retention_seconds         = 345600 # 4 days
  kms_master_key_id                 = var.kms_key_arn
  kms_data_key_reuse_period_seconds = 300
  redrive_policy = jsonencode({
    deadLetterTargetArn = aws_sqs_queue.email_requests_dlq.arn
    maxReceiveCount     = var.max_receive_count
  })
  tags = var.tags

  lifecycle {
    precondition {
      condition     = var.email_requests_visibility_timeout >= 6 * var.email_function_timeout
      error_message = "The email queue's visibility timeout must be at least 6 x the email processor's timeout."
    }
  }
}

resource "aws_sqs_queue_redrive_allow_policy" "email_requests_dlq" {
  queue_url = aws_sqs_queue.email_requests_dlq.id
  redrive_allow_policy = jsonencode({
    redrivePermission = "byQueue"
    sourceQueueArns   = [aws_sqs_queue.email_requests.arn]
  })
}

# Poison stream records (sent by the stream processor with their reason) and the stream mapping's
# on-failure records land here.
resource "aws_sqs_queue" "stream_dlq" {
  name                              = "${var.prefix}-stream-dlq"
  message_retention_seconds         = 1209600
  kms_master_key_id                 = var.kms_key_arn
  kms_data_key_reuse_period_seconds = 300
  tags                              = var.tags
}

data "aws_iam_policy_document" "email_requests" {
  statement {
    sid       = "OnlyTheEventsTopicSends"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.email_requests.arn]
    principals {
      type        = "Service"
      identifiers = ["sns.amazonaws.com"]
    }
    condition {
      test     = "ArnEquals"
      variable = "aws:SourceArn"
      values   = [aws_sns_topic.events.arn]
    }
  }
}

resource "aws_sqs_queue_policy" "email_requests" {
  queue_url = aws_sqs_queue.email_requests.id
  policy    = data.aws_iam_policy_document.email_requests.json
}

# Only at-risk clients' creations and updates become email requests; deletions never make an email.
resource "aws_sns_topic_subscription" "email_requests" {
  topic_arn            = aws_sns_topic.events.arn
  protocol             = "sqs"
  endpoint             = aws_sqs_queue.email_requests.arn
  raw_message_delivery = true
  filter_policy_scope  = "MessageAttributes"
  filter_policy = jsonencode({
    band      = ["at_risk", "critical"]
    eventType = ["client.created", "client.updated", "client.rescored"]
  })

  depends_on = [aws_sqs_queue_policy.email_requests]
}
