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
  value       = local.identity.arn
}

output "identities_arn" {
  description = "Every SES identity of the account and region: in the SES sandbox a send is also checked against the recipient's identity, so a send policy names them all and conditions on the sender (ses:FromAddress)."
  value       = "arn:${data.aws_partition.current.partition}:ses:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}:identity/*"
}

output "dkim_records" {
  description = "CNAME records to add to the sending domain's DNS (name => value)."
  value = {
    for token in try(local.identity.dkim_signing_attributes[0].tokens, []) :
    "${token}._domainkey.${local.sender_domain}" => "${token}.dkim.amazonses.com"
  }
}
