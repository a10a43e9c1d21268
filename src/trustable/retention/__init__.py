"""Retention: deleting what the policy no longer allows to keep, and logging it."""
