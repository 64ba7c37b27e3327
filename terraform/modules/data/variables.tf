variable "prefix" {
  description = "Name prefix for every resource, \"<name>-<environment>\"."
  type        = string
}

variable "deletion_protection" {
  description = "Protect the tables from deletion (turn off only for throwaway environments)."
  type        = bool
  default     = true
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}
