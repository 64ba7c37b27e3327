variable "prefix" {
  description = "Name prefix for every resource, \"<name>-<environment>\"."
  type        = string
}

variable "kms_key_arn" {
  description = "Customer-managed key for the topics and the queues."
  type        = string
}

variable "consumer_timeouts" {
  description = "Timeout in seconds of the function consuming each queue; each queue's visibility timeout is 6 times it."
  type        = map(number)

  validation {
    condition     = alltrue([for name in ["email-requests", "client-signals", "ses-feedback", "rescore-segments", "store-webhooks"] : contains(keys(var.consumer_timeouts), name)])
    error_message = "consumer_timeouts needs email-requests, client-signals, ses-feedback, rescore-segments and store-webhooks."
  }
}

variable "max_receive_count" {
  description = "Receives before a message moves to its queue's dead-letter queue."
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
