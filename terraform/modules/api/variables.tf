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

variable "jwt_issuer" {
  description = "OIDC issuer URL (e.g. https://cognito-idp.<region>.amazonaws.com/<pool id>); empty: bearer token."
  type        = string
  default     = ""

  validation {
    condition     = var.jwt_issuer == "" || startswith(var.jwt_issuer, "https://")
    error_message = "jwt_issuer must be an https:// URL, or empty for the bearer token."
  }
}

variable "jwt_audience" {
  description = "Audiences (client ids) a JWT must carry when jwt_issuer is set."
  type        = list(string)
  default     = []

  validation {
    condition     = length(var.jwt_audience) <= 20
    error_message = "At most 20 audiences."
  }
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}
