"""Generations Live: tracking, live feed, credits and analytics for AI-generation platforms."""
