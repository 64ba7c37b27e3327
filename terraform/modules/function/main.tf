data "aws_iam_policy_document" "assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
  }
}

data "aws_region" "current" {}

locals {
  environment = merge(
    {
      POWERTOOLS_SERVICE_NAME      = var.service_name
      POWERTOOLS_METRICS_NAMESPACE = var.metrics_namespace
      POWERTOOLS_LOG_LEVEL         = var.log_level
      # Traces hold timings and names of calls, never a response or an exception's text (client names,
      # addresses, email bodies): those stay in the logs, under the project's key and retention.
      POWERTOOLS_TRACER_CAPTURE_RESPONSE = "false"
      POWERTOOLS_TRACER_CAPTURE_ERROR    = "false"
      POWERTOOLS_TRACE_DISABLED          = var.xray_tracing ? "false" : "true"
    },
    var.environment,
  )
}

resource "aws_iam_role" "this" {
  # IAM is global: the region keeps the same environment deployed in two regions from sharing a role
  name               = "${var.name}-${data.aws_region.current.name}"
  assume_role_policy = data.aws_iam_policy_document.assume.json
  tags               = var.tags
}

data "aws_iam_policy_document" "runtime" {
  source_policy_documents = [var.policy_json]

  statement {
    sid       = "WriteOwnLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.this.arn}:*"]
  }

  dynamic "statement" {
    for_each = var.xray_tracing ? [1] : []
    content {
      sid       = "SendTraces"
      actions   = ["xray:PutTraceSegments", "xray:PutTelemetryRecords"]
      resources = ["*"] # X-Ray has no resource-level permissions for these actions
    }
  }
}

resource "aws_iam_role_policy" "this" {
  name   = "${var.name}-runtime"
  role   = aws_iam_role.this.id
  policy = data.aws_iam_policy_document.runtime.json
}

resource "aws_cloudwatch_log_group" "this" {
  # checkov:skip=CKV_AWS_338:logs name clients; retention is a variable (30 days by default) to keep less personal data
  name              = "/aws/lambda/${var.name}"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn
  tags              = var.tags
}

resource "aws_lambda_function" "this" {
  # checkov:skip=CKV_AWS_117:no VPC resources are used; DynamoDB, SNS, SQS and SSM are reached over AWS endpoints
  # checkov:skip=CKV_AWS_116:queue and stream mappings keep failed records in their DLQs; API calls are synchronous; scheduled invocations retry (Lambda async, twice) and alarm on errors
  # checkov:skip=CKV_AWS_272:code signing needs a signing profile in the deploying account; zips are built reproducibly
  function_name                  = var.name
  description                    = var.description
  role                           = aws_iam_role.this.arn
  filename                       = var.package_path
  source_code_hash               = filebase64sha256(var.package_path)
  handler                        = var.handler
  runtime                        = var.runtime
  architectures                  = [var.architecture]
  memory_size                    = var.memory_size
  timeout                        = var.timeout
  reserved_concurrent_executions = var.reserved_concurrency
  layers                         = var.layers
  kms_key_arn                    = var.kms_key_arn

  environment {
    variables = local.environment
  }

  lifecycle {
    precondition { # Lambda refuses an environment over 4 KB (names and values): say which function, and why
      condition     = length(jsonencode(local.environment)) <= 4096
      error_message = "${var.name}'s environment is over Lambda's 4 KB limit (${length(jsonencode(local.environment))} bytes as JSON): shorten allowed_offers."
    }
  }

  tracing_config {
    mode = var.xray_tracing ? "Active" : "PassThrough"
  }

  logging_config {
    log_format = "Text" # powertools already writes one JSON object per line
    log_group  = aws_cloudwatch_log_group.this.name
  }

  tags = var.tags

  depends_on = [aws_iam_role_policy.this]
}
