output "alerts_topic_arn" {
  description = "Topic every alarm notifies."
  value       = aws_sns_topic.alerts.arn
}
