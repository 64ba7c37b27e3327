output "events_topic_arn" {
  description = "Topic the stream processor publishes engagement events to."
  value       = aws_sns_topic.events.arn
}

output "ses_feedback_topic_arn" {
  description = "Topic SES publishes bounces and complaints to."
  value       = aws_sns_topic.ses_feedback.arn
}

output "queue_arns" {
  description = "Consumer queues by name (email-requests, client-signals, ses-feedback, rescore-segments)."
  value       = { for name, queue in aws_sqs_queue.consumer : name => queue.arn }
}

output "queue_urls" {
  description = "Consumer queue URLs by name."
  value       = { for name, queue in aws_sqs_queue.consumer : name => queue.id }
}

output "dead_letter_arns" {
  description = "Each consumer queue's dead-letter queue, by the consumer queue's name."
  value       = { for name, queue in aws_sqs_queue.dead_letter : name => queue.arn }
}

output "dead_letter_urls" {
  description = "Dead-letter queue URLs, by the consumer queue's name."
  value       = { for name, queue in aws_sqs_queue.dead_letter : name => queue.id }
}

output "dead_letter_names" {
  description = "Every dead-letter queue's name (for alarms), the stream's included."
  value = merge(
    { for name, queue in aws_sqs_queue.dead_letter : "${name}-dlq" => queue.name },
    { stream-dlq = aws_sqs_queue.stream_dlq.name },
  )
}

output "stream_dlq_arn" {
  description = "Dead-letter queue of the users stream."
  value       = aws_sqs_queue.stream_dlq.arn
}

output "stream_dlq_url" {
  description = "Dead-letter queue of the users stream."
  value       = aws_sqs_queue.stream_dlq.id
}

output "watched_queues" {
  description = "Every queue as the API reports on it; a dead-letter queue names the queue it is redriven to."
  value = concat(
    [for name, queue in aws_sqs_queue.consumer : { name = name, url = queue.id, kind = "queue", redrivesTo = null }],
    [for name, queue in aws_sqs_queue.dead_letter : {
      name = "${name}-dlq", url = queue.id, kind = "dead-letter", redrivesTo = name
    }],
    [{ name = "stream-dlq", url = aws_sqs_queue.stream_dlq.id, kind = "dead-letter", redrivesTo = null }],
  )
}
