output "events_topic_arn" {
  description = "Topic the stream processor publishes engagement events to."
  value       = aws_sns_topic.events.arn
}

output "email_requests_queue_arn" {
  description = "Queue of email requests (at-risk events)."
  value       = aws_sqs_queue.email_requests.arn
}

output "email_requests_queue_url" {
  description = "Queue of email requests."
  value       = aws_sqs_queue.email_requests.id
}

output "email_requests_queue_name" {
  description = "Queue of email requests (name, for alarms)."
  value       = aws_sqs_queue.email_requests.name
}

output "email_requests_dlq_arn" {
  description = "Dead-letter queue of the email requests."
  value       = aws_sqs_queue.email_requests_dlq.arn
}

output "email_requests_dlq_url" {
  description = "Dead-letter queue of the email requests."
  value       = aws_sqs_queue.email_requests_dlq.id
}

output "email_requests_dlq_name" {
  description = "Dead-letter queue of the email requests (name, for alarms)."
  value       = aws_sqs_queue.email_requests_dlq.name
}

output "stream_dlq_arn" {
  description = "Dead-letter queue of the users stream."
  value       = aws_sqs_queue.stream_dlq.arn
}

output "stream_dlq_url" {
  description = "Dead-letter queue of the users stream."
  value       = aws_sqs_queue.stream_dlq.id
}

output "stream_dlq_name" {
  description = "Dead-letter queue of the users stream (name, for alarms)."
  value       = aws_sqs_queue.stream_dlq.name
}
