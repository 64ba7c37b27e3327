locals {
  prefix = "${var.name}-${var.environment}"
  tags = merge(var.tags, {
    Project     = var.name
    Environment = var.environment
  })
  dist = "${path.root}/${var.dist_dir}"

  # One place for the functions' sizes; the email queue's visibility timeout is 6 x the email timeout.
  functions = {
    stream_processor = { timeout = 60, memory = 256, description = "Users stream -> score -> engagement events" }
    email_processor  = { timeout = 60, memory = 512, description = "Email requests -> decision -> win-back draft" }
    api              = { timeout = 10, memory = 256, description = "HTTP API: clients, emails, health" }
  }
}

module "data" {
  source              = "./modules/data"
  prefix              = local.prefix
  deletion_protection = var.deletion_protection
  tags                = local.tags
}

module "messaging" {
  source                            = "./modules/messaging"
  prefix                            = local.prefix
  kms_key_arn                       = module.data.kms_key_arn
  email_function_timeout            = local.functions.email_processor.timeout
  email_requests_visibility_timeout = 6 * local.functions.email_processor.timeout
  max_receive_count                 = 5 # the email processor's MAX_RECEIVE_COUNT says the same
  tags                              = local.tags
}

# Secrets live in SSM as SecureStrings. Terraform creates them with a placeholder and never manages the value
# again: set the real value with `aws ssm put-parameter --overwrite` (README), so it never sits in tfvars.
resource "aws_ssm_parameter" "openrouter_api_key" {
  name        = "/${local.prefix}/openrouter-api-key"
  description = "OpenRouter API key for the LLM writer; 'unset' keeps the template writer."
  type        = "SecureString"
  key_id      = module.data.kms_key_arn
  value       = "unset"
  tags        = local.tags

  lifecycle {
    ignore_changes = [value]
  }
}

resource "aws_ssm_parameter" "api_token" {
  name        = "/${local.prefix}/api-token"
  description = "Bearer token for the HTTP API's /api routes (random at creation; rotate with put-parameter)."
  type        = "SecureString"
  key_id      = module.data.kms_key_arn
  value       = "${uuid()}${uuid()}"
  tags        = local.tags

  lifecycle {
    ignore_changes = [value]
  }
}

resource "aws_lambda_layer_version" "engagement" {
  layer_name               = "${local.prefix}-engagement"
  description              = "libs/engagement and its dependencies (boto3 comes with the runtime)"
  filename                 = "${local.dist}/layer.zip"
  source_code_hash         = filebase64sha256("${local.dist}/layer.zip")
  compatible_runtimes      = ["python3.12"]
  compatible_architectures = [var.architecture]
}

# ---- each function's least-privilege policy --------------------------------------------------------------

data "aws_iam_policy_document" "stream_processor" {
  statement {
    sid       = "ReadUsersStream"
    actions   = ["dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator", "dynamodb:ListStreams"]
    resources = ["${module.data.users_table_arn}/stream/*"]
  }
  statement {
    sid       = "StoreComputedScore"
    actions   = ["dynamodb:UpdateItem"]
    resources = [module.data.users_table_arn]
  }
  statement {
    sid       = "PublishEvents"
    actions   = ["sns:Publish"]
    resources = [module.messaging.events_topic_arn]
  }
  statement {
    sid       = "DeadLetterRecords"
    actions   = ["sqs:SendMessage"]
    resources = [module.messaging.stream_dlq_arn]
  }
  statement {
    sid       = "UseDataKey"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = [module.data.kms_key_arn]
  }
}

data "aws_iam_policy_document" "email_processor" {
  statement {
    sid       = "ConsumeEmailRequests"
    actions   = ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ChangeMessageVisibility"]
    resources = [module.messaging.email_requests_queue_arn]
  }
  statement {
    sid       = "ReadClientsAndMarkEmailed"
    actions   = ["dynamodb:GetItem", "dynamodb:UpdateItem"]
    resources = [module.data.users_table_arn]
  }
  statement {
    sid       = "StoreDrafts"
    actions   = ["dynamodb:GetItem", "dynamodb:PutItem"]
    resources = [module.data.emails_table_arn]
  }
  statement {
    sid       = "RecordDecisionsAndClaimEmailSlots"
    actions   = ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"]
    resources = [module.data.decisions_table_arn]
  }
  statement {
    sid       = "DeadLetterMessages"
    actions   = ["sqs:SendMessage"]
    resources = [module.messaging.email_requests_dlq_arn]
  }
  statement {
    sid       = "ReadLlmKey"
    actions   = ["ssm:GetParameter"]
    resources = [aws_ssm_parameter.openrouter_api_key.arn]
  }
  statement {
    sid       = "UseDataKey"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = [module.data.kms_key_arn]
  }
}

data "aws_iam_policy_document" "api" {
  statement {
    sid       = "ReadClients"
    actions   = ["dynamodb:GetItem", "dynamodb:Scan"]
    resources = [module.data.users_table_arn]
  }
  statement {
    sid       = "ReadEmails"
    actions   = ["dynamodb:GetItem", "dynamodb:Query"]
    resources = [module.data.emails_table_arn, "${module.data.emails_table_arn}/index/*"]
  }
  statement {
    sid       = "ReadDecisions"
    actions   = ["dynamodb:Query"]
    resources = [module.data.decisions_table_arn]
  }
  statement {
    sid       = "ReadApiToken"
    actions   = ["ssm:GetParameter"]
    resources = [aws_ssm_parameter.api_token.arn]
  }
  statement {
    sid       = "UseDataKey"
    actions   = ["kms:Decrypt"]
    resources = [module.data.kms_key_arn]
  }
}

# ---- the functions ----------------------------------------------------------------------------------------

locals {
  function_policies = {
    stream_processor = data.aws_iam_policy_document.stream_processor.json
    email_processor  = data.aws_iam_policy_document.email_processor.json
    api              = data.aws_iam_policy_document.api.json
  }
  function_environment = {
    stream_processor = {
      USERS_TABLE_NAME      = module.data.users_table_name
      EVENTS_TOPIC_ARN      = module.messaging.events_topic_arn
      DEAD_LETTER_QUEUE_URL = module.messaging.stream_dlq_url
    }
    email_processor = {
      USERS_TABLE_NAME      = module.data.users_table_name
      EMAILS_TABLE_NAME     = module.data.emails_table_name
      DECISIONS_TABLE_NAME  = module.data.decisions_table_name
      DEAD_LETTER_QUEUE_URL = module.messaging.email_requests_dlq_url
      EMAIL_COOLDOWN_DAYS   = tostring(var.email_cooldown_days)
      BRAND_NAME            = var.brand_name
      SHOP_URL              = var.shop_url
      POSTAL_ADDRESS        = var.postal_address
      MAX_RECEIVE_COUNT     = "5" # the email queue's redrive: on the last receive the template writes the email
      LLM_BASE_URL          = var.llm_base_url
      LLM_MODEL             = var.llm_model
      LLM_CONCURRENCY       = "10" # the queue mapping's batch size: a batch is written side by side
      ALLOWED_OFFERS        = join(",", var.allowed_offers)

      OPENROUTER_API_KEY_PARAMETER = aws_ssm_parameter.openrouter_api_key.name
    }
    api = {
      USERS_TABLE_NAME     = module.data.users_table_name
      EMAILS_TABLE_NAME    = module.data.emails_table_name
      DECISIONS_TABLE_NAME = module.data.decisions_table_name
      API_TOKEN_PARAMETER  = aws_ssm_parameter.api_token.name
    }
  }
}

# One function per folder in functions/, each with its own role, policy, log group and environment.
module "function" {
  source   = "./modules/function"
  for_each = local.functions

  name                 = "${local.prefix}-${each.key}"
  service_name         = each.key
  description          = each.value.description
  package_path         = "${local.dist}/${each.key}.zip"
  architecture         = var.architecture
  timeout              = each.value.timeout
  memory_size          = each.value.memory
  reserved_concurrency = -1
  layers               = [aws_lambda_layer_version.engagement.arn]
  policy_json          = local.function_policies[each.key]
  kms_key_arn          = module.data.kms_key_arn
  log_retention_days   = var.log_retention_days
  log_level            = var.log_level
  environment          = local.function_environment[each.key]
  tags                 = local.tags
}

# ---- event source mappings --------------------------------------------------------------------------------

resource "aws_lambda_event_source_mapping" "users_stream" {
  function_name                  = module.function["stream_processor"].function_name
  event_source_arn               = module.data.users_stream_arn
  starting_position              = "LATEST"
  batch_size                     = 100
  maximum_retry_attempts         = -1   # transient failures retry until the record would leave the stream
  bisect_batch_on_function_error = true # (24 h); poison records are dead-lettered by the function at once
  maximum_record_age_in_seconds  = 86400
  function_response_types        = ["ReportBatchItemFailures"]

  # DynamoDB streams only carry these three; named so the mapping's intent is explicit.
  filter_criteria {
    filter {
      pattern = jsonencode({ eventName = ["INSERT", "MODIFY", "REMOVE"] })
    }
  }

  destination_config {
    on_failure {
      destination_arn = module.messaging.stream_dlq_arn
    }
  }
}

resource "aws_lambda_event_source_mapping" "email_requests" {
  function_name           = module.function["email_processor"].function_name
  event_source_arn        = module.messaging.email_requests_queue_arn
  batch_size              = 10
  function_response_types = ["ReportBatchItemFailures"]

  scaling_config {
    maximum_concurrency = var.email_processor_max_concurrency
  }
}

# ---- HTTP API and monitoring ------------------------------------------------------------------------------

module "http_api" {
  source                 = "./modules/api"
  prefix                 = local.prefix
  function_name          = module.function["api"].function_name
  function_invoke_arn    = module.function["api"].invoke_arn
  throttling_rate_limit  = var.api_throttling_rate_limit
  throttling_burst_limit = var.api_throttling_burst_limit
  kms_key_arn            = module.data.kms_key_arn
  log_retention_days     = var.log_retention_days
  tags                   = local.tags
}

module "monitoring" {
  source         = "./modules/monitoring"
  prefix         = local.prefix
  kms_key_arn    = module.data.kms_key_arn
  alert_email    = var.alert_email
  function_names = { for name, function in module.function : name => function.function_name }
  dead_letter_queue_names = {
    email-requests-dlq = module.messaging.email_requests_dlq_name
    stream-dlq         = module.messaging.stream_dlq_name
  }
  stream_function_name = module.function["stream_processor"].function_name
  email_service_name   = "email_processor"
  tags                 = local.tags
}
