variable "prefix" {
  description = "Name prefix for every resource, \"<name>-<environment>\"."
  type        = string
}

variable "function_name" {
  description = "The api function's name."
  type        = string
}

variable "function_invoke_arn" {
  description = "The api function's invoke ARN."
  type        = string
}

variable "throttling_rate_limit" {
  description = "Steady-state requests per second the API accepts."
  type        = number
  default     = 50
}

variable "throttling_burst_limit" {
  description = "Burst of requests the API accepts."
  type        = number
  default     = 100
}

variable "kms_key_arn" {
  description = "Key for the access log group."
  type        = string
}

variable "log_retention_days" {
  description = "Days CloudWatch Logs keeps the access logs."
  type        = number
  default     = 30
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}
