variable "name" {
  description = "Function name (the prefix and the function's folder name)."
  type        = string
}

variable "service_name" {
  description = "POWERTOOLS_SERVICE_NAME: the function's folder name, as in the local mode."
  type        = string
}

variable "description" {
  description = "What the function does."
  type        = string
}

variable "package_path" {
  description = "Path of the function's zip (built by `make package`)."
  type        = string
}

variable "handler" {
  description = "Module and function Lambda calls."
  type        = string
  default     = "handler.lambda_handler"
}

variable "runtime" {
  description = "Lambda runtime."
  type        = string
  default     = "python3.12"
}

variable "architecture" {
  description = "arm64 or x86_64; must match the layer's build."
  type        = string
  default     = "arm64"

  validation {
    condition     = contains(["arm64", "x86_64"], var.architecture)
    error_message = "architecture must be arm64 or x86_64."
  }
}

variable "memory_size" {
  description = "Memory in MB (CPU grows with it)."
  type        = number
  default     = 256
}

variable "timeout" {
  description = "Timeout in seconds."
  type        = number
  default     = 30
}

variable "reserved_concurrency" {
  description = "Reserved concurrent executions; -1 for no reservation."
  type        = number
  default     = -1
}

variable "layers" {
  description = "Layer version ARNs (the shared engagement layer)."
  type        = list(string)
  default     = []
}

variable "environment" {
  description = "Environment variables (no secrets: secrets are read from SSM)."
  type        = map(string)
  default     = {}
}

variable "policy_json" {
  description = "The function's least-privilege policy (logs and X-Ray are added here)."
  type        = string
}

variable "kms_key_arn" {
  description = "Key for the log group and the environment variables."
  type        = string
}

variable "xray_tracing" {
  description = "Trace with X-Ray (tracing mode Active). false: PassThrough, and the function skips the tracer's import (about 0.3 s of each cold start)."
  type        = bool
  default     = true
}

variable "log_retention_days" {
  description = "Days CloudWatch Logs keeps the function's logs."
  type        = number
  default     = 30
}

variable "log_level" {
  description = "POWERTOOLS_LOG_LEVEL: DEBUG, INFO, WARNING or ERROR."
  type        = string
  default     = "INFO"

  validation {
    condition     = contains(["DEBUG", "INFO", "WARNING", "ERROR"], var.log_level)
    error_message = "log_level must be DEBUG, INFO, WARNING or ERROR."
  }
}

variable "metrics_namespace" {
  description = "CloudWatch namespace of the function's metrics."
  type        = string
  default     = "ClientEngagement"
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}
