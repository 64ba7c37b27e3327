"""Everything that talks to AWS: boto3 clients, DynamoDB repositories, SNS/SQS, SES, SSM, CloudWatch."""
