"""What tests share: a fixed clock, building handlers' services with test parts, API requests, messages."""
