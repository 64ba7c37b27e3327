output "api_url" {
  description = "The HTTP API (GET /health is public; /api/* needs the bearer token in SSM)."
  value       = module.http_api.url
}

output "dashboard_url" {
  description = "The dashboard (served by the API at its root)."
  value       = module.http_api.url
}

output "region" {
  description = "Where it runs."
  value       = var.region
}

output "users_table" {
  description = "Users table: put-item here (the original runbook's commands work with this name)."
  value       = module.data.users_table_name
}

output "emails_table" {
  description = "Emails table."
  value       = module.data.emails_table_name
}

output "decisions_table" {
  description = "Decisions table."
  value       = module.data.decisions_table_name
}

output "orders_table" {
  description = "Orders table: scripts/import_orders.py --orders-table."
  value       = module.data.orders_table_name
}

output "products_table" {
  description = "Products table (the catalog): scripts/import_catalog.py --products-table."
  value       = module.data.products_table_name
}

output "shopify_webhook_url" {
  description = "Give Shopify this address for orders/create, orders/paid, products/create and products/update."
  value       = "${module.http_api.url}/webhooks/shopify"
}

output "shopify_webhook_secret_parameter" {
  description = "Put the secret Shopify shows for your webhooks here (aws ssm put-parameter --overwrite)."
  value       = aws_ssm_parameter.shopify_webhook_secret.name
}

output "function_names" {
  description = "Lambda functions by folder name."
  value       = { for name, function in module.function : name => function.function_name }
}

output "log_groups" {
  description = "Log groups by folder name (make logs FN=<name>), and the API's access logs."
  value = merge(
    { for name, function in module.function : name => function.log_group_name },
    { api_access = module.http_api.access_log_group_name },
  )
}

output "queues" {
  description = "Queue URLs: the consumer queues, their dead-letter queues, the stream's DLQ."
  value = merge(
    module.messaging.queue_urls,
    { for name, url in module.messaging.dead_letter_urls : "${name}-dlq" => url },
    { stream-dlq = module.messaging.stream_dlq_url },
  )
}

output "ses_dkim_records" {
  description = "CNAME records to add to the sending domain's DNS so SES can verify it."
  value       = module.email.dkim_records
}

output "ses_configuration_set" {
  description = "Every email goes through this configuration set (bounces and complaints are published)."
  value       = module.email.configuration_set_name
}

output "api_token_parameter" {
  description = "SSM parameter holding the API's bearer token."
  value       = aws_ssm_parameter.api_token.name
}

output "openrouter_api_key_parameter" {
  description = "SSM parameter for the OpenRouter key (set it with aws ssm put-parameter --overwrite)."
  value       = aws_ssm_parameter.openrouter_api_key.name
}

output "alerts_topic_arn" {
  description = "Topic every alarm notifies."
  value       = module.monitoring.alerts_topic_arn
}

output "kms_key_arn" {
  description = "The customer-managed key for everything at rest: pass it as --key-id when you write a parameter."
  value       = module.data.kms_key_arn
}

output "unsubscribe_secret_parameters" {
  description = "The unsubscribe signing key and the one it replaced (see Rotating the unsubscribe key in the README)."
  value = {
    current  = aws_ssm_parameter.unsubscribe_secret.name
    previous = aws_ssm_parameter.unsubscribe_secret_previous.name
  }
}
