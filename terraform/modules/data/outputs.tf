output "kms_key_arn" {
  description = "The application's data key."
  value       = aws_kms_key.this.arn
}

output "users_table_name" {
  description = "Users table (one item per client)."
  value       = aws_dynamodb_table.users.name
}

output "users_table_arn" {
  description = "Users table ARN."
  value       = aws_dynamodb_table.users.arn
}

output "users_stream_arn" {
  description = "The users table's stream (NEW_AND_OLD_IMAGES)."
  value       = aws_dynamodb_table.users.stream_arn
}

output "emails_table_name" {
  description = "Emails table."
  value       = aws_dynamodb_table.emails.name
}

output "emails_table_arn" {
  description = "Emails table ARN (its indexes are under <arn>/index/*)."
  value       = aws_dynamodb_table.emails.arn
}

output "decisions_table_name" {
  description = "Decisions table (decisions and each client's email slot)."
  value       = aws_dynamodb_table.decisions.name
}

output "decisions_table_arn" {
  description = "Decisions table ARN."
  value       = aws_dynamodb_table.decisions.arn
}

output "suppressions_table_name" {
  description = "Suppression list (addresses that bounced hard or complained)."
  value       = aws_dynamodb_table.suppressions.name
}

output "suppressions_table_arn" {
  description = "Suppression list ARN."
  value       = aws_dynamodb_table.suppressions.arn
}

output "orders_table_name" {
  description = "Orders table (one item per order)."
  value       = aws_dynamodb_table.orders.name
}

output "orders_table_arn" {
  description = "Orders table ARN (its index is under <arn>/index/*)."
  value       = aws_dynamodb_table.orders.arn
}

output "products_table_name" {
  description = "Products table (the shop's catalog)."
  value       = aws_dynamodb_table.products.name
}

output "products_table_arn" {
  description = "Products table ARN (its index is under <arn>/index/*)."
  value       = aws_dynamodb_table.products.arn
}

output "webhooks_table_name" {
  description = "Store webhooks handled (by id, for a month)."
  value       = aws_dynamodb_table.webhooks.name
}

output "webhooks_table_arn" {
  description = "Store webhooks table ARN."
  value       = aws_dynamodb_table.webhooks.arn
}

output "models_table_name" {
  description = "The churn model's versions (newest last)."
  value       = aws_dynamodb_table.models.name
}

output "models_table_arn" {
  description = "Models table ARN."
  value       = aws_dynamodb_table.models.arn
}
