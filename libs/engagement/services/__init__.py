"""Use cases, one module each: they read and write through the adapters and apply the domain's rules."""
