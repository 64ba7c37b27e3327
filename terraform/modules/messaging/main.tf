resource "aws_sns_topic" "events" {
  name              = "${var.prefix}-engagement-events"
  kms_master_key_id = var.kms_key_arn
  tags              = var.tags
}

# SES publishes bounces and complaints here (the email module's configuration-set event destination).
resource "aws_sns_topic" "ses_feedback" {
  name              = "${var.prefix}-ses-feedback"
  kms_master_key_id = var.kms_key_arn
  tags              = var.tags
}

locals {
  fourteen_days = 1209600 # the longest SQS keeps a message
  # Each consumer queue: the topic that feeds it and what it lets through.
  consumers = {
    # Only at-risk clients' creations and updates make an email request; deletions never make an email.
    email-requests = {
      topic         = aws_sns_topic.events.arn
      filter_policy = jsonencode({ band = ["at_risk", "critical"], eventType = ["client.created", "client.updated", "client.rescored"] })
    }
    # Orders (conversions), opt-outs and deletions (pending drafts are cancelled).
    client-signals = {
      topic         = aws_sns_topic.events.arn
      filter_policy = jsonencode({ signals = ["order_placed", "opted_out", "deleted"] })
    }
    ses-feedback = {
      topic         = aws_sns_topic.ses_feedback.arn
      filter_policy = null
    }
    # The rescore sweep's segment tasks: its own function sends them (the daily coordinator, and a task's
    # checkpoint), allowed by that function's role. No topic, so no subscription and no queue policy.
    rescore-segments = {
      topic         = null
      filter_policy = null
    }
    # A store's verified webhooks: the API queues them, the store_webhooks function handles them.
    store-webhooks = {
      topic         = null
      filter_policy = null
    }
  }
  # Queues their own function feeds, by name: `topic != null` cannot choose the subscriptions, since a topic's ARN
  # is unknown until the topic exists and for_each keys must be known when planning.
  function_fed = ["rescore-segments", "store-webhooks"]
  topic_fed    = { for name, consumer in local.consumers : name => consumer if !contains(local.function_fed, name) }
}

resource "aws_sqs_queue" "dead_letter" {
  for_each                          = local.consumers
  name                              = "${var.prefix}-${each.key}-dlq"
  message_retention_seconds         = local.fourteen_days
  kms_master_key_id                 = var.kms_key_arn
  kms_data_key_reuse_period_seconds = 300
  tags                              = var.tags
}

resource "aws_sqs_queue" "consumer" {
  for_each                          = local.consumers
  name                              = "${var.prefix}-${each.key}"
  visibility_timeout_seconds        = 6 * var.consumer_timeouts[each.key] # AWS's advice for a Lambda consumer
  message_retention_seconds         = 345600                              # 4 days
  kms_master_key_id                 = var.kms_key_arn
  kms_data_key_reuse_period_seconds = 300
  redrive_policy = jsonencode({
    deadLetterTargetArn = aws_sqs_queue.dead_letter[each.key].arn
    maxReceiveCount     = var.max_receive_count
  })
  tags = var.tags
}

resource "aws_sqs_queue_redrive_allow_policy" "dead_letter" {
  for_each  = local.consumers
  queue_url = aws_sqs_queue.dead_letter[each.key].id
  redrive_allow_policy = jsonencode({
    redrivePermission = "byQueue"
    sourceQueueArns   = [aws_sqs_queue.consumer[each.key].arn]
  })
}

data "aws_iam_policy_document" "consumer" {
  for_each = local.topic_fed

  statement {
    sid       = "OnlyItsTopicSends"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.consumer[each.key].arn]
    principals {
      type        = "Service"
      identifiers = ["sns.amazonaws.com"]
    }
    condition {
      test     = "ArnEquals"
      variable = "aws:SourceArn"
      values   = [each.value.topic]
    }
  }
}

resource "aws_sqs_queue_policy" "consumer" {
  for_each  = local.topic_fed
  queue_url = aws_sqs_queue.consumer[each.key].id
  policy    = data.aws_iam_policy_document.consumer[each.key].json
}

resource "aws_sns_topic_subscription" "consumer" {
  for_each             = local.topic_fed
  topic_arn            = each.value.topic
  protocol             = "sqs"
  endpoint             = aws_sqs_queue.consumer[each.key].arn
  raw_message_delivery = true
  filter_policy_scope  = each.value.filter_policy == null ? null : "MessageAttributes"
  filter_policy        = each.value.filter_policy

  depends_on = [aws_sqs_queue_policy.consumer]
}

# Poison stream records (sent by the stream processor with their reason) and the stream mapping's
# on-failure records land here.
resource "aws_sqs_queue" "stream_dlq" {
  name                              = "${var.prefix}-stream-dlq"
  message_retention_seconds         = local.fourteen_days
  kms_master_key_id                 = var.kms_key_arn
  kms_data_key_reuse_period_seconds = 300
  tags                              = var.tags
}
