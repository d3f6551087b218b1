"""The use cases: each runs the domain rules against the adapters."""
