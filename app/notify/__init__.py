"""Notifications: planned into the outbox with their cause, delivered at least once."""
