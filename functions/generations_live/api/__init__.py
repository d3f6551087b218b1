"""Thin adapters between Firebase triggers and the use cases."""
