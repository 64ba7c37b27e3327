data "aws_region" "current" {}
data "aws_caller_identity" "current" {}

data "aws_iam_policy_document" "assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["scheduler.amazonaws.com"]
    }
    condition { # only this account's schedules may act as the role (the confused deputy)
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [data.aws_caller_identity.current.account_id]
    }
  }
}

resource "aws_iam_role" "this" {
  # IAM is global: the region keeps the same environment deployed in two regions from sharing a role
  name               = "${var.name}-scheduler-${data.aws_region.current.name}"
  assume_role_policy = data.aws_iam_policy_document.assume.json
  tags               = var.tags
}

# Where an invocation the scheduler could not deliver (after its retries) is kept, with the error in its message
# attributes (ERROR_CODE, ERROR_MESSAGE): for a schedule whose missed run matters.
resource "aws_sqs_queue" "dead_letter" {
  count                             = var.dead_letter_queue ? 1 : 0
  name                              = "${var.name}-schedule-dlq"
  message_retention_seconds         = 1209600 # 14 days, the longest SQS keeps a message
  kms_master_key_id                 = var.kms_key_arn
  kms_data_key_reuse_period_seconds = 300
  tags                              = var.tags
}

data "aws_iam_policy_document" "invoke" {
  statement {
    sid       = "InvokeTheFunction"
    actions   = ["lambda:InvokeFunction"]
    resources = [var.function_arn]
  }
  statement {
    sid       = "DecryptTheInput"
    actions   = ["kms:Decrypt"]
    resources = [var.kms_key_arn]
  }
  dynamic "statement" {
    for_each = aws_sqs_queue.dead_letter
    content {
      sid       = "DeadLetterUndeliveredInvocations"
      actions   = ["sqs:SendMessage"]
      resources = [statement.value.arn]
    }
  }
  dynamic "statement" {
    for_each = aws_sqs_queue.dead_letter
    content {
      sid       = "EncryptDeadLetters"
      actions   = ["kms:GenerateDataKey"]
      resources = [var.kms_key_arn]
    }
  }
}

resource "aws_iam_role_policy" "this" {
  name   = "${var.name}-invoke"
  role   = aws_iam_role.this.id
  policy = data.aws_iam_policy_document.invoke.json
}

locals {
  rate                = var.rate_minutes == null ? null : (var.rate_minutes == 1 ? "rate(1 minute)" : "rate(${var.rate_minutes} minutes)")
  schedule_expression = coalesce(var.schedule_expression, local.rate)
}

resource "aws_scheduler_schedule" "this" {
  name                = var.name
  schedule_expression = local.schedule_expression
  kms_key_arn         = var.kms_key_arn

  flexible_time_window {
    mode = "OFF"
  }

  target {
    arn      = var.function_arn
    role_arn = aws_iam_role.this.arn
    input    = jsonencode(var.payload)

    retry_policy {
      maximum_retry_attempts = 2 # then the next run picks up what this one missed
    }

    dynamic "dead_letter_config" {
      for_each = aws_sqs_queue.dead_letter
      content {
        arn = dead_letter_config.value.arn
      }
    }
  }
}
