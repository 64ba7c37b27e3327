# terraform test (make test runs it): the root module planned and applied against a mock AWS provider, at the
# defaults, with every optional variable set, with the JWT authorizer, and as a second environment of one account.
# tests/packages holds empty placeholder packages: the plan hashes them, nothing deploys them.
mock_provider "aws" {
  mock_data "aws_iam_policy_document" {
    defaults = { json = "{\"Version\":\"2012-10-17\",\"Statement\":[]}" }
  }
  mock_data "aws_caller_identity" {
    defaults = { account_id = "123456789012" }
  }
  mock_data "aws_region" {
    defaults = { name = "eu-west-1" }
  }
  mock_data "aws_partition" {
    defaults = { partition = "aws" }
  }
  mock_resource "aws_kms_key" {
    defaults = { arn = "arn:aws:kms:eu-west-1:123456789012:key/00000000-0000-0000-0000-000000000000" }
  }
  mock_resource "aws_cloudwatch_log_group" {
    defaults = { arn = "arn:aws:logs:eu-west-1:123456789012:log-group:mock" }
  }
  mock_resource "aws_sns_topic" {
    defaults = { arn = "arn:aws:sns:eu-west-1:123456789012:mock" }
  }
  mock_resource "aws_sqs_queue" {
    defaults = { arn = "arn:aws:sqs:eu-west-1:123456789012:mock", url = "https://sqs.eu-west-1.amazonaws.com/123456789012/mock" }
  }
  mock_resource "aws_dynamodb_table" {
    defaults = { arn = "arn:aws:dynamodb:eu-west-1:123456789012:table/mock", stream_arn = "arn:aws:dynamodb:eu-west-1:123456789012:table/mock/stream/2026-01-01T00:00:00.000" }
  }
  mock_resource "aws_iam_role" {
    defaults = { arn = "arn:aws:iam::123456789012:role/mock" }
  }
  mock_resource "aws_lambda_function" {
    defaults = { arn = "arn:aws:lambda:eu-west-1:123456789012:function:mock", invoke_arn = "arn:aws:apigateway:eu-west-1:lambda:path/2015-03-31/functions/arn:aws:lambda:eu-west-1:123456789012:function:mock/invocations" }
  }
  mock_resource "aws_lambda_layer_version" {
    defaults = { arn = "arn:aws:lambda:eu-west-1:123456789012:layer:mock:1" }
  }
  mock_resource "aws_apigatewayv2_stage" {
    defaults = { invoke_url = "https://mock.execute-api.eu-west-1.amazonaws.com/" }
  }
  mock_resource "aws_apigatewayv2_api" {
    defaults = { execution_arn = "arn:aws:execute-api:eu-west-1:123456789012:mock", api_endpoint = "https://mock.execute-api.eu-west-1.amazonaws.com" }
  }
  mock_resource "aws_sesv2_configuration_set" {
    defaults = { arn = "arn:aws:ses:eu-west-1:123456789012:configuration-set/mock" }
  }
  mock_resource "aws_ssm_parameter" {
    defaults = { arn = "arn:aws:ssm:eu-west-1:123456789012:parameter/mock" }
  }
}

variables {
  brand_name     = "Northwind Apparel"
  shop_url       = "https://shop.example.com/"
  postal_address = "100 Example Street, Springfield, 00000"
  sender_email   = "winback@shop.example.com"
  dist_dir       = "tests/packages"
}

run "plan_at_the_defaults" {
  command = plan

  assert {
    condition     = keys(module.messaging.queue_arns) == keys(module.messaging.dead_letter_arns)
    error_message = "every queue has a dead-letter queue"
  }
  assert {
    condition = alltrue(concat(
      [for mapping in aws_lambda_event_source_mapping.queue : mapping.function_response_types == toset(["ReportBatchItemFailures"])],
      [aws_lambda_event_source_mapping.users_stream.function_response_types == toset(["ReportBatchItemFailures"])],
    ))
    error_message = "every event source mapping reports batch item failures"
  }
  assert {
    condition = alltrue([
      for parameter in [aws_ssm_parameter.openrouter_api_key, aws_ssm_parameter.api_token, aws_ssm_parameter.unsubscribe_secret, aws_ssm_parameter.unsubscribe_secret_previous] :
      parameter.value_wo_version == 1 && parameter.type == "SecureString"
    ])
    error_message = "every secret is a SecureString written once through value_wo"
  }
  assert {
    condition     = length(aws_xray_encryption_config.this) == 1
    error_message = "the first environment creates the identity and manages X-Ray's encryption"
  }
}

run "plan_with_the_jwt_authorizer" {
  command = plan

  variables {
    jwt_issuer   = "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_Example"
    jwt_audience = ["dashboard-client"]
  }

  assert {
    condition     = local.function_environment.api.AUTH_MODE == "jwt"
    error_message = "with an issuer, the API function trusts the gateway's JWT authorizer"
  }
}

run "a_second_environment_in_the_same_account" {
  command = plan

  variables {
    environment            = "staging"
    create_ses_identity    = false
    manage_xray_encryption = false
  }

  assert {
    condition     = length(aws_xray_encryption_config.this) == 0
    error_message = "only one environment of an account manages X-Ray's encryption"
  }
  assert {
    condition     = startswith(aws_ssm_parameter.api_token.name, "/client-engagement-staging/")
    error_message = "every name carries the environment"
  }
}

run "a_mock_apply_at_the_defaults" {
  command = apply

  assert {
    condition     = length(output.function_names) == 8
    error_message = "every function is created"
  }
  assert {
    condition     = startswith(output.api_url, "https://")
    error_message = "the API's URL is output"
  }
}

run "rates_and_counts_must_be_whole_numbers" {
  command = plan

  variables {
    send_due_rate_minutes           = 2.5
    email_cooldown_days             = 7.5
    email_processor_max_concurrency = 4.5
  }

  expect_failures = [var.send_due_rate_minutes, var.email_cooldown_days, var.email_processor_max_concurrency]
}

run "offers_that_would_overflow_a_functions_environment_are_refused" {
  command = plan

  variables {
    allowed_offers = [for i in range(40) : "offer ${i}: ten percent off everything in the autumn sale"]
  }

  expect_failures = [var.allowed_offers]
}
