output "schedule_arn" {
  description = "The schedule's ARN."
  value       = aws_scheduler_schedule.this.arn
}

output "dead_letter_queue_name" {
  description = "The schedule's dead-letter queue (null without one)."
  value       = one(aws_sqs_queue.dead_letter[*].name)
}

output "dead_letter_queue_arn" {
  description = "The schedule's dead-letter queue ARN (null without one)."
  value       = one(aws_sqs_queue.dead_letter[*].arn)
}
