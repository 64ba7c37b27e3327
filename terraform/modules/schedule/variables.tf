variable "name" {
  description = "The schedule's name."
  type        = string
}

variable "function_arn" {
  description = "The function the schedule invokes."
  type        = string
}

variable "rate_minutes" {
  description = "How often, in minutes (or schedule_expression instead)."
  type        = number
  default     = null

  validation {
    condition     = coalesce(var.rate_minutes, 1) >= 1 && floor(coalesce(var.rate_minutes, 1)) == coalesce(var.rate_minutes, 1)
    error_message = "rate_minutes must be a whole number of minutes, at least 1 (EventBridge rates are whole)."
  }
}

variable "schedule_expression" {
  description = "When, as EventBridge Scheduler's rate(...) or cron(...) expression, in UTC (or rate_minutes instead)."
  type        = string
  default     = null

  validation {
    condition     = var.schedule_expression == null || can(regex("^(rate|cron)\\(.+\\)$", var.schedule_expression))
    error_message = "schedule_expression must be rate(...) or cron(...)."
  }

  validation {
    condition     = (var.schedule_expression == null) != (var.rate_minutes == null)
    error_message = "Set exactly one of rate_minutes and schedule_expression."
  }
}

variable "payload" {
  description = "The input the function receives."
  type        = any
  default     = {}
}

variable "dead_letter_queue" {
  description = "Keep invocations the scheduler could not deliver, after its retries, in a dead-letter queue of its own."
  type        = bool
  default     = false
}

variable "kms_key_arn" {
  description = "Key the schedule's input (and its dead-letter queue) is encrypted with."
  type        = string
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}
