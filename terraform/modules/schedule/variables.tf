variable "name" {
  description = "The schedule's name."
  type        = string
}

variable "function_arn" {
  description = "The function the schedule invokes."
  type        = string
}

variable "rate_minutes" {
  description = "How often, in minutes."
  type        = number

  validation {
    condition     = var.rate_minutes >= 1
    error_message = "rate_minutes must be at least 1."
  }
}

variable "payload" {
  description = "The input the function receives."
  type        = any
  default     = {}
}

variable "kms_key_arn" {
  description = "Key the schedule's input is encrypted with."
  type        = string
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}
