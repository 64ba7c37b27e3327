resource "aws_sns_topic" "alerts" {
  name              = "${var.prefix}-alerts"
  kms_master_key_id = var.kms_key_arn
  tags              = var.tags
}

resource "aws_sns_topic_subscription" "email" {
  count     = var.alert_email == "" ? 0 : 1
  topic_arn = aws_sns_topic.alerts.arn
  protocol  = "email"
  endpoint  = var.alert_email
}

locals {
  actions = [aws_sns_topic.alerts.arn]
}

resource "aws_cloudwatch_metric_alarm" "dead_letters" {
  for_each            = var.dead_letter_queue_names
  alarm_name          = "${var.prefix}-${each.key}-not-empty"
  alarm_description   = "Messages are waiting in ${each.value}: read their reason attribute, fix, then redrive."
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateNumberOfMessagesVisible"
  dimensions          = { QueueName = each.value }
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.actions
  ok_actions          = local.actions
  tags                = var.tags
}

# A scheduled run the scheduler could not deliver after its retries (the function missing, throttled, not allowed).
resource "aws_cloudwatch_metric_alarm" "schedule_dead_letters" {
  for_each            = var.schedule_dead_letter_queue_names
  alarm_name          = "${var.prefix}-${each.key}-not-empty"
  alarm_description   = "A scheduled run was not delivered (see ${each.value}: its ERROR_CODE and ERROR_MESSAGE attributes); fix, then run it by hand."
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateNumberOfMessagesVisible"
  dimensions          = { QueueName = each.value }
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.actions
  ok_actions          = local.actions
  tags                = var.tags
}

locals {
  # Every function alarms on failed invocations and on throttling.
  function_alarms = merge([
    for name, function in var.function_names : {
      "${name}-errors"    = { function = function, metric = "Errors", advice = "see make logs FN=${name}" }
      "${name}-throttles" = { function = function, metric = "Throttles", advice = "raise its concurrency or the account limit" }
    }
  ]...)
}

resource "aws_cloudwatch_metric_alarm" "functions" {
  for_each            = local.function_alarms
  alarm_name          = "${var.prefix}-${each.key}"
  alarm_description   = "${each.value.function}: ${each.value.metric} > 0; ${each.value.advice}."
  namespace           = "AWS/Lambda"
  metric_name         = each.value.metric
  dimensions          = { FunctionName = each.value.function }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.actions
  ok_actions          = local.actions
  tags                = var.tags
}

resource "aws_cloudwatch_metric_alarm" "iterator_age" {
  alarm_name          = "${var.prefix}-stream-falling-behind"
  alarm_description   = "The users stream is being read ${var.iterator_age_threshold_ms} ms or more behind."
  namespace           = "AWS/Lambda"
  metric_name         = "IteratorAge"
  dimensions          = { FunctionName = var.stream_function_name }
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 5
  threshold           = var.iterator_age_threshold_ms
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.actions
  ok_actions          = local.actions
  tags                = var.tags
}

resource "aws_cloudwatch_metric_alarm" "writer_fallbacks" {
  alarm_name          = "${var.prefix}-writer-fallbacks"
  alarm_description   = "The LLM writer keeps falling back to the template: see fallbackReason on the emails and make logs FN=email_processor."
  namespace           = var.metrics_namespace
  metric_name         = "WriterFallbacks"
  dimensions          = { service = var.email_service_name }
  statistic           = "Sum"
  period              = 900
  evaluation_periods  = 1
  threshold           = var.fallback_alarm_threshold
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.actions
  ok_actions          = local.actions
  tags                = var.tags
}

resource "aws_cloudwatch_metric_alarm" "rescore_overrun" {
  alarm_name          = "${var.prefix}-rescore-overrun"
  alarm_description   = "The rescoring sweep was due while the last run's segment tasks were still queued, so it did not start: see make logs FN=rescore, and docs/SCALE.md on segments."
  namespace           = var.metrics_namespace
  metric_name         = "RescoreRunsSkipped"
  dimensions          = { service = var.rescore_service_name }
  statistic           = "Sum"
  period              = 3600
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.actions
  ok_actions          = local.actions
  tags                = var.tags
}

locals {
  reputation = {
    bounce-rate    = { metric = "Reputation.BounceRate", threshold = var.bounce_rate_threshold }
    complaint-rate = { metric = "Reputation.ComplaintRate", threshold = var.complaint_rate_threshold }
  }
}

resource "aws_cloudwatch_metric_alarm" "reputation" {
  for_each            = local.reputation
  alarm_name          = "${var.prefix}-ses-${each.key}"
  alarm_description   = "SES ${each.key} is above ${each.value.threshold}: check the suppression list and who is emailed."
  namespace           = "AWS/SES"
  metric_name         = each.value.metric
  dimensions          = { "ses:configuration-set" = var.configuration_set_name }
  statistic           = "Average"
  period              = 3600
  evaluation_periods  = 1
  threshold           = each.value.threshold
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.actions
  ok_actions          = local.actions
  tags                = var.tags
}
