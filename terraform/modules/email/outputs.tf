output "configuration_set_name" {
  description = "The configuration set every email is sent through."
  value       = aws_sesv2_configuration_set.this.configuration_set_name
}

output "configuration_set_arn" {
  description = "The configuration set's ARN (SendEmail needs it)."
  value       = aws_sesv2_configuration_set.this.arn
}

output "identity_arn" {
  description = "The sending domain's SES identity."
  value       = aws_sesv2_email_identity.this.arn
}

output "dkim_records" {
  description = "CNAME records to add to the sending domain's DNS (name => value)."
  value = {
    for token in aws_sesv2_email_identity.this.dkim_signing_attributes[0].tokens :
    "${token}._domainkey.${local.sender_domain}" => "${token}.dkim.amazonses.com"
  }
}
