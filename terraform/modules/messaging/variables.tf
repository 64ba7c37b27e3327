variable "prefix" {
  description = "Name prefix for every resource, \"<name>-<environment>\"."
  type        = string
}

variable "kms_key_arn" {
  description = "Customer-managed key for the topic and the queues."
  type        = string
}

variable "email_function_timeout" {
  description = "The email processor's timeout in seconds; the queue's visibility timeout must be at least 6 times it."
  type        = number
  default     = 60
}

variable "email_requests_visibility_timeout" {
  description = "Seconds a received email request stays hidden: at least 6 x the email processor's timeout."
  type        = number
  default     = 360

  validation {
    condition     = var.email_requests_visibility_timeout >= 60 && var.email_requests_visibility_timeout <= 43200
    error_message = "email_requests_visibility_timeout must be between 60 and 43200 seconds."
  }
}

variable "max_receive_count" {
  description = "Receives before an email request moves to its dead-letter queue."
  type        = number
  default     = 5

  validation {
    condition     = var.max_receive_count >= 5
    error_message = "max_receive_count must be at least 5, so throttling alone never dead-letters a message."
  }
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}
