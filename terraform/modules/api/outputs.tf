output "url" {
  description = "The API's base URL (the dashboard is served at its root)."
  value       = aws_apigatewayv2_stage.this.invoke_url
}

output "api_id" {
  description = "The HTTP API's id (for alarms)."
  value       = aws_apigatewayv2_api.this.id
}

output "access_log_group_name" {
  description = "The API's access log group."
  value       = aws_cloudwatch_log_group.access.name
}
