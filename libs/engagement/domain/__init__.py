"""Business rules and data shapes: pure Python, no AWS SDK, no LLM client, no I/O."""
