# HTTP API: every route goes to the api function, which routes itself (powertools). /api/* needs a caller the
# function trusts: by default a bearer token it checks itself; with jwt_issuer set, a JWT API Gateway's authorizer
# validates first (Cognito or any OIDC issuer). /health, the dashboard and the signed unsubscribe links are public.
resource "aws_apigatewayv2_api" "this" {
  name          = "${var.prefix}-api"
  protocol_type = "HTTP"
  description   = "Client engagement: clients, emails, review, stats, dashboard"
  tags          = var.tags
}

resource "aws_apigatewayv2_integration" "this" {
  api_id                 = aws_apigatewayv2_api.this.id
  integration_type       = "AWS_PROXY"
  integration_uri        = var.function_invoke_arn
  payload_format_version = "2.0"
  timeout_milliseconds   = 15000
}

resource "aws_apigatewayv2_route" "this" {
  # checkov:skip=CKV_AWS_309:the function authenticates /api/* itself (bearer token) unless the JWT route below does
  api_id    = aws_apigatewayv2_api.this.id
  route_key = "$default"
  target    = "integrations/${aws_apigatewayv2_integration.this.id}"
}

resource "aws_apigatewayv2_authorizer" "jwt" {
  count            = var.jwt_issuer == "" ? 0 : 1
  api_id           = aws_apigatewayv2_api.this.id
  name             = "${var.prefix}-jwt"
  authorizer_type  = "JWT"
  identity_sources = ["$request.header.Authorization"]

  jwt_configuration {
    issuer   = var.jwt_issuer
    audience = var.jwt_audience
  }
}

# With the JWT authorizer, each /api route asks for the access level the function also checks (engagement/auth.py):
# read looks, review works the queue (drafts, clients, orders), admin may do everything (delete, redrive). A scope
# of a higher level also opens the lower ones. Anything not named here needs admin.
locals {
  scope_prefix = "engagement"
  levels       = { read = ["read", "review", "admin"], review = ["review", "admin"], admin = ["admin"] }
  jwt_routes = {
    "GET /api/{proxy+}"                   = "read"
    "POST /api/users"                     = "review"
    "PATCH /api/users/{user_id}"          = "review"
    "POST /api/users/{user_id}/orders"    = "review"
    "POST /api/users/{user_id}/winback"   = "review"
    "PATCH /api/emails/{email_id}"        = "review"
    "PUT /api/emails/{email_id}/picks"    = "review"
    "POST /api/emails/{email_id}/approve" = "review"
    "POST /api/emails/{email_id}/reject"  = "review"
    "ANY /api/{proxy+}"                   = "admin"
  }
}

resource "aws_apigatewayv2_route" "api_jwt" {
  for_each             = var.jwt_issuer == "" ? {} : local.jwt_routes
  api_id               = aws_apigatewayv2_api.this.id
  route_key            = each.key
  target               = "integrations/${aws_apigatewayv2_integration.this.id}"
  authorization_type   = "JWT"
  authorizer_id        = aws_apigatewayv2_authorizer.jwt[0].id
  authorization_scopes = [for level in local.levels[each.value] : "${local.scope_prefix}/${level}"]
}

resource "aws_cloudwatch_log_group" "access" {
  # checkov:skip=CKV_AWS_338:access logs hold client IPs; retention is a variable (30 days by default) to keep less
  name              = "/aws/apigateway/${var.prefix}-api"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn
  tags              = var.tags
}

resource "aws_apigatewayv2_stage" "this" {
  api_id      = aws_apigatewayv2_api.this.id
  name        = "$default"
  auto_deploy = true

  default_route_settings {
    throttling_rate_limit  = var.throttling_rate_limit
    throttling_burst_limit = var.throttling_burst_limit
  }

  access_log_settings {
    destination_arn = aws_cloudwatch_log_group.access.arn
    format = jsonencode({
      requestId      = "$context.requestId"
      ip             = "$context.identity.sourceIp"
      requestTime    = "$context.requestTime"
      httpMethod     = "$context.httpMethod"
      path           = "$context.path"
      status         = "$context.status"
      responseLength = "$context.responseLength"
      latencyMs      = "$context.responseLatency"
      integrationErr = "$context.integrationErrorMessage"
    })
  }

  tags = var.tags
}

resource "aws_lambda_permission" "this" {
  statement_id  = "AllowHttpApi"
  action        = "lambda:InvokeFunction"
  function_name = var.function_name
  principal     = "apigateway.amazonaws.com"
  source_arn    = "${aws_apigatewayv2_api.this.execution_arn}/*/*"
}
