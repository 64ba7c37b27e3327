data "aws_caller_identity" "current" {}
data "aws_region" "current" {}
data "aws_partition" "current" {}

locals {
  account_id = data.aws_caller_identity.current.account_id
  region     = data.aws_region.current.name
  partition  = data.aws_partition.current.partition
}

# One customer-managed key for the application's data at rest: tables, topics, queues, logs, parameters.
resource "aws_kms_key" "this" {
  description             = "${var.prefix}: client data at rest"
  enable_key_rotation     = true
  deletion_window_in_days = 30
  policy                  = data.aws_iam_policy_document.key.json
  tags                    = var.tags
}

resource "aws_kms_alias" "this" {
  name          = "alias/${var.prefix}"
  target_key_id = aws_kms_key.this.key_id
}

data "aws_iam_policy_document" "key" {
  # checkov:skip=CKV_AWS_109:a key policy's "*" resource means this key; the account root keeps administration
  # checkov:skip=CKV_AWS_111:a key policy's "*" resource means this key; the account root keeps administration
  # checkov:skip=CKV_AWS_356:a key policy's "*" resource means this key
  statement {
    sid       = "AccountAdministersTheKeyAndIamPoliciesGrantUse"
    actions   = ["kms:*"]
    resources = ["*"] # in a key policy, "*" is this key
    principals {
      type        = "AWS"
      identifiers = ["arn:${local.partition}:iam::${local.account_id}:root"]
    }
  }

  statement {
    sid       = "SnsDeliversToEncryptedQueues"
    actions   = ["kms:GenerateDataKey*", "kms:Decrypt"]
    resources = ["*"] # in a key policy, "*" is this key
    principals {
      type        = "Service"
      identifiers = ["sns.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }

  statement {
    sid       = "SesPublishesFeedbackToTheEncryptedTopic"
    actions   = ["kms:GenerateDataKey*", "kms:Decrypt"]
    resources = ["*"] # in a key policy, "*" is this key
    principals {
      type        = "Service"
      identifiers = ["ses.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }

  statement {
    sid       = "CloudWatchAlarmsPublishToEncryptedTopics"
    actions   = ["kms:GenerateDataKey*", "kms:Decrypt"]
    resources = ["*"] # in a key policy, "*" is this key
    principals {
      type        = "Service"
      identifiers = ["cloudwatch.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }

  statement {
    sid       = "CloudWatchLogsEncryptsThisApplicationsLogGroups"
    actions   = ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"]
    resources = ["*"] # in a key policy, "*" is this key
    principals {
      type        = "Service"
      identifiers = ["logs.${local.region}.amazonaws.com"]
    }
    condition {
      test     = "ArnLike"
      variable = "kms:EncryptionContext:aws:logs:arn"
      values   = ["arn:${local.partition}:logs:${local.region}:${local.account_id}:log-group:*${var.prefix}*"]
    }
  }
}

resource "aws_dynamodb_table" "users" {
  name                        = "${var.prefix}-users"
  billing_mode                = "PAY_PER_REQUEST"
  hash_key                    = "userId"
  stream_enabled              = true
  stream_view_type            = "NEW_AND_OLD_IMAGES"
  deletion_protection_enabled = var.deletion_protection

  attribute {
    name = "userId"
    type = "S"
  }

  attribute {
    name = "email"
    type = "S"
  }

  # A store's webhook names its customer by address (engagement.adapters.store.users): keys only.
  global_secondary_index {
    name            = "byEmail"
    hash_key        = "email"
    projection_type = "KEYS_ONLY"
  }

  point_in_time_recovery {
    enabled = true
  }

  server_side_encryption {
    enabled     = true
    kms_key_arn = aws_kms_key.this.arn
  }

  tags = var.tags
}

resource "aws_dynamodb_table" "emails" {
  name                        = "${var.prefix}-emails"
  billing_mode                = "PAY_PER_REQUEST"
  hash_key                    = "emailId"
  deletion_protection_enabled = var.deletion_protection

  attribute {
    name = "emailId"
    type = "S"
  }

  attribute {
    name = "userId"
    type = "S"
  }

  attribute {
    name = "status"
    type = "S"
  }

  attribute {
    name = "createdAt"
    type = "S"
  }

  # The indexes carry an email's summary, not the email (engagement.adapters.store.emails): a status change rewrites
  # a small entry in each instead of the whole email, and pages read whole emails back from the table by key.
  global_secondary_index {
    name               = "byUser"
    hash_key           = "userId"
    range_key          = "createdAt"
    projection_type    = "INCLUDE"
    non_key_attributes = ["status", "statusChangedAt", "sendAt", "sentAt", "convertedAt", "deliveryUncertain"]
  }

  global_secondary_index {
    name               = "byStatus"
    hash_key           = "status"
    range_key          = "createdAt"
    projection_type    = "INCLUDE"
    non_key_attributes = ["userId", "statusChangedAt", "sendAt", "sentAt", "convertedAt", "deliveryUncertain"]
  }

  point_in_time_recovery {
    enabled = true
  }

  server_side_encryption {
    enabled     = true
    kms_key_arn = aws_kms_key.this.arn
  }

  tags = var.tags
}

resource "aws_dynamodb_table" "decisions" {
  name                        = "${var.prefix}-decisions"
  billing_mode                = "PAY_PER_REQUEST"
  hash_key                    = "userId"
  range_key                   = "decisionKey"
  deletion_protection_enabled = var.deletion_protection

  attribute {
    name = "userId"
    type = "S"
  }

  attribute {
    name = "decisionKey"
    type = "S"
  }

  ttl {
    attribute_name = "expiresAt"
    enabled        = true
  }

  point_in_time_recovery {
    enabled = true
  }

  server_side_encryption {
    enabled     = true
    kms_key_arn = aws_kms_key.this.arn
  }

  tags = var.tags
}

# Addresses that bounced hard or complained: never emailed again.
resource "aws_dynamodb_table" "suppressions" {
  name                        = "${var.prefix}-suppressions"
  billing_mode                = "PAY_PER_REQUEST"
  hash_key                    = "address"
  deletion_protection_enabled = var.deletion_protection

  attribute {
    name = "address"
    type = "S"
  }

  point_in_time_recovery {
    enabled = true
  }

  server_side_encryption {
    enabled     = true
    kms_key_arn = aws_kms_key.this.arn
  }

  tags = var.tags
}

# One item per order, idempotent by (client, order id); byUser lists a client's orders newest first.
resource "aws_dynamodb_table" "orders" {
  name                        = "${var.prefix}-orders"
  billing_mode                = "PAY_PER_REQUEST"
  hash_key                    = "userId"
  range_key                   = "orderId"
  deletion_protection_enabled = var.deletion_protection

  attribute {
    name = "userId"
    type = "S"
  }

  attribute {
    name = "orderId"
    type = "S"
  }

  attribute {
    name = "orderedAt"
    type = "S"
  }

  global_secondary_index {
    name            = "byUser"
    hash_key        = "userId"
    range_key       = "orderedAt"
    projection_type = "ALL"
  }

  point_in_time_recovery {
    enabled = true
  }

  server_side_encryption {
    enabled     = true
    kms_key_arn = aws_kms_key.this.arn
  }

  tags = var.tags
}

# The shop's catalog; byCategory lists a category's products.
resource "aws_dynamodb_table" "products" {
  name                        = "${var.prefix}-products"
  billing_mode                = "PAY_PER_REQUEST"
  hash_key                    = "productId"
  deletion_protection_enabled = var.deletion_protection

  attribute {
    name = "productId"
    type = "S"
  }

  attribute {
    name = "category"
    type = "S"
  }

  global_secondary_index {
    name            = "byCategory"
    hash_key        = "category"
    range_key       = "productId"
    projection_type = "ALL"
  }

  point_in_time_recovery {
    enabled = true
  }

  server_side_encryption {
    enabled     = true
    kms_key_arn = aws_kms_key.this.arn
  }

  tags = var.tags
}

# A store's webhooks handled, by id: a retried or replayed webhook changes nothing twice. Kept for a month.
resource "aws_dynamodb_table" "webhooks" {
  name                        = "${var.prefix}-webhooks"
  billing_mode                = "PAY_PER_REQUEST"
  hash_key                    = "webhookId"
  deletion_protection_enabled = var.deletion_protection

  attribute {
    name = "webhookId"
    type = "S"
  }

  ttl {
    attribute_name = "expiresAt"
    enabled        = true
  }

  point_in_time_recovery {
    enabled = true
  }

  server_side_encryption {
    enabled     = true
    kms_key_arn = aws_kms_key.this.arn
  }

  tags = var.tags
}

# The churn model's versions (partition "churn", sort key: when it was fitted); every function scores with the
# newest. Kept a year, so a fit can be compared with the ones before it.
resource "aws_dynamodb_table" "models" {
  name                        = "${var.prefix}-models"
  billing_mode                = "PAY_PER_REQUEST"
  hash_key                    = "model"
  range_key                   = "version"
  deletion_protection_enabled = var.deletion_protection

  attribute {
    name = "model"
    type = "S"
  }

  attribute {
    name = "version"
    type = "S"
  }

  ttl {
    attribute_name = "expiresAt"
    enabled        = true
  }

  point_in_time_recovery {
    enabled = true
  }

  server_side_encryption {
    enabled     = true
    kms_key_arn = aws_kms_key.this.arn
  }

  tags = var.tags
}
