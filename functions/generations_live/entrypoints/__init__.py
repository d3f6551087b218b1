"""How the world reaches the use cases: callables, webhooks, schedules, the operator CLI."""
