locals {
  prefix = "${var.name}-${var.environment}"
  tags = merge(var.tags, {
    Project     = var.name
    Environment = var.environment
  })
  dist = "${path.root}/${var.dist_dir}"

  # One place for the functions' sizes; a queue's visibility timeout is 6 x its consumer's timeout.
  functions = {
    stream_processor = { timeout = 60, memory = 256, description = "Users stream -> score -> engagement events" }
    email_processor  = { timeout = 60, memory = 512, description = "Email requests -> decision -> win-back draft" }
    api              = { timeout = 10, memory = 256, description = "HTTP API: clients, emails, review, unsubscribe" }
    scheduled_sender = { timeout = 60, memory = 256, description = "Sends scheduled emails when they are due" }
    client_signals   = { timeout = 30, memory = 256, description = "Orders, opt-outs, deletions -> conversions" }
    ses_feedback     = { timeout = 30, memory = 256, description = "SES bounces and complaints -> suppressions" }
    rescore          = { timeout = 300, memory = 512, description = "Daily sweep: rescores clients, publishes drift" }
    store_webhooks   = { timeout = 30, memory = 256, description = "Store webhooks -> orders recorded, products stored" }
  }
}

module "data" {
  source              = "./modules/data"
  prefix              = local.prefix
  deletion_protection = var.deletion_protection
  tags                = local.tags
}

module "messaging" {
  source      = "./modules/messaging"
  prefix      = local.prefix
  kms_key_arn = module.data.kms_key_arn
  consumer_timeouts = {
    email-requests   = local.functions.email_processor.timeout
    client-signals   = local.functions.client_signals.timeout
    ses-feedback     = local.functions.ses_feedback.timeout
    rescore-segments = local.functions.rescore.timeout
    store-webhooks   = local.functions.store_webhooks.timeout
  }
  max_receive_count = 5 # the email processor's MAX_RECEIVE_COUNT says the same
  tags              = local.tags
}

module "email" {
  source             = "./modules/email"
  prefix             = local.prefix
  sender_email       = var.sender_email
  create_identity    = var.create_ses_identity
  feedback_topic_arn = module.messaging.ses_feedback_topic_arn
  tags               = local.tags
}

# Secrets live in SSM as SecureStrings. Terraform writes each once, at creation, through a write-only argument
# (value_wo: never in the plan or the state) and never again while value_wo_version stays 1: a placeholder, or two
# random UUIDs (244 random bits from Terraform's cryptographic generator; being write-only, never stored either).
# Set the real values with `aws ssm put-parameter --overwrite --key-id …` (README), never in tfvars.
# (Not the AWS provider's ephemeral random password: `terraform test`'s mock provider cannot mock ephemeral resources.)

resource "aws_ssm_parameter" "openrouter_api_key" {
  name             = "/${local.prefix}/openrouter-api-key"
  description      = "OpenRouter API key for the LLM writer; 'unset' keeps the template writer."
  type             = "SecureString"
  key_id           = module.data.kms_key_arn
  value_wo         = "unset"
  value_wo_version = 1
  tags             = local.tags
}

resource "aws_ssm_parameter" "api_token" {
  name             = "/${local.prefix}/api-token"
  description      = "Bearer token for the HTTP API's /api routes (random at creation; rotate with put-parameter)."
  type             = "SecureString"
  key_id           = module.data.kms_key_arn
  value_wo         = "${uuid()}${uuid()}"
  value_wo_version = 1
  tags             = local.tags
}

resource "aws_ssm_parameter" "shopify_webhook_secret" {
  name             = "/${local.prefix}/shopify-webhook-secret"
  description      = "The secret Shopify signs webhooks with (Settings > Notifications > Webhooks); 'unset' refuses them."
  type             = "SecureString"
  key_id           = module.data.kms_key_arn
  value_wo         = "unset"
  value_wo_version = 1
  tags             = local.tags
}

resource "aws_ssm_parameter" "unsubscribe_secret" {
  name             = "/${local.prefix}/unsubscribe-secret"
  description      = "Key that signs unsubscribe links (random at creation; rotate it with its previous value kept below)."
  type             = "SecureString"
  key_id           = module.data.kms_key_arn
  value_wo         = "${uuid()}${uuid()}"
  value_wo_version = 1
  tags             = local.tags
}

resource "aws_ssm_parameter" "unsubscribe_secret_previous" {
  name             = "/${local.prefix}/unsubscribe-secret-previous"
  description      = "The unsubscribe key before the last rotation: its links still work for unsubscribe_key_overlap_days."
  type             = "SecureString"
  key_id           = module.data.kms_key_arn
  value_wo         = "unset"
  value_wo_version = 1
  tags             = local.tags
}

# Where unsubscribe links point. A parameter, not an environment variable: the API's URL exists only after the
# API, which needs the function first. Not a secret (it is printed in every email): insecure_value says so.
resource "aws_ssm_parameter" "public_base_url" {
  # checkov:skip=CKV2_AWS_34:the API's public URL is printed in every email; it is not a secret
  name           = "/${local.prefix}/public-base-url"
  description    = "The HTTP API's public URL, for the links in emails."
  type           = "String"
  insecure_value = module.http_api.url
  tags           = local.tags
}

# X-Ray's encryption is one setting per account and region: the environment that manages it (one per account and
# region; manage_xray_encryption = false in the others) points it at its key.
resource "aws_xray_encryption_config" "this" {
  count  = var.manage_xray_encryption ? 1 : 0
  type   = "KMS"
  key_id = module.data.kms_key_arn
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
    sid       = "ReadChurnModel" # the newest version: one Query, newest first
    actions   = ["dynamodb:Query"]
    resources = [module.data.models_table_arn]
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

locals {
  # Every queue, by name (the least-privilege test reads them; another test checks none is missing).
  consumer_queue_arns = [
    module.messaging.queue_arns["email-requests"],
    module.messaging.queue_arns["client-signals"],
    module.messaging.queue_arns["ses-feedback"],
    module.messaging.queue_arns["rescore-segments"],
    module.messaging.queue_arns["store-webhooks"],
  ]
  dead_letter_queue_arns = [
    module.messaging.dead_letter_arns["email-requests"],
    module.messaging.dead_letter_arns["client-signals"],
    module.messaging.dead_letter_arns["ses-feedback"],
    module.messaging.dead_letter_arns["rescore-segments"],
    module.messaging.dead_letter_arns["store-webhooks"],
    module.messaging.stream_dlq_arn,
  ]
}

# What sending an email takes: the functions that send (email processor in auto mode, API on approval, the
# scheduled sender) share it.
data "aws_iam_policy_document" "sending" {
  statement {
    sid       = "ReadClients"
    actions   = ["dynamodb:GetItem"]
    resources = [module.data.users_table_arn]
  }
  statement {
    sid       = "MoveEmailsThroughTheirLifecycle"
    actions   = ["dynamodb:GetItem", "dynamodb:UpdateItem", "dynamodb:Query"]
    resources = [module.data.emails_table_arn, "${module.data.emails_table_arn}/index/*"]
  }
  statement {
    sid       = "CheckTheSuppressionList"
    actions   = ["dynamodb:GetItem"]
    resources = [module.data.suppressions_table_arn]
  }
  statement {
    sid       = "CheckPicksAtSendTime" # the products an email shows, read again just before it goes
    actions   = ["dynamodb:BatchGetItem"]
    resources = [module.data.products_table_arn]
  }
  statement {
    sid       = "CountSentEmails"
    actions   = ["dynamodb:UpdateItem"]
    resources = [module.data.decisions_table_arn]
  }
  statement {
    sid       = "SendThroughSes"
    actions   = ["ses:SendEmail"] # SES v2 SendEmail, raw content included
    resources = [module.email.identities_arn, module.email.configuration_set_arn]
    condition {
      test     = "StringEquals"
      variable = "ses:FromAddress"
      values   = [var.sender_email]
    }
  }
  statement {
    sid     = "ReadUnsubscribeSettings"
    actions = ["ssm:GetParameter"]
    resources = [
      aws_ssm_parameter.unsubscribe_secret.arn,
      aws_ssm_parameter.unsubscribe_secret_previous.arn,
      aws_ssm_parameter.public_base_url.arn,
    ]
  }
  statement {
    sid       = "UseDataKey"
    actions   = ["kms:Decrypt"]
    resources = [module.data.kms_key_arn]
  }
}

data "aws_iam_policy_document" "email_processor" {
  source_policy_documents = [data.aws_iam_policy_document.sending.json]

  statement {
    sid       = "ConsumeEmailRequests"
    actions   = ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ChangeMessageVisibility"]
    resources = [module.messaging.queue_arns["email-requests"]]
  }
  statement {
    sid       = "ReadClientsAndMarkEmailed"
    actions   = ["dynamodb:GetItem", "dynamodb:UpdateItem"]
    resources = [module.data.users_table_arn]
  }
  statement {
    sid       = "StoreDrafts"
    actions   = ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query"]
    resources = [module.data.emails_table_arn, "${module.data.emails_table_arn}/index/*"]
  }
  statement {
    sid       = "RecordDecisionsAndClaimEmailSlots"
    actions   = ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:Query"]
    resources = [module.data.decisions_table_arn]
  }
  statement {
    sid       = "ReadChurnModelAndCoPurchases" # the newest versions (Query), a client's products' rows (BatchGetItem)
    actions   = ["dynamodb:Query", "dynamodb:BatchGetItem"]
    resources = [module.data.models_table_arn]
  }
  statement {
    sid       = "ReadTheClientsOrders"
    actions   = ["dynamodb:Query"]
    resources = [module.data.orders_table_arn, "${module.data.orders_table_arn}/index/*"]
  }
  statement {
    sid       = "ReadProductsToShow" # a client's categories (the byCategory index) and the products by id
    actions   = ["dynamodb:BatchGetItem", "dynamodb:Query"]
    resources = [module.data.products_table_arn, "${module.data.products_table_arn}/index/*"]
  }
  statement {
    sid       = "DeadLetterMessages"
    actions   = ["sqs:SendMessage"]
    resources = [module.messaging.dead_letter_arns["email-requests"]]
  }
  statement {
    sid       = "ReadLlmKey"
    actions   = ["ssm:GetParameter"]
    resources = [aws_ssm_parameter.openrouter_api_key.arn]
  }
  statement {
    sid       = "UseDataKeyForQueues"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = [module.data.kms_key_arn]
  }
}

data "aws_iam_policy_document" "api" {
  source_policy_documents = [data.aws_iam_policy_document.sending.json]

  statement {
    sid       = "ReadChurnModel" # the newest version: one Query, newest first
    actions   = ["dynamodb:Query"]
    resources = [module.data.models_table_arn]
  }
  statement {
    sid       = "ManageClients"
    actions   = ["dynamodb:GetItem", "dynamodb:Scan", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"]
    resources = [module.data.users_table_arn]
  }
  statement {
    sid       = "RecordOrdersAndReadThem" # an order is put with its client's update in one transaction
    actions   = ["dynamodb:PutItem", "dynamodb:GetItem", "dynamodb:Query"]
    resources = [module.data.orders_table_arn, "${module.data.orders_table_arn}/index/*"]
  }
  statement {
    sid       = "ManageTheCatalog"
    actions   = ["dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:PutItem", "dynamodb:DeleteItem", "dynamodb:Query", "dynamodb:Scan"]
    resources = [module.data.products_table_arn, "${module.data.products_table_arn}/index/*"]
  }
  statement {
    sid       = "ReadPagesOfEmailsByKey" # the indexes list a page; the whole emails are read from the table
    actions   = ["dynamodb:BatchGetItem"]
    resources = [module.data.emails_table_arn]
  }
  statement {
    sid       = "RecordUnsubscribesOnTheSuppressionList"
    actions   = ["dynamodb:UpdateItem"]
    resources = [module.data.suppressions_table_arn]
  }
  statement {
    sid       = "ReadDecisionsAndCounters"
    actions   = ["dynamodb:Query", "dynamodb:GetItem", "dynamodb:BatchGetItem"]
    resources = [module.data.decisions_table_arn]
  }
  statement {
    sid       = "CacheStats" # the cached overview only: its partition is #stats, never a client's decisions
    actions   = ["dynamodb:PutItem"]
    resources = [module.data.decisions_table_arn]
    condition {
      test     = "ForAllValues:StringEquals"
      variable = "dynamodb:LeadingKeys"
      values   = ["#stats"]
    }
  }
  statement {
    sid       = "RememberOperatorRequests" # when a request id was first asked: its own attributes, nothing else
    actions   = ["dynamodb:PutItem"]
    resources = [module.data.decisions_table_arn]
    condition {
      test     = "ForAllValues:StringEquals"
      variable = "dynamodb:Attributes"
      values   = ["userId", "decisionKey", "requestedAt", "expiresAt"]
    }
  }
  statement {
    sid       = "WatchTheQueuesAndRedriveToThem" # and queue an operator's request for the email processor
    actions   = ["sqs:GetQueueAttributes", "sqs:SendMessage"]
    resources = local.consumer_queue_arns
  }
  statement {
    sid       = "WatchLookIntoAndRedriveDeadLetters"
    actions   = ["sqs:GetQueueAttributes", "sqs:ReceiveMessage", "sqs:DeleteMessage"]
    resources = local.dead_letter_queue_arns
  }
  statement {
    sid       = "ReadQueueAges"
    actions   = ["cloudwatch:GetMetricData"]
    resources = ["*"] # CloudWatch metric reads have no resource-level permissions
  }
  statement {
    sid       = "EncryptRedrivenMessages"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = [module.data.kms_key_arn]
  }
  statement {
    sid       = "ReadApiToken"
    actions   = ["ssm:GetParameter"]
    resources = [aws_ssm_parameter.api_token.arn, aws_ssm_parameter.shopify_webhook_secret.arn]
  }
  statement {
    sid       = "SkipWebhooksHandledBefore" # the webhook queue's SendMessage is in WatchTheQueuesAndRedriveToThem
    actions   = ["dynamodb:GetItem"]
    resources = [module.data.webhooks_table_arn]
  }
}

data "aws_iam_policy_document" "scheduled_sender" {
  source_policy_documents = [data.aws_iam_policy_document.sending.json]
}

data "aws_iam_policy_document" "client_signals" {
  statement {
    sid       = "ConsumeClientSignals"
    actions   = ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ChangeMessageVisibility"]
    resources = [module.messaging.queue_arns["client-signals"]]
  }
  statement {
    sid       = "ConvertAndCancelEmails"
    actions   = ["dynamodb:GetItem", "dynamodb:UpdateItem", "dynamodb:Query"]
    resources = [module.data.emails_table_arn, "${module.data.emails_table_arn}/index/*"]
  }
  statement {
    sid       = "ConvertHoldoutDecisionsAndCount"
    actions   = ["dynamodb:Query", "dynamodb:UpdateItem"]
    resources = [module.data.decisions_table_arn]
  }
  statement {
    sid       = "DeadLetterMessages"
    actions   = ["sqs:SendMessage"]
    resources = [module.messaging.dead_letter_arns["client-signals"]]
  }
  statement {
    sid       = "UseDataKey"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = [module.data.kms_key_arn]
  }
}

data "aws_iam_policy_document" "ses_feedback" {
  statement {
    sid       = "ConsumeSesFeedback"
    actions   = ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ChangeMessageVisibility"]
    resources = [module.messaging.queue_arns["ses-feedback"]]
  }
  statement {
    sid       = "Suppress"
    actions   = ["dynamodb:UpdateItem"]
    resources = [module.data.suppressions_table_arn]
  }
  statement {
    sid       = "DeadLetterMessages"
    actions   = ["sqs:SendMessage"]
    resources = [module.messaging.dead_letter_arns["ses-feedback"]]
  }
  statement {
    sid       = "UseDataKey"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = [module.data.kms_key_arn]
  }
}

# The daily sweep: the coordinator queues one task per scan segment; each task scans its segment, publishes the
# clients that drifted, marks them, and queues its own continuation when time runs low.
data "aws_iam_policy_document" "rescore" {
  statement {
    sid       = "ConsumeSegmentTasks"
    actions   = ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ChangeMessageVisibility"]
    resources = [module.messaging.queue_arns["rescore-segments"]]
  }
  statement {
    sid       = "QueueSegmentTasksAndCheckpoints"
    actions   = ["sqs:SendMessage"]
    resources = [module.messaging.queue_arns["rescore-segments"]]
  }
  statement {
    sid       = "ScanClientsAndStoreTheirScores" # a parallel scan with a projection; marks only existing clients
    actions   = ["dynamodb:Scan", "dynamodb:UpdateItem"]
    resources = [module.data.users_table_arn]
  }
  statement {
    sid       = "FitAndReadChurnModel" # the coordinator stores each weekly fit as a new version
    actions   = ["dynamodb:Query", "dynamodb:PutItem"]
    resources = [module.data.models_table_arn]
  }
  statement {
    sid       = "BuildCoPurchaseCounts" # daily: a projected scan of the orders, products' categories, rows written
    actions   = ["dynamodb:Scan", "dynamodb:BatchGetItem", "dynamodb:BatchWriteItem"]
    resources = [module.data.orders_table_arn, module.data.products_table_arn, module.data.models_table_arn]
  }
  statement {
    sid       = "PublishEvents"
    actions   = ["sns:Publish"]
    resources = [module.messaging.events_topic_arn]
  }
  statement {
    sid       = "DeadLetterTasks"
    actions   = ["sqs:SendMessage"]
    resources = [module.messaging.dead_letter_arns["rescore-segments"]]
  }
  statement {
    sid       = "UseDataKey"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = [module.data.kms_key_arn]
  }
}

# A store's webhooks, from their queue: find or add the client, record the order; or store the product.
data "aws_iam_policy_document" "store_webhooks" {
  statement {
    sid       = "ConsumeStoreWebhooks"
    actions   = ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ChangeMessageVisibility"]
    resources = [module.messaging.queue_arns["store-webhooks"]]
  }
  statement {
    sid       = "FindAddAndUpdateClients" # by address (the byEmail index); an order updates the client's aggregates
    actions   = ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:Query"]
    resources = [module.data.users_table_arn, "${module.data.users_table_arn}/index/byEmail"]
  }
  statement {
    sid       = "RecordOrders" # put with the client's update in one transaction
    actions   = ["dynamodb:PutItem", "dynamodb:GetItem"]
    resources = [module.data.orders_table_arn]
  }
  statement {
    sid       = "StoreProductsAndReadCategories"
    actions   = ["dynamodb:PutItem", "dynamodb:BatchGetItem"]
    resources = [module.data.products_table_arn]
  }
  statement {
    sid       = "MarkWebhooksHandled"
    actions   = ["dynamodb:GetItem", "dynamodb:PutItem"]
    resources = [module.data.webhooks_table_arn]
  }
  statement {
    sid       = "DeadLetterWebhooks"
    actions   = ["sqs:SendMessage"]
    resources = [module.messaging.dead_letter_arns["store-webhooks"]]
  }
  statement {
    sid       = "UseDataKey"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = [module.data.kms_key_arn]
  }
}

# ---- the functions ----------------------------------------------------------------------------------------

locals {
  function_policies = {
    stream_processor = data.aws_iam_policy_document.stream_processor.json
    email_processor  = data.aws_iam_policy_document.email_processor.json
    api              = data.aws_iam_policy_document.api.json
    scheduled_sender = data.aws_iam_policy_document.scheduled_sender.json
    client_signals   = data.aws_iam_policy_document.client_signals.json
    ses_feedback     = data.aws_iam_policy_document.ses_feedback.json
    rescore          = data.aws_iam_policy_document.rescore.json
    store_webhooks   = data.aws_iam_policy_document.store_webhooks.json
  }
  tables_environment = {
    USERS_TABLE_NAME        = module.data.users_table_name
    EMAILS_TABLE_NAME       = module.data.emails_table_name
    DECISIONS_TABLE_NAME    = module.data.decisions_table_name
    SUPPRESSIONS_TABLE_NAME = module.data.suppressions_table_name
  }
  delivery_environment = merge(local.tables_environment, {
    DELIVERY_MODE                         = var.delivery_mode
    SENDER_EMAIL                          = var.sender_email
    BRAND_NAME                            = var.brand_name
    SES_CONFIGURATION_SET                 = module.email.configuration_set_name
    SENDING_WINDOW_START                  = var.sending_window_start
    SENDING_WINDOW_END                    = var.sending_window_end
    UNSUBSCRIBE_SECRET_PARAMETER          = aws_ssm_parameter.unsubscribe_secret.name
    UNSUBSCRIBE_PREVIOUS_SECRET_PARAMETER = aws_ssm_parameter.unsubscribe_secret_previous.name
    UNSUBSCRIBE_KEY_OVERLAP_DAYS          = tostring(var.unsubscribe_key_overlap_days)
    PUBLIC_BASE_URL_PARAMETER             = aws_ssm_parameter.public_base_url.name
  })
  content_environment = merge(local.delivery_environment, { # what an email may say: the writer's and an editor's rules
    SHOP_URL       = var.shop_url
    POSTAL_ADDRESS = var.postal_address
    ALLOWED_OFFERS = join(",", var.allowed_offers)
  })
  commerce_environment = { # orders and the catalog
    ORDERS_TABLE_NAME   = module.data.orders_table_name
    PRODUCTS_TABLE_NAME = module.data.products_table_name
    SHOP_CURRENCY       = var.shop_currency
    IMAGE_DOMAINS       = join(",", var.image_domains)
  }
  eligibility_environment = { # who may be emailed: the email processor decides by it, the API answers requests by it
    EMAIL_COOLDOWN_DAYS = tostring(var.email_cooldown_days)
    FREQUENCY_CAP       = tostring(var.frequency_cap)
    HOLDOUT_PERCENT     = tostring(var.holdout_percent)
  }
  function_environment = {
    stream_processor = {
      MODELS_TABLE_NAME     = module.data.models_table_name
      USERS_TABLE_NAME      = module.data.users_table_name
      EVENTS_TOPIC_ARN      = module.messaging.events_topic_arn
      DEAD_LETTER_QUEUE_URL = module.messaging.stream_dlq_url
    }
    email_processor = merge(local.content_environment, local.eligibility_environment, {
      DEAD_LETTER_QUEUE_URL = module.messaging.dead_letter_urls["email-requests"]
      MODELS_TABLE_NAME     = module.data.models_table_name
      ORDERS_TABLE_NAME     = module.data.orders_table_name # what the client bought: what to show them
      PRODUCTS_TABLE_NAME   = module.data.products_table_name
      MAX_RECEIVE_COUNT     = "5" # the email queue's redrive: on the last receive the template writes the email
      LLM_BASE_URL          = var.llm_base_url
      LLM_MODEL             = var.llm_model
      LLM_CONCURRENCY       = "10" # the queue mapping's batch size: a batch is written side by side

      OPENROUTER_API_KEY_PARAMETER = aws_ssm_parameter.openrouter_api_key.name
    })
    api = merge(local.content_environment, local.commerce_environment, local.eligibility_environment, {
      EMAIL_REQUESTS_QUEUE_URL = module.messaging.queue_urls["email-requests"] # an operator's request for a draft
      AUTH_MODE                = var.jwt_issuer == "" ? "bearer" : "jwt"
      API_TOKEN_PARAMETER      = aws_ssm_parameter.api_token.name
      CONVERSION_WINDOW_DAYS   = "30"
      PIPELINE_QUEUES          = jsonencode(module.messaging.watched_queues)
      WEBHOOK_QUEUE_URL        = module.messaging.queue_urls["store-webhooks"]
      WEBHOOKS_TABLE_NAME      = module.data.webhooks_table_name
      MODELS_TABLE_NAME        = module.data.models_table_name

      SHOPIFY_WEBHOOK_SECRET_PARAMETER = aws_ssm_parameter.shopify_webhook_secret.name
    })
    # what it sends is re-rendered when a product changed since the draft
    scheduled_sender = merge(local.content_environment, { PRODUCTS_TABLE_NAME = module.data.products_table_name })
    client_signals = merge(local.tables_environment, {
      DEAD_LETTER_QUEUE_URL  = module.messaging.dead_letter_urls["client-signals"]
      CONVERSION_WINDOW_DAYS = "30"
    })
    ses_feedback = {
      SUPPRESSIONS_TABLE_NAME = module.data.suppressions_table_name
      DEAD_LETTER_QUEUE_URL   = module.messaging.dead_letter_urls["ses-feedback"]
    }
    rescore = {
      USERS_TABLE_NAME        = module.data.users_table_name
      EVENTS_TOPIC_ARN        = module.messaging.events_topic_arn
      SEGMENT_QUEUE_URL       = module.messaging.queue_urls["rescore-segments"]
      DEAD_LETTER_QUEUE_URL   = module.messaging.dead_letter_urls["rescore-segments"]
      RESCORE_SEGMENTS        = tostring(var.rescore_segments)
      RESCORE_PAGE_SIZE       = "500"
      EMAIL_COOLDOWN_DAYS     = tostring(var.email_cooldown_days) # the email processor's cooldown: one rule
      WINBACK_ATTEMPTS        = tostring(var.winback_attempts)
      MODELS_TABLE_NAME       = module.data.models_table_name
      CHURN_MODEL             = var.churn_model
      CHURN_MIN_REPEAT_BUYERS = tostring(var.churn_min_repeat_buyers)
      CHURN_REFIT_DAYS        = tostring(var.churn_refit_days)
      CHURN_MAX_CLIENTS       = tostring(var.churn_max_clients)
      ORDERS_TABLE_NAME       = module.data.orders_table_name # the daily co-purchase counts
      PRODUCTS_TABLE_NAME     = module.data.products_table_name
    }
    store_webhooks = merge(local.commerce_environment, {
      USERS_TABLE_NAME      = module.data.users_table_name
      WEBHOOKS_TABLE_NAME   = module.data.webhooks_table_name
      DEAD_LETTER_QUEUE_URL = module.messaging.dead_letter_urls["store-webhooks"]
      SHOP_URL              = var.shop_url
    })
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
  xray_tracing         = var.xray_tracing
  environment          = local.function_environment[each.key]
  tags                 = local.tags
}

# ---- event sources ----------------------------------------------------------------------------------------

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

locals {
  # Each queue's consumer and how many of them may run at once (the email processor's: the LLM's rate limit).
  queue_consumers = {
    email-requests = { function = "email_processor", batch_size = 10, maximum_concurrency = var.email_processor_max_concurrency }
    client-signals = { function = "client_signals", batch_size = 10, maximum_concurrency = 2 }
    ses-feedback   = { function = "ses_feedback", batch_size = 10, maximum_concurrency = 2 }
    # One segment task per invocation: a task runs for minutes and checkpoints itself.
    rescore-segments = { function = "rescore", batch_size = 1, maximum_concurrency = 4 }
    store-webhooks   = { function = "store_webhooks", batch_size = 10, maximum_concurrency = 2 }
  }
}

resource "aws_lambda_event_source_mapping" "queue" {
  for_each                = local.queue_consumers
  function_name           = module.function[each.value.function].function_name
  event_source_arn        = module.messaging.queue_arns[each.key]
  batch_size              = each.value.batch_size
  function_response_types = ["ReportBatchItemFailures"]

  scaling_config {
    maximum_concurrency = each.value.maximum_concurrency
  }
}

module "send_due" {
  source       = "./modules/schedule"
  name         = "${local.prefix}-send-due"
  function_arn = module.function["scheduled_sender"].function_arn
  rate_minutes = var.send_due_rate_minutes
  payload      = { action = "send-due" }
  kms_key_arn  = module.data.kms_key_arn
  tags         = local.tags
}

# Daily: a run missed is a day the drifted clients are not seen, so an undelivered run is dead-lettered and alarms.
module "rescore" {
  source              = "./modules/schedule"
  name                = "${local.prefix}-rescore"
  function_arn        = module.function["rescore"].function_arn
  schedule_expression = var.rescore_schedule
  payload             = { action = "rescore" }
  dead_letter_queue   = true
  kms_key_arn         = module.data.kms_key_arn
  tags                = local.tags
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
  jwt_issuer             = var.jwt_issuer
  jwt_audience           = var.jwt_audience
  tags                   = local.tags
}

module "monitoring" {
  source                           = "./modules/monitoring"
  prefix                           = local.prefix
  kms_key_arn                      = module.data.kms_key_arn
  alert_email                      = var.alert_email
  function_names                   = { for name, function in module.function : name => function.function_name }
  dead_letter_queue_names          = module.messaging.dead_letter_names
  schedule_dead_letter_queue_names = { rescore-schedule-dlq = module.rescore.dead_letter_queue_name }
  stream_function_name             = module.function["stream_processor"].function_name
  email_service_name               = "email_processor"
  rescore_service_name             = "rescore"
  configuration_set_name           = module.email.configuration_set_name
  tags                             = local.tags
}
