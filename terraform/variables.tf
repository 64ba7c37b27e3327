variable "name" {
  description = "Project name: the first part of every resource name."
  type        = string
  default     = "client-engagement"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,30}$", var.name))
    error_message = "name must be lowercase letters, digits and hyphens, starting with a letter (2-31 characters)."
  }
}

variable "environment" {
  description = "Environment name (dev, staging, prod...): the second part of every resource name."
  type        = string
  default     = "dev"

  validation {
    condition     = can(regex("^[a-z][a-z0-9]{1,11}$", var.environment))
    error_message = "environment must be lowercase letters and digits, starting with a letter (2-12 characters)."
  }
}

variable "region" {
  description = "AWS region to deploy to."
  type        = string
  default     = "us-east-1"
}

variable "tags" {
  description = "Tags added to every resource (Project and Environment are always added)."
  type        = map(string)
  default     = {}
}

variable "dist_dir" {
  description = "Folder holding the zips `make package` builds."
  type        = string
  default     = "../dist"
}

variable "architecture" {
  description = "Lambda architecture; the layer in dist/ must be built for it (make package ARCH=...)."
  type        = string
  default     = "arm64"

  validation {
    condition     = contains(["arm64", "x86_64"], var.architecture)
    error_message = "architecture must be arm64 or x86_64."
  }
}

variable "log_retention_days" {
  description = "Days CloudWatch Logs keeps function and access logs."
  type        = number
  default     = 30

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be one of the values CloudWatch Logs accepts (1, 3, 5, 7, 14, 30, 60, 90, ...)."
  }
}

variable "log_level" {
  description = "Log level of every function: DEBUG, INFO, WARNING or ERROR."
  type        = string
  default     = "INFO"
}

variable "email_cooldown_days" {
  description = "At most one win-back email per client within this many days."
  type        = number
  default     = 7

  validation {
    condition     = var.email_cooldown_days >= 1 && var.email_cooldown_days <= 365 && floor(var.email_cooldown_days) == var.email_cooldown_days
    error_message = "email_cooldown_days must be a whole number of days between 1 and 365."
  }
}

variable "unsubscribe_key_overlap_days" {
  description = "After the unsubscribe key is rotated, links signed with the previous key still work for this many days."
  type        = number
  default     = 60

  validation {
    condition     = var.unsubscribe_key_overlap_days >= 1 && var.unsubscribe_key_overlap_days <= 365 && floor(var.unsubscribe_key_overlap_days) == var.unsubscribe_key_overlap_days
    error_message = "unsubscribe_key_overlap_days must be a whole number of days between 1 and 365."
  }
}

variable "brand_name" {
  description = "The sender's brand, as emails name it."
  type        = string
}

variable "shop_url" {
  description = "Where an email's call to action leads (https)."
  type        = string

  validation {
    condition     = startswith(var.shop_url, "https://")
    error_message = "shop_url must start with https://."
  }
}

variable "shop_currency" {
  description = "The ISO 4217 code of the currency the shop's orders and prices are in (amounts are added up)."
  type        = string
  default     = "USD"

  validation {
    condition     = can(regex("^[A-Z]{3}$", var.shop_currency))
    error_message = "shop_currency must be an ISO 4217 code such as USD, EUR or GBP."
  }
}

variable "image_domains" {
  description = "Hosts a product's picture may be on besides the shop's own domain (the store's CDN)."
  type        = list(string)
  default     = ["cdn.shopify.com"]
}

variable "postal_address" {
  description = "The sender's postal address, which commercial email must carry."
  type        = string
}

variable "email_processor_max_concurrency" {
  description = "Most concurrent email processors (keep under the LLM provider's rate limit); 2 to 1000."
  type        = number
  default     = 5

  validation {
    condition     = var.email_processor_max_concurrency >= 2 && var.email_processor_max_concurrency <= 1000 && floor(var.email_processor_max_concurrency) == var.email_processor_max_concurrency
    error_message = "email_processor_max_concurrency must be a whole number between 2 and 1000 (the SQS mapping's limits)."
  }
}

variable "api_throttling_rate_limit" {
  description = "Steady-state requests per second the HTTP API accepts."
  type        = number
  default     = 50
}

variable "api_throttling_burst_limit" {
  description = "Burst of requests the HTTP API accepts."
  type        = number
  default     = 100

  validation {
    condition     = var.api_throttling_burst_limit >= 1 && floor(var.api_throttling_burst_limit) == var.api_throttling_burst_limit
    error_message = "api_throttling_burst_limit must be a whole number of requests, at least 1."
  }
}

variable "alert_email" {
  description = "Email address alarms notify (it must confirm the subscription); empty for none."
  type        = string
  default     = ""
}

variable "deletion_protection" {
  description = "Protect the tables from deletion; set false only for an environment you will destroy."
  type        = bool
  default     = true
}

variable "llm_base_url" {
  description = "OpenAI-compatible endpoint the LLM writer calls (the key is the SSM parameter openrouter-api-key)."
  type        = string
  default     = "https://openrouter.ai/api/v1"
}

variable "llm_model" {
  description = "Model the LLM writer asks for; it must support structured outputs (json_schema)."
  type        = string
  default     = "openai/gpt-4o-mini"
}

variable "allowed_offers" {
  description = "Offers an LLM-written email may mention, word for word (none by default: no offers at all)."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for offer in var.allowed_offers : !strcontains(offer, ",")])
    error_message = "An allowed offer cannot contain a comma."
  }

  validation { # they travel in the functions' environment, which Lambda limits to 4 KB in all
    condition     = length(join(",", var.allowed_offers)) <= 1500
    error_message = "allowed_offers may hold at most 1,500 characters in all (Lambda's environment is limited to 4 KB)."
  }
}

variable "sender_email" {
  description = "The address emails come from; its domain becomes the SES identity (add the DKIM records it outputs)."
  type        = string
}

variable "delivery_mode" {
  description = "review: a person approves each draft; auto: drafts that pass the guardrails go out at once."
  type        = string
  default     = "review"

  validation {
    condition     = contains(["review", "auto"], var.delivery_mode)
    error_message = "delivery_mode must be review or auto."
  }
}

variable "frequency_cap" {
  description = "At most this many win-back emails per client per rolling 30 days (beyond the cooldown)."
  type        = number
  default     = 2

  validation {
    condition     = var.frequency_cap >= 1 && var.frequency_cap <= 100 && floor(var.frequency_cap) == var.frequency_cap
    error_message = "frequency_cap must be a whole number between 1 and 100."
  }
}

variable "holdout_percent" {
  description = "Share of eligible clients held out (no email, a held_out decision) to measure lift; 10 is typical."
  type        = number
  default     = 0

  validation {
    condition     = var.holdout_percent >= 0 && var.holdout_percent <= 50
    error_message = "holdout_percent must be between 0 and 50."
  }
}

variable "sending_window_start" {
  description = "Local time (HH:MM) in the client's time zone from which email may be sent."
  type        = string
  default     = "09:00"
}

variable "sending_window_end" {
  description = "Local time (HH:MM) in the client's time zone until which email may be sent."
  type        = string
  default     = "20:00"
}

variable "send_due_rate_minutes" {
  description = "How often the scheduled sender looks for emails that are due, in whole minutes."
  type        = number
  default     = 5

  validation {
    condition     = var.send_due_rate_minutes >= 1 && var.send_due_rate_minutes <= 1440 && floor(var.send_due_rate_minutes) == var.send_due_rate_minutes
    error_message = "send_due_rate_minutes must be a whole number of minutes between 1 and 1440."
  }
}

variable "jwt_issuer" {
  description = "OIDC issuer for a JWT authorizer on /api/* (Cognito user pool or any OIDC provider); empty: bearer token."
  type        = string
  default     = ""
}

variable "jwt_audience" {
  description = "Audiences (app client ids) accepted when jwt_issuer is set."
  type        = list(string)
  default     = []

  validation {
    condition     = var.jwt_issuer == "" || length(var.jwt_audience) > 0
    error_message = "With jwt_issuer set, name at least one audience (the app client id)."
  }
}

variable "rescore_schedule" {
  description = "When the rescoring sweep runs, as an EventBridge Scheduler expression in UTC (daily at 03:00 by default)."
  type        = string
  default     = "cron(0 3 * * ? *)"

  validation {
    condition     = can(regex("^(rate|cron)\\(.+\\)$", var.rescore_schedule))
    error_message = "rescore_schedule must be an EventBridge Scheduler rate(...) or cron(...) expression."
  }
}

variable "rescore_segments" {
  description = "Parallel-scan segments of the rescoring sweep: one queued task each (4 run at once)."
  type        = number
  default     = 4

  validation {
    condition     = var.rescore_segments >= 1 && var.rescore_segments <= 1000 && floor(var.rescore_segments) == var.rescore_segments
    error_message = "rescore_segments must be a whole number between 1 and 1000."
  }
}

variable "churn_model" {
  description = "The churn model the weekly fit uses: mbgnbd (a one-time buyer can lapse) or bgnbd (Fader et al. 2005)."
  type        = string
  default     = "mbgnbd"

  validation {
    condition     = contains(["mbgnbd", "bgnbd"], var.churn_model)
    error_message = "churn_model must be mbgnbd or bgnbd."
  }
}

variable "churn_min_repeat_buyers" {
  description = "Clients with a repeat order the churn model needs; with fewer, the rule score stays in use."
  type        = number
  default     = 200

  validation {
    condition     = var.churn_min_repeat_buyers >= 1 && floor(var.churn_min_repeat_buyers) == var.churn_min_repeat_buyers
    error_message = "churn_min_repeat_buyers must be a whole number of at least 1."
  }
}

variable "churn_refit_days" {
  description = "Days between fits of the churn model (the daily sweep refits when the stored one is this old)."
  type        = number
  default     = 7

  validation {
    condition     = var.churn_refit_days > 0 && var.churn_refit_days <= 365
    error_message = "churn_refit_days must be more than 0 and at most 365."
  }
}

variable "churn_max_clients" {
  description = "Clients the churn model is fitted on at most: a uniform sample of them when there are more."
  type        = number
  default     = 50000

  validation {
    condition     = var.churn_max_clients >= 100 && var.churn_max_clients <= 1000000 && floor(var.churn_max_clients) == var.churn_max_clients
    error_message = "churn_max_clients must be a whole number between 100 and 1000000."
  }
}

variable "winback_attempts" {
  description = "Win-back emails per lapse (from a client's last order) before the sweep stops asking for another."
  type        = number
  default     = 3

  validation {
    condition     = var.winback_attempts >= 1 && var.winback_attempts <= 10 && floor(var.winback_attempts) == var.winback_attempts
    error_message = "winback_attempts must be a whole number between 1 and 10."
  }
}

variable "xray_tracing" {
  description = "Trace every function with X-Ray. false: no traces, and each cold start skips the tracer's import (about 0.3 s)."
  type        = bool
  default     = true
}

variable "manage_xray_encryption" {
  description = "Encrypt X-Ray traces with this environment's key. One setting per account and region: true in exactly one environment of each."
  type        = bool
  default     = true
}

variable "create_ses_identity" {
  description = "Create the sender domain's SES identity. One per account and region: true in one environment (the longest-lived), false in the others, which use it."
  type        = bool
  default     = true
}
