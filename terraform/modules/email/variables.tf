variable "prefix" {
  description = "Name prefix for every resource, \"<name>-<environment>\"."
  type        = string
}

variable "sender_email" {
  description = "The address emails come from; its domain becomes the SES identity (verify it with the DKIM records)."
  type        = string

  validation {
    condition     = can(regex("^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$", var.sender_email))
    error_message = "sender_email must be an email address."
  }
}

variable "create_identity" {
  description = "Create the sending domain's SES identity (one per account and region); false looks up an existing one."
  type        = bool
  default     = true
}

variable "feedback_topic_arn" {
  description = "Topic SES publishes bounces and complaints to."
  type        = string
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}
