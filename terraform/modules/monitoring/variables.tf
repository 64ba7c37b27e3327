variable "prefix" {
  description = "Name prefix for every resource, \"<name>-<environment>\"."
  type        = string
}

variable "kms_key_arn" {
  description = "Key for the alerts topic."
  type        = string
}

variable "alert_email" {
  description = "Where alarms are emailed (the address must confirm the subscription); empty for none."
  type        = string
  default     = ""
}

variable "function_names" {
  description = "Functions to alarm on errors and throttles, by logical name."
  type        = map(string)
}

variable "dead_letter_queue_names" {
  description = "Dead-letter queues to alarm on as soon as they hold a message, by logical name."
  type        = map(string)
}

variable "schedule_dead_letter_queue_names" {
  description = "Schedules' dead-letter queues (runs the scheduler could not deliver) to alarm on, by logical name."
  type        = map(string)
  default     = {}
}

variable "stream_function_name" {
  description = "The function reading the users stream (iterator age alarm)."
  type        = string
}

variable "iterator_age_threshold_ms" {
  description = "Alarm when the stream processor falls this far behind (milliseconds)."
  type        = number
  default     = 60000
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}

variable "email_service_name" {
  description = "The email processor's service name (the dimension of its metrics)."
  type        = string
}

variable "rescore_service_name" {
  description = "The rescoring sweep's service name (the dimension of its metrics)."
  type        = string
}

variable "metrics_namespace" {
  description = "Namespace of the functions' own metrics."
  type        = string
  default     = "ClientEngagement"
}

variable "fallback_alarm_threshold" {
  description = "Alarm when more LLM emails than this fall back to the template within 15 minutes."
  type        = number
  default     = 5
}

variable "configuration_set_name" {
  description = "SES configuration set whose reputation (bounce and complaint rates) is watched."
  type        = string
}

variable "bounce_rate_threshold" {
  description = "Alarm above this bounce rate (SES reviews accounts above 5%)."
  type        = number
  default     = 0.04
}

variable "complaint_rate_threshold" {
  description = "Alarm above this complaint rate (SES reviews accounts above 0.1%)."
  type        = number
  default     = 0.0008
}
