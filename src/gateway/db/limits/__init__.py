"""Sliding-window counters for rate limits: in process, or in Redis."""
